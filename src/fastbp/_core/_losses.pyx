"""Output activations and losses, computed from the logits so nothing overflows or takes log(0).

`loss_and_delta` writes, per row of a block, the loss into a vector and (y_hat - y) * w_i * scale into
the delta. The caller sums the row losses in row order, so the total does not depend on how row blocks
were spread over threads.
"""

from libc.math cimport exp, fabs, log, log1p

from fastbp._core._activations cimport exp_sweep, sigmoid

cdef enum:
    SOFTMAX_CHUNK = 256   # entries of a row per vectorized exp sweep of the softmax; the scratch is on the stack

# The output and loss tables' codes by name, for the Python layer (which validates names, never codes).
OUTPUTS = {"identity": OUT_IDENTITY, "logistic": OUT_LOGISTIC, "softmax": OUT_SOFTMAX, "exp": OUT_EXP}
LOSSES = {"natural": LOSS_NATURAL, "huber": LOSS_HUBER, "absolute_error": LOSS_ABSOLUTE}


cdef inline double log1pexp(double z) noexcept nogil:
    # softplus(z) = log(1 + e^z): for z > 0 write it as z + log(1 + e^-z) so e^z never overflows.
    if z > 0:
        return z + log1p(exp(-z))
    return log1p(exp(z))


cdef inline double xlogy(double x, double y) noexcept nogil:
    # x log y with 0 log 0 = 0, as the Poisson deviance needs for zero counts.
    return 0.0 if x == 0 else x * log(y)


cdef inline double row_max(const floating* z, Py_ssize_t k) noexcept nogil:
    # Softmax subtracts the row maximum so every exp() is at most 1.
    cdef Py_ssize_t j
    cdef double zmax = z[0]
    for j in range(1, k):
        if z[j] > zmax:
            zmax = z[j]
    return zmax


cdef inline void exp_shifted(const floating* z, Py_ssize_t first, Py_ssize_t count, double zmax,
                             double* e_out) noexcept nogil:
    """e_out[:count] <- exp(z[first:first + count] - zmax), each <= 1, in one vectorized sweep."""
    cdef Py_ssize_t j
    for j in range(count):
        e_out[j] = z[first + j] - zmax
    exp_sweep(e_out, count)


cdef inline double softmax_sum(const floating* z, Py_ssize_t k, double zmax, double* e_out) noexcept nogil:
    """sum_j exp(z_j - zmax), a chunk of SOFTMAX_CHUNK at a time; e_out keeps the last chunk's exps, which
    are all of them when k <= SOFTMAX_CHUNK. The softmax is then exp(z - zmax) / sum, as scikit-learn
    computes it."""
    cdef Py_ssize_t first, j, count
    cdef double total = 0
    first = 0
    while first < k:
        count = min(<Py_ssize_t> SOFTMAX_CHUNK, k - first)
        exp_shifted(z, first, count, zmax, e_out)
        for j in range(count):
            total += e_out[j]
        first += count
    return total


cdef inline double smoothed(const floating* y, Py_ssize_t j, double smoothing, double share) noexcept nogil:
    # y_j, or with label smoothing y_j (1 - e) + e share; without it the target is used as it is, bit for bit.
    return y[j] if smoothing == 0 else y[j] * (1 - smoothing) + smoothing * share


cdef inline double softmax_row(const floating* z, const floating* y, Py_ssize_t k, floating* out,
                               double smoothing) noexcept nogil:
    """out (k,) <- softmax(z) - y, or softmax(z) when y is NULL; returns the cross-entropy
    sum_j y_j (log-sum-exp(z) - z_j) (0 without y), y smoothed by `smoothing`. out may be z itself."""
    cdef Py_ssize_t j, first = 0, count
    cdef double e[SOFTMAX_CHUNK]
    cdef double zmax = row_max(z, k), loss = 0, lse, target
    cdef double total = softmax_sum(z, k, zmax, e)
    lse = zmax + log(total)
    while first < k:
        count = min(<Py_ssize_t> SOFTMAX_CHUNK, k - first)
        if k > SOFTMAX_CHUNK:  # else softmax_sum left every exp in e
            exp_shifted(z, first, count, zmax, e)
        for j in range(count):
            if y == NULL:
                out[first + j] = <floating> (e[j] / total)
            else:
                target = smoothed(y, first + j, smoothing, 1.0 / k)
                loss += target * (lse - z[first + j])
                out[first + j] = <floating> (e[j] / total - target)
        first += count
    return loss


cdef inline double row_loss_delta(Output output, const LossSpec* spec, const floating* z, const floating* y,
                                  floating* delta, Py_ssize_t k) noexcept nogil:
    """Loss of one row from its logits z (k,); writes dL/dz into delta (k,): y_hat - y for the natural losses."""
    cdef Py_ssize_t j
    cdef double loss = 0, d, target, h = spec.huber_delta
    if output == OUT_LOGISTIC and spec.smoothing == 0:
        for j in range(k):
            loss += log1pexp(z[j]) - y[j] * z[j]
            delta[j] = <floating> (sigmoid(z[j]) - y[j])
    elif output == OUT_LOGISTIC:
        for j in range(k):
            target = smoothed(y, j, spec.smoothing, 0.5)
            loss += log1pexp(z[j]) - target * z[j]
            delta[j] = <floating> (sigmoid(z[j]) - target)
    elif output == OUT_SOFTMAX:
        loss = softmax_row(z, y, k, delta, spec.smoothing)
    elif output == OUT_EXP:
        for j in range(k):
            # y_hat in the model's dtype, as `output_activation` gives it: where exp(z) overflows float32,
            # the loss is then infinite like the delta, not the finite double value.
            d = <floating> exp(z[j])
            loss += d - y[j] * z[j] + xlogy(y[j], y[j]) - y[j]
            delta[j] = <floating> (d - y[j])
    elif spec.loss == LOSS_HUBER:
        for j in range(k):
            d = z[j] - y[j]
            if fabs(d) <= h:
                loss += 0.5 * d * d
                delta[j] = <floating> d
            else:
                loss += h * (fabs(d) - 0.5 * h)
                delta[j] = <floating> (h if d > 0 else -h)
    elif spec.loss == LOSS_ABSOLUTE:
        for j in range(k):
            d = z[j] - y[j]
            loss += fabs(d)
            delta[j] = <floating> (1 if d > 0 else (-1 if d < 0 else 0))
    else:
        for j in range(k):
            d = z[j] - y[j]
            loss += 0.5 * d * d
            delta[j] = <floating> d
    return loss


cdef void loss_and_delta(Output output, const LossSpec* spec, const Targets* rows, double scale, floating* delta_out,
                         double* row_loss_out) noexcept nogil:
    """row_loss_out (n_rows,) <- L_i (unweighted); delta_out (n_rows, n_outputs) <- (y_hat_i - y_i) * w_i * scale,
    for the block `rows`."""
    cdef Py_ssize_t i, j
    cdef Py_ssize_t k = rows.n_outputs
    cdef double w
    cdef floating* delta_row
    cdef const floating* z = <const floating*> rows.z
    cdef const floating* y = <const floating*> rows.y
    cdef const floating* sample_weight = <const floating*> rows.sample_weight
    for i in range(rows.n_rows):
        delta_row = delta_out + i * k
        row_loss_out[i] = row_loss_delta(output, spec, z + i * k, y + i * k, delta_row, k)
        w = scale if sample_weight == NULL else sample_weight[i] * scale
        for j in range(k):
            delta_row[j] = <floating> (delta_row[j] * w)


cdef void output_activation(Output output, floating* z, Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """z (n_rows, n_cols) <- y_hat, in place."""
    cdef Py_ssize_t i, j
    cdef floating* row
    if output == OUT_IDENTITY:
        return
    for i in range(n_rows):
        row = z + i * n_cols
        if output == OUT_LOGISTIC:
            for j in range(n_cols):
                row[j] = <floating> sigmoid(row[j])
        elif output == OUT_EXP:
            for j in range(n_cols):
                row[j] = <floating> exp(row[j])
        else:
            softmax_row(row, NULL, n_cols, row, 0)
