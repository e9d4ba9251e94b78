"""The first layer's inputs when they are more than X: embeddings of the numeric columns and categorical codes.

A row of X holds n_numeric numeric values, then n_categorical integer codes (`fastbp.layout.Inputs`). The numeric
values reach the first layer through an embedding, or as they are (a copy into `Workspace.encoded`, so that the
layer reads a dense (n_rows, width) matrix either way):

- piecewise linear (``rtdl_num_embeddings.PiecewiseLinearEmbeddings``, version "B"): feature i's encoding e_i
  over its B bins (a fixed map: e = b + w x, clamped to [0, 1] but the first bin below and the last above),
  then out_i = x l_i + c_i + act(e_i W_i) with W_i (B, d) and l_i, c_i (d,) trained;
- periodic (``rtdl_num_embeddings.PeriodicEmbeddings``): c_i = [cos(2 pi f_i x), sin(2 pi f_i x)] for m trained
  frequencies f_i, then out_i = act(c_i W_i + b_i), W_i (2m, d) (one W and b for every feature with lite).

The codes are never one-hot encoded: the forward pass reads each row's code of column j as the row of the
category blocks it selects (column j's offset plus the code), and the first layer adds that row of W (times
member m's r of it in an ensemble); its gradient is a scatter-add into those rows. A code outside
[0, cardinality) (or NaN) is unknown: it adds nothing, as an all-zero one-hot would.

Threads take blocks of rows in the forward pass and blocks of features in the backward pass (each feature's
sums over the rows stay in one loop or one BLAS call, in row order): the bits do not depend on the thread count.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport M_PI, cos, sin

from fastbp._core._blas cimport add_scaled, column_sums, dot, gemm, scaled_copy
from fastbp._core._records cimport (NO_EMBEDDING, PERIODIC, PIECEWISE_LINEAR, Batch, Inputs, Layer, LayerPass,
                                    Layout, Split, Threads, Workspace)
from fastbp._core._splits cimport ROW_BLOCK, along, block_size, team


cdef enum:
    LITE_ROWS = 1 << 16  # rows of one lite product: BLAS counts rows in a C int (and any more gain nothing)


# --- the forward pass, a block of rows at a time ------------------------------------------------------------------

cdef void read_codes(const Inputs* inputs, const floating* X, int* codes, Py_ssize_t first,
                     Py_ssize_t count) noexcept nogil:
    cdef Py_ssize_t i
    cdef int j, c = inputs.n_categorical
    cdef floating x
    for i in range(first, first + count):
        for j in range(c):
            x = X[i * inputs.n_columns + inputs.n_numeric + j]
            # NaN fails both comparisons: unknown
            if x >= 0 and x < inputs.category_offset[j + 1] - inputs.category_offset[j]:
                codes[i * c + j] = inputs.category_offset[j] + <int> x
            else:
                codes[i * c + j] = -1


cdef void piecewise_encoding(const Inputs* inputs, const floating* X, floating* features, Py_ssize_t first,
                             Py_ssize_t count) noexcept nogil:
    """Rows first.. of features (n_rows, n_numeric B) <- each feature's clamped bin positions."""
    cdef int f = inputs.n_numeric, B = inputs.n_bins, i, b
    cdef Py_ssize_t row
    cdef double x, e
    cdef bint single
    cdef floating* out
    for row in range(first, first + count):
        for i in range(f):
            x = X[row * inputs.n_columns + i]
            out = features + (row * f + i) * B
            # A feature of one bin keeps it in the last column, zeros before: neither of its ends is clamped.
            single = B > 1 and inputs.encoding_weight[i * B] == 0
            for b in range(B):
                e = inputs.encoding_bias[i * B + b] + inputs.encoding_weight[i * B + b] * x
                if B > 1:
                    if b == 0:
                        e = min(e, 1.0)
                    elif b == B - 1:
                        if not single:
                            e = max(e, 0.0)
                    else:
                        e = min(max(e, 0.0), 1.0)
                out[b] = <floating> e


cdef void periodic_features(const Inputs* inputs, const floating* params, const floating* X, floating* features,
                            Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Rows first.. of features (n_rows, n_numeric 2m) <- cos, then sin, of 2 pi f x for each feature's m
    frequencies f."""
    cdef int n = inputs.n_numeric, m = inputs.n_bins // 2, i, j
    cdef Py_ssize_t row
    cdef const floating* frequencies = params + inputs.frequencies.offset
    cdef floating x, angle
    cdef floating* out
    for row in range(first, first + count):
        for i in range(n):
            x = X[row * inputs.n_columns + i]
            out = features + (row * n + i) * 2 * m
            for j in range(m):
                angle = (<floating> (2 * M_PI) * frequencies[i * m + j]) * x
                out[j] = <floating> cos(angle)
                out[m + j] = <floating> sin(angle)


cdef void feature_products(const Inputs* inputs, const floating* params, const floating* features,
                           floating* encoded, Py_ssize_t count) noexcept nogil:
    """encoded (count, n_numeric d) <- each feature's features times its W (one W for all with lite)."""
    cdef int n = inputs.n_numeric, d = inputs.d, B = inputs.n_bins, i
    cdef Py_ssize_t first = 0, rows = <Py_ssize_t> count * n
    cdef const floating* W = params + inputs.weight.offset
    if inputs.lite:  # one product over the block's n_rows n_numeric rows, in chunks that BLAS's int counts
        while first < rows:
            gemm(False, False, <int> min(<Py_ssize_t> LITE_ROWS, rows - first), d, B, <floating> 1,
                 features + first * B, B, W, d, <floating> 0, encoded + first * d, d)
            first += LITE_ROWS
        return
    for i in range(n):
        gemm(False, False, <int> count, d, B, <floating> 1, features + i * B, n * B, W + <Py_ssize_t> i * B * d, d,
             <floating> 0, encoded + i * d, n * d)


cdef void encode_rows(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                      Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    cdef const Inputs* inputs = &net.inputs
    cdef const floating* X = <const floating*> batch.X
    cdef int n = inputs.n_numeric, d = inputs.d, width = inputs.width, i, j
    cdef Py_ssize_t row
    cdef floating* encoded = (<floating*> work.encoded) + first * width
    cdef floating* features
    cdef floating* pre_relu
    cdef floating* z
    cdef floating x
    if inputs.n_categorical > 0:
        read_codes(inputs, X, work.codes, first, count)
    if inputs.embedding == NO_EMBEDDING:
        for row in range(first, first + count):
            for j in range(n):
                (<floating*> work.encoded)[row * width + j] = X[row * inputs.n_columns + j]
        return
    features = (<floating*> work.features) + first * n * inputs.n_bins
    if inputs.embedding == PIECEWISE_LINEAR:
        piecewise_encoding(inputs, X, <floating*> work.features, first, count)
    else:
        periodic_features(inputs, params, X, <floating*> work.features, first, count)
    feature_products(inputs, params, features, encoded, count)
    for row in range(count):
        for i in range(n):
            z = encoded + row * width + i * d
            if inputs.embedding == PERIODIC:
                for j in range(d):
                    z[j] = z[j] + (params + inputs.bias.offset)[j if inputs.lite else i * d + j]
            if inputs.activation:
                pre_relu = (<floating*> work.pre_relu) + (first + row) * width + i * d
                for j in range(d):
                    pre_relu[j] = z[j]
                    z[j] = max(z[j], <floating> 0)
            if inputs.embedding == PIECEWISE_LINEAR:
                x = X[(first + row) * inputs.n_columns + i]
                for j in range(d):
                    z[j] = (x * (params + inputs.linear_weight.offset)[i * d + j]
                            + (params + inputs.linear_bias.offset)[i * d + j]) + z[j]


cdef void encode_inputs(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                        Threads threads, Py_ssize_t pass_work) noexcept nogil:
    cdef Py_ssize_t block, n = batch.n_rows
    cdef const Inputs* inputs = &net.inputs
    cdef Split split = along(threads, n, ROW_BLOCK, n * inputs.n_numeric * max(inputs.n_bins, 1) * inputs.d,
                             pass_work)
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
            encode_rows(net, params, batch, work, block * split.size, block_size(split, block, n))
    else:
        for block in range(split.count):
            encode_rows(net, params, batch, work, block * split.size, block_size(split, block, n))


# --- the embedding's backward pass, a block of features at a time ---------------------------------------------------

cdef void relu_gradient(const Inputs* inputs, floating* delta, const floating* pre_relu, Py_ssize_t n_rows,
                        int first, int count) noexcept nogil:
    """delta *= (z > 0) in features first.. (0/1 factors, so a NaN delta stays NaN, as the reference's)."""
    cdef Py_ssize_t row, j
    cdef Py_ssize_t start = <Py_ssize_t> first * inputs.d, stop = <Py_ssize_t> (first + count) * inputs.d
    for row in range(n_rows):
        for j in range(start, stop):
            delta[row * inputs.width + j] = delta[row * inputs.width + j] * (
                <floating> 1 if pre_relu[row * inputs.width + j] > 0 else <floating> 0)


cdef void piecewise_gradient(const Inputs* inputs, const floating* X, const floating* features, floating* delta,
                             const floating* pre_relu, floating* grad, Py_ssize_t n_rows, int i) noexcept nogil:
    """Feature i's gradients: l and c from delta, then W from delta times the ReLU's 0/1 (in place)."""
    cdef int n = inputs.n_numeric, d = inputs.d, B = inputs.n_bins, j
    cdef Py_ssize_t row
    cdef floating* dl = grad + inputs.linear_weight.offset + i * d
    cdef floating* dc = grad + inputs.linear_bias.offset + i * d
    cdef floating x
    for j in range(d):
        dl[j] = 0
    for row in range(n_rows):
        x = X[row * inputs.n_columns + i]
        for j in range(d):
            dl[j] += delta[row * inputs.width + i * d + j] * x
    column_sums(delta + i * d, n_rows, d, inputs.width, dc)
    if inputs.activation:
        relu_gradient(inputs, delta, pre_relu, n_rows, i, 1)
    gemm(True, False, B, d, <int> n_rows, <floating> 1, features + i * B, n * B, delta + i * d, inputs.width,
         <floating> 0, grad + inputs.weight.offset + <Py_ssize_t> i * B * d, d)


cdef void periodic_gradient(const Inputs* inputs, const floating* params, const floating* features,
                            const floating* delta, floating* feature_delta, floating* grad, Py_ssize_t n_rows,
                            int i) noexcept nogil:
    """Feature i's W and b gradients and its features' delta (delta already times the ReLU's 0/1)."""
    cdef int n = inputs.n_numeric, d = inputs.d, B = inputs.n_bins
    cdef Py_ssize_t offset = <Py_ssize_t> i * B * d
    gemm(True, False, B, d, <int> n_rows, <floating> 1, features + i * B, n * B, delta + i * d, inputs.width,
         <floating> 0, grad + inputs.weight.offset + offset, d)
    column_sums(delta + i * d, n_rows, d, inputs.width, grad + inputs.bias.offset + i * d)
    gemm(False, True, <int> n_rows, B, d, <floating> 1, delta + i * d, inputs.width,
         params + inputs.weight.offset + offset, d, <floating> 0, feature_delta + i * B, n * B)


cdef void frequency_gradient(const Inputs* inputs, const floating* X, const floating* features,
                             const floating* feature_delta, floating* grad, Py_ssize_t n_rows, int i) noexcept nogil:
    """Feature i's frequencies' gradient: d(cos)/dp = -sin, d(sin)/dp = cos, dp/df = 2 pi x."""
    cdef int n = inputs.n_numeric, B = inputs.n_bins, m = B // 2, j
    cdef Py_ssize_t row
    cdef floating* df = grad + inputs.frequencies.offset + i * m
    cdef const floating* c
    cdef const floating* dc
    cdef floating dp
    for j in range(m):
        df[j] = 0
    for row in range(n_rows):
        c = features + (row * n + i) * B
        dc = feature_delta + (row * n + i) * B
        for j in range(m):
            dp = dc[m + j] * c[j] - dc[j] * c[m + j]
            df[j] += dp * <floating> 2 * <floating> M_PI * X[row * inputs.n_columns + i]


cdef void feature_block(const Inputs* inputs, const floating* params, const Batch* batch, Workspace* work,
                        floating* grad, int phase, int first, int count) noexcept nogil:
    """Features first.. of a backward phase: 0 the per-feature gradients, 1 the frequencies'."""
    cdef int i
    cdef const floating* X = <const floating*> batch.X
    cdef floating* delta = <floating*> work.encoded_delta
    for i in range(first, first + count):
        if phase == 1:
            frequency_gradient(inputs, X, <const floating*> work.features, <const floating*> work.feature_delta,
                               grad, batch.n_rows, i)
        elif inputs.embedding == PIECEWISE_LINEAR:
            piecewise_gradient(inputs, X, <const floating*> work.features, delta, <const floating*> work.pre_relu,
                               grad, batch.n_rows, i)
        else:
            periodic_gradient(inputs, params, <const floating*> work.features, delta,
                              <floating*> work.feature_delta, grad, batch.n_rows, i)


cdef void by_features(const Inputs* inputs, const floating* params, const Batch* batch, Workspace* work,
                      floating* grad, int phase, Threads threads, Py_ssize_t pass_work) noexcept nogil:
    cdef Py_ssize_t block
    cdef int n = inputs.n_numeric
    cdef Split split = along(threads, n, 1, batch.n_rows * n * inputs.n_bins * inputs.d, pass_work)
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
            feature_block(inputs, params, batch, work, grad, phase, <int> (block * split.size),
                          <int> block_size(split, block, n))
    else:
        for block in range(split.count):
            feature_block(inputs, params, batch, work, grad, phase, <int> (block * split.size),
                          <int> block_size(split, block, n))


cdef void embedding_backward(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                             floating* grad, Threads threads, Py_ssize_t pass_work) noexcept nogil:
    cdef const Inputs* inputs = &net.inputs
    cdef Py_ssize_t first, count, rows = batch.n_rows * inputs.n_numeric
    cdef floating* delta = <floating*> work.encoded_delta
    cdef int d = inputs.d, B = inputs.n_bins
    if inputs.embedding == PIECEWISE_LINEAR:
        by_features(inputs, params, batch, work, grad, 0, threads, pass_work)
        return
    if inputs.activation:
        relu_gradient(inputs, delta, <const floating*> work.pre_relu, batch.n_rows, 0, inputs.n_numeric)
    if inputs.lite:  # one W over every feature's rows: (n_rows n_numeric, 2m) products, in chunks for BLAS's ints
        first = 0
        while first < rows:
            count = min(<Py_ssize_t> LITE_ROWS, rows - first)
            gemm(True, False, B, d, <int> count, <floating> 1, (<const floating*> work.features) + first * B, B,
                 delta + first * d, d, <floating> (first > 0), grad + inputs.weight.offset, d)
            gemm(False, True, <int> count, B, d, <floating> 1, delta + first * d, d, params + inputs.weight.offset, d,
                 <floating> 0, (<floating*> work.feature_delta) + first * B, B)
            first += count
        column_sums(delta, rows, d, d, grad + inputs.bias.offset)
    else:
        by_features(inputs, params, batch, work, grad, 0, threads, pass_work)
    by_features(inputs, params, batch, work, grad, 1, threads, pass_work)


# --- the lookups of the categorical columns --------------------------------------------------------------------------

cdef void lookup_add(const LayerPass* p, floating* out, Py_ssize_t first_row, Py_ssize_t n_rows,
                     Py_ssize_t first_col, Py_ssize_t n_cols, Py_ssize_t ld, int m) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef const Inputs* inputs = p.inputs
    cdef int c = inputs.n_categorical, n_out = layer.n_out, j, row
    cdef Py_ssize_t C = inputs.category_offset[c], i
    cdef const floating* W = (<const floating*> p.Wc) + (m * C * n_out if layer.weight_per_member else 0)
    cdef const floating* r = NULL if p.rc == NULL else (<const floating*> p.rc) + m * C
    cdef floating* z
    for i in range(n_rows):
        z = out + i * ld
        for j in range(c):
            row = p.codes[(first_row + i) * c + j]
            if row < 0:
                continue
            add_scaled(z, W + <Py_ssize_t> row * n_out + first_col, 1 if r == NULL else r[row], n_cols)


cdef void lookup_weight_grad(const LayerPass* p, const floating* delta, floating* grad, Py_ssize_t first,
                             Py_ssize_t count, floating* bias_sums) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef const Inputs* inputs = p.inputs
    cdef int c = inputs.n_categorical, k = layer.members, n_out = layer.n_out, j, row, m
    cdef Py_ssize_t C = inputs.category_offset[c], i, o, plane, planes = k if layer.weight_per_member else 1
    cdef Py_ssize_t width = <Py_ssize_t> k * n_out
    cdef floating* dW = grad + layer.category_weight.offset
    cdef const floating* r = <const floating*> p.rc
    cdef const floating* d
    for plane in range(planes):
        if p.penalty:
            scaled_copy((<const floating*> p.Wc) + plane * C * n_out + first, <floating> p.alpha_scaled, C, count,
                        n_out, dW + plane * C * n_out + first)
        else:
            for i in range(C):
                for o in range(first, first + count):
                    dW[plane * C * n_out + i * n_out + o] = 0
    if bias_sums != NULL:
        for o in range(count):
            bias_sums[o] = 0
    for i in range(p.n_rows):
        for m in range(k):
            d = delta + i * width + m * n_out + first
            if bias_sums != NULL:
                add_scaled(bias_sums, d, 1, count)
            for j in range(c):
                row = p.codes[i * c + j]
                if row >= 0:
                    add_scaled(dW + ((m * C if layer.weight_per_member else 0) + row) * n_out + first, d,
                               1 if r == NULL else r[m * C + row], count)


cdef void lookup_scale_grad(const LayerPass* p, const floating* delta, floating* grad, Py_ssize_t first,
                            Py_ssize_t count) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef const Inputs* inputs = p.inputs
    cdef int c = inputs.n_categorical, k = layer.members, n_out = layer.n_out, j, row
    cdef Py_ssize_t C = inputs.category_offset[c], i, m
    cdef Py_ssize_t width = <Py_ssize_t> k * n_out
    cdef floating* dr = grad + layer.category_scale.offset
    cdef const floating* W
    cdef const floating* d
    for m in range(first, first + count):
        for i in range(C):
            dr[m * C + i] = 0
        W = (<const floating*> p.Wc) + (m * C * n_out if layer.weight_per_member else 0)
        for i in range(p.n_rows):
            d = delta + i * width + m * n_out
            for j in range(c):
                row = p.codes[i * c + j]
                if row >= 0:
                    dr[m * C + row] += dot(d, W + <Py_ssize_t> row * n_out, n_out)
