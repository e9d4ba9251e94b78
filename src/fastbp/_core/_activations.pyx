"""Elementwise passes of the hidden layers, in place over a row-major (n_rows, n_cols) block.

The forward pass fuses the bias into the activation (one sweep over the GEMM output); the backward pass
multiplies the back-propagated delta by f'(a), or by the factor (f'(z) and the dropout mask) that a training
forward pass kept for the layers that need one. These run serially on the block of rows they are given:
`_network` decides how blocks are spread over threads.
"""

from libc.stdint cimport uint32_t, uint64_t

from fastbp._core._masks cimport row_key


cdef extern from "_vecmath.h":
    void fastbp_vecmath_init() noexcept nogil
    int fastbp_vecmath_level() noexcept nogil
    int fastbp_vecmath_best_level() noexcept nogil
    void fastbp_vecmath_set_level(int level) noexcept nogil
    void fastbp_exp_nonpositive_d(double* x, Py_ssize_t n) noexcept nogil
    void fastbp_exp_nonpositive_f(float* x, Py_ssize_t n) noexcept nogil
    void fastbp_bias_sigmoid_d(double* z, const double* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               Py_ssize_t ld) noexcept nogil
    void fastbp_bias_sigmoid_f(float* z, const float* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               Py_ssize_t ld) noexcept nogil
    void fastbp_gelu_d(double* x, double* derivative, Py_ssize_t n) noexcept nogil
    void fastbp_mask_bits(uint64_t row_key, uint32_t first_unit, Py_ssize_t n, uint32_t* bits) noexcept nogil
    void fastbp_drop_d(double* x, const uint32_t* bits, Py_ssize_t n, uint32_t threshold, double scale) noexcept nogil
    void fastbp_drop_f(float* x, const uint32_t* bits, Py_ssize_t n, uint32_t threshold, double scale) noexcept nogil

fastbp_vecmath_init()

# The activation table's codes by name, for the Python layer (which validates names, never codes).
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU, "leaky_relu": LEAKY_RELU,
               "elu": ELU, "selu": SELU, "softplus": SOFTPLUS, "gelu": GELU, "gelu_tanh": GELU_TANH, "silu": SILU,
               "mish": MISH}

# The copies of the vectorized exp, narrowest first (the levels of `_vecmath.h`).
VECMATH_PATHS = ("portable", "avx2", "avx512")


def vecmath_path(path=None):
    """The copy of the vectorized exp in use: "portable", "avx2" (AVX2 + FMA) or "avx512".

    Given a path, use it, or the widest one this CPU runs if that is narrower (for tests; not while the
    core runs in another thread).
    """
    if path is not None:
        fastbp_vecmath_set_level(VECMATH_PATHS.index(path))
    return VECMATH_PATHS[fastbp_vecmath_level()]


def vecmath_paths():
    """Every copy of the vectorized exp this CPU runs, narrowest first."""
    return VECMATH_PATHS[:fastbp_vecmath_best_level() + 1]


def exp_nonpositive(floating[::1] x):
    """x <- exp(x) in place, for a 1-D array with every entry <= 0: the exp the logistic layers use."""
    if x.shape[0]:
        with nogil:
            exp_nonpositive_inplace(&x[0], x.shape[0])


def gelu(double[::1] x, double[::1] derivative):
    """x <- gelu(x) and derivative <- gelu'(x), in place, with the vectorized kernel the GELU layers run (for
    its tests)."""
    if derivative.shape[0] != x.shape[0]:
        raise ValueError("x and derivative must have the same length")
    with nogil:
        fastbp_gelu_d(&x[0], &derivative[0], x.shape[0])


cdef void exp_sweep(double* x, Py_ssize_t n) noexcept nogil:
    """x <- exp(x) over n entries, each <= 0, with the vectorized exp (for the softmax of `_losses`)."""
    fastbp_exp_nonpositive_d(x, n)


cdef inline void exp_nonpositive_inplace(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastbp_exp_nonpositive_f(x, n)
    else:
        fastbp_exp_nonpositive_d(x, n)


cdef enum:
    RUN = 256   # units per run of a row that the vectorized kernels and the mask bits take at a time


cdef void bias_gelu(floating* z, const floating* bias, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """z <- gelu(z + bias) with `_vecmath.h`'s vectorized GELU, in double, a run of each row at a time."""
    cdef Py_ssize_t i, j, start, count
    cdef floating* row
    cdef double x[RUN]
    for i in range(n_rows):
        row = z + i * ld
        start = 0
        while start < n_cols:
            count = min(<Py_ssize_t> RUN, n_cols - start)
            for j in range(count):
                x[j] = row[start + j] + bias[start + j]
            fastbp_gelu_d(x, NULL, count)
            for j in range(count):
                row[start + j] = <floating> x[j]
            start += count


cdef void bias_activation(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """z (n_rows, n_cols), leading dimension ld, <- f(z + bias), bias (n_cols,)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    if act == LOGISTIC:  # vectorized, in `_vecmath.h`
        if floating is float:
            fastbp_bias_sigmoid_f(z, bias, n_rows, n_cols, ld)
        else:
            fastbp_bias_sigmoid_d(z, bias, n_rows, n_cols, ld)
        return
    if act == GELU:  # vectorized too
        bias_gelu(z, bias, n_rows, n_cols, ld)
        return
    # One loop per activation, so that each inlines to a branch-free body the compiler vectorizes.
    for i in range(n_rows):
        row = z + i * ld
        if act == RELU:
            for j in range(n_cols):
                row[j] = activate(RELU, row[j] + bias[j])
        elif act == TANH:
            for j in range(n_cols):
                row[j] = activate(TANH, row[j] + bias[j])
        elif act == IDENTITY:
            for j in range(n_cols):
                row[j] = row[j] + bias[j]
        else:
            for j in range(n_cols):
                row[j] = activate(act, row[j] + bias[j])


cdef inline void drop(floating* x, const uint32_t* bits, Py_ssize_t n, uint32_t threshold, double scale) noexcept nogil:
    """x (n,) <- x times scale where bits are below threshold, else times 0 (`_vecmath.h`'s vectorized copies)."""
    if floating is float:
        fastbp_drop_f(x, bits, n, threshold, scale)
    else:
        fastbp_drop_d(x, bits, n, threshold, scale)


cdef inline void derivative_run(Activation act, const floating* a, floating* out, Py_ssize_t n) noexcept nogil:
    """out (n,) <- f'(a) for an activation that takes f' from its output a (n,): one loop per activation, with no
    branch inside, so that each vectorizes."""
    cdef Py_ssize_t j
    if act == RELU:
        for j in range(n):
            out[j] = 1 if a[j] > 0 else 0
    elif act == LOGISTIC:
        for j in range(n):
            out[j] = derivative(LOGISTIC, a[j])
    elif act == TANH:
        for j in range(n):
            out[j] = derivative(TANH, a[j])
    elif act == LEAKY_RELU:
        for j in range(n):
            out[j] = derivative(LEAKY_RELU, a[j])
    else:
        for j in range(n):
            out[j] = derivative(act, a[j])


cdef void activation_block(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                           Py_ssize_t ld, const MaskBlock* mask, floating* factor_out) noexcept nogil:
    """z (n_rows, n_cols), leading dimension ld, <- f(z + bias) of a training pass, with the mask's dropout
    applied, and factor_out (the same shape) <- f'(z) times the mask's factor (0, or 1 / (1 - rate) for a
    kept unit): what the backward pass multiplies the delta by. Without factor_out, the activations alone
    (with the mask's dropout: a forward pass of the objective); with neither, `bias_activation`.

    Activations that take f' from their output run their `bias_activation` sweep first (the vectorized
    logistic among them) and make the factor from a in a second one; the others do both from z at once. The
    mask's bits are hashed a run of RUN units at a time, apart from the arithmetic, by `_vecmath.h`'s vectorized
    copies (a 32-bit multiply, which the portable SSE2 build has not, is most of the hashing).
    """
    cdef Py_ssize_t i, j, start, count
    cdef floating* row
    cdef floating* g
    cdef double x, derivative_z_value, s = 1, scale = 0
    cdef uint64_t key = 0
    cdef uint32_t threshold = 0
    cdef uint32_t bits[RUN]
    cdef double x_run[RUN]
    cdef double derivative_run_values[RUN]
    cdef bint masked = mask != NULL and mask.active
    if factor_out == NULL or from_output(act):
        bias_activation(act, z, bias, n_rows, n_cols, ld)
        if not masked and factor_out == NULL:
            return
    if masked:
        # An active mask drops some units: its threshold is below 2^32, so it fits the bits' 32-bit compare.
        threshold, scale = <uint32_t> mask.threshold, mask.scale
    for i in range(n_rows):
        row = z + i * ld
        g = factor_out + i * ld
        if masked:
            key = row_key(mask.key, <uint64_t> (mask.first_row + i))
        start = 0
        while start < n_cols:
            count = min(<Py_ssize_t> RUN, n_cols - start)
            if masked:
                fastbp_mask_bits(key, <uint32_t> (mask.first_col + start), count, bits)
            if factor_out == NULL:  # a forward pass of the objective alone: the mask without the factor
                drop(row + start, bits, count, threshold, scale)
            elif from_output(act):
                derivative_run(act, row + start, g + start, count)
                if masked:
                    drop(g + start, bits, count, threshold, scale)
                    drop(row + start, bits, count, threshold, scale)
            elif act == GELU:  # the vectorized kernel, in double, then the mask
                for j in range(start, start + count):
                    x_run[j - start] = row[j] + bias[j]
                fastbp_gelu_d(x_run, derivative_run_values, count)
                for j in range(start, start + count):
                    if masked:
                        s = scale if bits[j - start] < threshold else 0
                    row[j] = <floating> (x_run[j - start] * s)
                    g[j] = <floating> (derivative_run_values[j - start] * s)
            else:
                for j in range(start, start + count):
                    if masked:
                        s = scale if bits[j - start] < threshold else 0
                    x = row[j] + bias[j]
                    row[j] = <floating> (activate_pair(act, x, &derivative_z_value) * s)
                    g[j] = <floating> (derivative_z_value * s)
            start += count


cdef void mul_factor(floating* delta, const floating* factor, Py_ssize_t n_rows, Py_ssize_t n_cols,
                     Py_ssize_t ld) noexcept nogil:
    """delta (n_rows, n_cols) <- delta * factor, both with leading dimension ld: a layer's f'(z) and dropout,
    which `activation_block` kept."""
    cdef Py_ssize_t i, j
    cdef floating* d
    cdef const floating* f
    for i in range(n_rows):
        d = delta + i * ld
        f = factor + i * ld
        for j in range(n_cols):
            d[j] = d[j] * f[j]


cdef enum:
    RELU_CHUNK = 256   # columns per sweep of relu's `mul_derivative`: its 0/1 factors live on the stack


cdef void mul_derivative(Activation act, floating* delta, const floating* a, Py_ssize_t n_rows,
                         Py_ssize_t n_cols, Py_ssize_t ld, double kept_scale) noexcept nogil:
    """delta (n_rows, n_cols) <- delta * f'(a), a the activation output of the same shape; both with
    leading dimension ld. kept_scale: ReLU's dropout, 1 / (1 - rate) in a training pass that dropped the
    layer's units, else 1: its factor is then kept_scale where a > 0 and 0 elsewhere, which is bit for bit
    the factor `activation_block` would have kept (a dropped or non-positive unit has a = 0, a kept positive
    one a > 0), without writing it in the forward pass and reading it back.

    One loop per activation with no call or branch inside, so the compiler vectorizes each (a shared loop
    over `derivative` was not). ReLU multiplies by its factor, as the reference does, so a NaN or infinite
    delta gives NaN where a <= 0 (choosing between delta and 0 would drop it). The factors go through a
    scratch row first: GCC does not vectorize a select whose other side is arithmetic.
    """
    cdef floating factor[RELU_CHUNK]
    cdef floating kept = <floating> kept_scale
    cdef Py_ssize_t i, j, start, count
    cdef floating* d
    cdef const floating* x
    if act == IDENTITY:
        return
    for i in range(n_rows):
        d = delta + i * ld
        x = a + i * ld
        if act == LOGISTIC:
            for j in range(n_cols):
                d[j] = d[j] * (x[j] * (1 - x[j]))
        elif act == TANH:
            for j in range(n_cols):
                d[j] = d[j] * (1 - x[j] * x[j])
        elif act != RELU:  # the other activations that take f' from their output
            for j in range(n_cols):
                d[j] = d[j] * derivative(act, x[j])
        else:
            start = 0
            while start < n_cols:
                count = min(<Py_ssize_t> RELU_CHUNK, n_cols - start)
                for j in range(count):
                    factor[j] = kept if x[start + j] > 0 else 0
                for j in range(count):
                    d[start + j] = d[start + j] * factor[j]
                start += count
