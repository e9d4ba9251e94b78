"""Batch forward and backward passes of a multilayer perceptron over one flat parameter buffer.

Matrix products go to BLAS (`_blas.gemm`); bias + activation, derivatives, the output loss and the column
sums run here in C, in parallel over rows or columns when large (never as thread-order-dependent
reductions); when the input is a CSR matrix, layer 0's two products are `_sparse`'s. `CoreNet` holds
the layout; its `def` methods are the thin wrappers the Python layer calls: they allocate workspaces and
outputs, then release the GIL once for the whole pass. They trust their caller (`fastbp.network`) to have
validated shapes, dtypes and values.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc

import numpy as np

from fastbp._core._activations cimport IDENTITY, bias_activation, mul_derivative
from fastbp._core._blas cimport gemm
from fastbp._core._losses cimport loss_and_delta, output_activation
from fastbp._core._openmp_helpers cimport (FASTBP_OPENMP_ENABLED, MIN_THREAD_WORK, split_work, start_team,
                                           use_threads, use_threads_elementwise, usable_threads)
from fastbp._core._sparse cimport (CSR, Scratch, SparseRows, nonzeros, sparse_input, sparse_layer,
                                   sparse_weight_grad)


cdef inline Py_ssize_t n_blocks(Py_ssize_t n, Py_ssize_t block) noexcept nogil:
    return (n + block - 1) // block


cdef Threads thread_plan(int n_threads, bint invariant, bint single) noexcept nogil:
    """How a pass uses `n_threads`: fixed blocks when `invariant`, else one block per thread where it pays
    (`single`: the model is float32, whose multiply-adds take half the time). In a child forked after the
    parent started threads, one thread (`usable_threads`)."""
    cdef Threads threads
    threads.n = usable_threads(n_threads)
    threads.invariant = invariant
    threads.min_work = MIN_THREAD_WORK * (2 if single else 1)
    return threads


cdef inline Split one_block(Py_ssize_t n_rows) noexcept nogil:
    """The whole product in one BLAS call, on the calling thread."""
    cdef Split split
    split.count = 1
    split.size = n_rows
    split.by_columns = False
    split.threaded = False
    return split


cdef Split fixed_split(Py_ssize_t n_rows, Py_ssize_t n_cols, bint by_columns, Py_ssize_t pass_work,
                      int n_threads) noexcept nogil:
    """thread_invariant=True: blocks of COL_BLOCK output columns (`by_columns`) or ROW_BLOCK output rows, once
    the pass is large enough (`split_work`). The blocks depend on the data only, never on n_threads."""
    cdef Split split
    if not split_work(pass_work):
        return one_block(n_rows)
    split.by_columns = by_columns
    split.size = COL_BLOCK if by_columns else ROW_BLOCK
    split.count = n_blocks(n_cols if by_columns else n_rows, split.size)
    split.threaded = use_threads(n_threads, pass_work)
    return split


cdef Split fastest_split(Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t work, int n_threads,
                        Py_ssize_t min_thread_work) noexcept nogil:
    """The default: one block per thread that gets at least `min_thread_work` multiply-adds, cut along the
    longer side of the (n_rows, n_cols) output. Each block packs its share of one operand and all of the
    other, so cutting the longer side packs the least in total; measured on a 2-core AMD EPYC, either cut
    of a 256 x 1024 x 1024 product on 2 threads ran within 5% of OpenBLAS's own 2-thread call."""
    cdef Split split
    cdef bint by_columns = n_cols > n_rows
    cdef Py_ssize_t side = n_cols if by_columns else n_rows
    cdef Py_ssize_t parts = min(<Py_ssize_t> n_threads, work // min_thread_work, side // MIN_SPLIT)
    if not FASTBP_OPENMP_ENABLED or parts < 2:
        return one_block(n_rows)
    split.by_columns = by_columns
    split.size = n_blocks(n_blocks(side, parts), MIN_SPLIT) * MIN_SPLIT
    split.count = n_blocks(side, split.size)
    split.threaded = split.count > 1
    return split


cdef inline Split product_split(Threads threads, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t work,
                                bint wide, Py_ssize_t pass_work) noexcept nogil:
    """How to cut one product with an (n_rows, n_cols) output and `work` multiply-adds, in a pass of
    `pass_work`; `wide`: whether fixed blocks go over columns."""
    if threads.invariant:
        return fixed_split(n_rows, n_cols, wide, pass_work, threads.n)
    return fastest_split(n_rows, n_cols, work, threads.n, threads.min_work)


cdef inline int team(Threads threads, Split split) noexcept nogil:
    """Threads for a split's blocks: never more than there are blocks."""
    return start_team(<int> min(<Py_ssize_t> threads.n, split.count))


cdef inline bint column_blocks(int n_out) noexcept nogil:
    # Fixed blocks go over output columns when a layer is wide: each block then packs only its own
    # panel of W, where row blocks would each repack all of W (for a batch of 128 rows and a 784 x 256 W,
    # that repacking cost float32 more than the products). Narrow layers split over rows instead.
    return n_out >= 2 * COL_BLOCK


cdef void layer_block(const Layout* net, const floating* params, int l, const floating* a_prev,
                      floating* a_out, Py_ssize_t first_row, Py_ssize_t n_rows, Py_ssize_t first_col,
                      Py_ssize_t n_cols) noexcept nogil:
    """Block (rows first_row.., columns first_col..) of A[l] = f(A[l-1] W[l] + b[l]); the last layer keeps
    its logits. a_prev: (batch, sizes[l]); a_out: (batch, sizes[l + 1])."""
    cdef int n_in = net.sizes[l]
    cdef int n_out = net.sizes[l + 1]
    cdef floating* block = a_out + first_row * n_out + first_col
    gemm(False, False, <int> n_rows, <int> n_cols, n_in, <floating> 1, a_prev + first_row * n_in, n_in,
         params + net.coef_offset[l] + first_col, n_out, <floating> 0, block, n_out)
    bias_activation(net.hidden if l < net.n_layers - 1 else IDENTITY, block,
                    params + net.intercept_offset[l] + first_col, n_rows, n_cols, n_out)


cdef void forward_block(const Layout* net, const floating* params, int l, const floating* a_prev,
                        floating* a_out, Py_ssize_t n_rows, Split split, Py_ssize_t block) noexcept nogil:
    """Block number `block` of layer l's forward pass: split.size of its columns or of its rows."""
    cdef int n_out = net.sizes[l + 1]
    cdef Py_ssize_t first = block * split.size
    if split.by_columns:
        layer_block(net, params, l, a_prev, a_out, 0, n_rows, first, min(split.size, n_out - first))
    else:
        layer_block(net, params, l, a_prev, a_out, first, min(split.size, n_rows - first), 0, n_out)


cdef void forward_logits(const Layout* net, const floating* params, const floating* X, Py_ssize_t n_rows,
                         floating** acts_out, Threads threads, const SparseRows* X_sparse) noexcept nogil:
    """acts_out[l] (n_rows, sizes[l + 1]) <- activations of layer l; the last one holds the output logits.

    X: (n_rows, sizes[0]), or X_sparse: the same as CSR rows. Layer by layer, each cut by `product_split`.
    An OpenMP region is entered only when threads are used: even with one thread, each costs a futex call,
    which was half the time of a 30-16-1 minibatch.
    """
    cdef Py_ssize_t block
    cdef int l
    cdef Split split
    cdef Py_ssize_t pass_work = n_rows * net.macs_per_row
    cdef const floating* a_prev = X
    for l in range(net.n_layers):
        if l == 0 and X_sparse != NULL:
            sparse_layer(X_sparse, n_rows, params + net.coef_offset[0], params + net.intercept_offset[0],
                         net.sizes[1], net.hidden if net.n_layers > 1 else IDENTITY, acts_out[0], threads.n)
            a_prev = acts_out[0]
            continue
        split = product_split(threads, n_rows, net.sizes[l + 1], n_rows * net.sizes[l] * net.sizes[l + 1],
                              column_blocks(net.sizes[l + 1]), pass_work)
        if split.threaded:
            for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
                forward_block(net, params, l, a_prev, acts_out[l], n_rows, split, block)
        else:
            for block in range(split.count):
                forward_block(net, params, l, a_prev, acts_out[l], n_rows, split, block)
        a_prev = acts_out[l]


cdef void column_sums(const floating* a, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t lda,
                      floating* sums_out) noexcept nogil:
    """sums_out (n_cols,) <- column sums of the (n_rows, n_cols) block a (leading dimension lda), in row order."""
    cdef Py_ssize_t i, j
    for j in range(n_cols):
        sums_out[j] = 0
    for i in range(n_rows):
        for j in range(n_cols):
            sums_out[j] += a[i * lda + j]


cdef void scaled_copy(const floating* w, floating scale, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t ld,
                      floating* out) noexcept nogil:
    """out <- scale * w over an (n_rows, n_cols) block with leading dimension ld."""
    cdef Py_ssize_t i, j
    for i in range(n_rows):
        for j in range(n_cols):
            out[i * ld + j] = scale * w[i * ld + j]


cdef double sum_of_squares(const floating* w, Py_ssize_t n) noexcept nogil:
    """sum(w ** 2) accumulated in double, in a fixed order: eight running sums (entries i mod 8), added at the
    end. One running sum waits for each addition before the next, which made this 2.6% of a digits fit."""
    cdef Py_ssize_t i, j
    cdef double part[8]
    cdef double total = 0
    for j in range(8):
        part[j] = 0
    for i in range(0, n - n % 8, 8):
        for j in range(8):
            part[j] += <double> w[i + j] * w[i + j]
    for i in range(n - n % 8, n):
        part[i % 8] += <double> w[i] * w[i]
    for j in range(8):
        total += part[j]
    return total


cdef void loss_block(const Layout* net, const floating* logits, const floating* Y, const floating* sample_weight,
                     Py_ssize_t n_rows, Py_ssize_t rows, double weight_sum, floating* delta_out, double* row_loss,
                     Py_ssize_t block) noexcept nogil:
    """Rows block * rows.. of `objective`'s per-row losses and output deltas."""
    cdef int k = net.sizes[net.n_layers]
    cdef Py_ssize_t first = block * rows
    loss_and_delta(net.output, logits + first * k, Y + first * k, NULL if sample_weight == NULL else sample_weight + first,
                   1.0 / weight_sum, delta_out + first * k, row_loss + first, min(rows, n_rows - first), k)


cdef double objective(const Layout* net, const floating* params, const floating* logits, const floating* Y,
                      const floating* sample_weight, Py_ssize_t n_rows, double weight_sum, double alpha,
                      floating* delta_out, double* row_loss, int n_threads) noexcept nogil:
    """(1/S) sum_i w_i L_i + (alpha / 2S) sum_l ||W[l]||^2, S = weight_sum, from the output logits
    (n_rows, n_outputs); also writes delta[L] = (y_hat - y) w_i / S into delta_out (n_rows, n_outputs).
    row_loss: (n_rows,) scratch. Rows go in blocks of ROW_BLOCK, on threads when there are enough entries
    for an elementwise pass to pay (the loss is a few operations per output, whatever the network); the
    sums run in row and layer order, the same for any n_threads."""
    cdef Py_ssize_t block, i
    cdef int l
    cdef Py_ssize_t entries = n_rows * net.sizes[net.n_layers]
    cdef bint threaded = use_threads_elementwise(n_threads, entries)
    cdef Py_ssize_t rows = ROW_BLOCK if threaded else n_rows
    cdef double data_loss = 0, sumsq = 0
    if threaded:
        for block in prange(n_blocks(n_rows, rows), schedule="static", num_threads=start_team(n_threads)):
            loss_block(net, logits, Y, sample_weight, n_rows, rows, weight_sum, delta_out, row_loss, block)
    else:
        for block in range(n_blocks(n_rows, rows)):
            loss_block(net, logits, Y, sample_weight, n_rows, rows, weight_sum, delta_out, row_loss, block)
    for i in range(n_rows):
        data_loss += row_loss[i] if sample_weight == NULL else sample_weight[i] * row_loss[i]
    if alpha != 0:
        for l in range(net.n_layers - 1, -1, -1):
            sumsq += sum_of_squares(params + net.coef_offset[l], <Py_ssize_t> net.sizes[l] * net.sizes[l + 1])
    return data_loss / weight_sum + 0.5 * alpha * sumsq / weight_sum


cdef void weight_grad_block(const Layout* net, const floating* params, int l, const floating* a_prev,
                            const floating* delta, Py_ssize_t n_rows, Split split, floating alpha_scaled,
                            bint penalty, floating* grad_out, floating* step_weights, floating step_rate,
                            Py_ssize_t block) noexcept nogil:
    """Block number `block` of dW[l] = A[l-1]^T delta[l] + (alpha/S) W[l] (split.size of its columns or of its
    rows) and its share of db[l] = sum_rows delta[l]; each entry's sum over the batch rows stays in one BLAS
    call and in row order. With `step_weights` (see `backward`), the block's W[l] += -step_rate dW[l] instead."""
    cdef int n_in = net.sizes[l]
    cdef int n_out = net.sizes[l + 1]
    cdef Py_ssize_t first = block * split.size
    cdef Py_ssize_t count, bias_first, bias_count
    cdef floating* dW = grad_out + net.coef_offset[l]
    cdef floating scale = 1
    cdef floating beta = <floating> (1 if penalty else 0)
    if step_weights != NULL:
        dW = step_weights + net.coef_offset[l]
        scale = -step_rate
        beta = 1
    if split.by_columns:
        count = min(split.size, n_out - first)
        if penalty:
            scaled_copy(params + net.coef_offset[l] + first, alpha_scaled, n_in, count, n_out, dW + first)
        gemm(True, False, n_in, <int> count, <int> n_rows, scale, a_prev, n_in, delta + first, n_out,
             beta, dW + first, n_out)
        bias_first, bias_count = first, count
    else:
        count = min(split.size, n_in - first)
        if penalty:
            scaled_copy(params + net.coef_offset[l] + first * n_out, alpha_scaled, count, n_out, n_out,
                        dW + first * n_out)
        gemm(True, False, <int> count, n_out, <int> n_rows, scale, a_prev + first, n_in, delta, n_out,
             beta, dW + first * n_out, n_out)
        # Row blocks of dW share every column of delta: each takes an equal share of the bias sums.
        bias_count = n_blocks(n_out, split.count)
        bias_first = min(block * bias_count, <Py_ssize_t> n_out)
        bias_count = min(bias_count, n_out - bias_first)
    column_sums(delta + bias_first, n_rows, bias_count, n_out, grad_out + net.intercept_offset[l] + bias_first)


cdef void delta_block(const Layout* net, const floating* params, int l, const floating* a_prev,
                      const floating* delta, floating* delta_prev_out, Py_ssize_t n_rows, Split split,
                      Py_ssize_t block) noexcept nogil:
    """Block number `block` of delta[l-1] = (delta[l] W[l]^T) * f'(A[l-1]): split.size of its columns (a
    block of W's rows, as in the forward pass) or of its rows."""
    cdef int n_in = net.sizes[l]
    cdef int n_out = net.sizes[l + 1]
    cdef const floating* W = params + net.coef_offset[l]
    cdef Py_ssize_t first = block * split.size
    cdef Py_ssize_t count
    if split.by_columns:
        count = min(split.size, n_in - first)
        gemm(False, True, <int> n_rows, <int> count, n_out, <floating> 1, delta, n_out, W + first * n_out, n_out,
             <floating> 0, delta_prev_out + first, n_in)
        mul_derivative(net.hidden, delta_prev_out + first, a_prev + first, n_rows, count, n_in)
    else:
        count = min(split.size, n_rows - first)
        gemm(False, True, <int> count, n_in, n_out, <floating> 1, delta + first * n_out, n_out, W, n_out,
             <floating> 0, delta_prev_out + first * n_in, n_in)
        mul_derivative(net.hidden, delta_prev_out + first * n_in, a_prev + first * n_in, count, n_in, n_in)


cdef double backward(const Layout* net, const floating* params, const floating* X, const floating* Y,
                     const floating* sample_weight, Py_ssize_t n_rows, double weight_sum, double alpha,
                     floating** acts, floating* delta_a, floating* delta_b, double* row_loss,
                     floating* grad_out, Threads threads, const SparseRows* X_sparse,
                     floating* step_weights, double step_rate) noexcept nogil:
    """Objective and its gradient, given the activations `forward_logits` left in `acts` (for X, or for
    X_sparse when it is not NULL, with a `_sparse.Scratch` attached).

    objective = (1/S) sum_i w_i L_i + (alpha / 2S) sum_l ||W[l]||^2, with S = weight_sum.
    delta[L] = (y_hat - y) w_i / S; dW[l] = A[l-1]^T delta[l] + (alpha/S) W[l]; db[l] = sum_rows delta[l];
    delta[l-1] = (delta[l] W[l]^T) * f'(A[l-1]).
    delta_a, delta_b: (n_rows * widest non-input layer) scratch each; row_loss: (n_rows,) scratch;
    grad_out: (n_params,), fully overwritten. Each product is cut by `product_split`; fixed blocks put the
    weight gradients over columns (each entry's sum over rows stays in one BLAS call).

    step_weights, step_rate (see _network.pxd): for dense X and alpha == 0 only. grad_out then gets the
    intercepts' gradient alone; when the objective is not finite, nothing is written or stepped.
    """
    cdef int l, n_in, n_out
    cdef Py_ssize_t block
    cdef Split split
    cdef const floating* a_prev
    cdef floating* delta = delta_a
    cdef floating* other = delta_b
    cdef floating* swap
    cdef floating alpha_scaled = <floating> (alpha / weight_sum)
    cdef double loss
    cdef int last = net.n_layers - 1
    cdef Py_ssize_t pass_work = n_rows * net.macs_per_row

    loss = objective(net, params, acts[last], Y, sample_weight, n_rows, weight_sum, alpha, delta, row_loss,
                     threads.n)
    if step_weights != NULL and not isfinite(loss):
        return loss

    for l in range(last, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        a_prev = X if l == 0 else acts[l - 1]
        if l == 0 and X_sparse != NULL:
            sparse_weight_grad(X_sparse, n_rows, delta, n_in, n_out, params + net.coef_offset[0], alpha_scaled,
                               alpha != 0, grad_out + net.coef_offset[0], threads.n)
            column_sums(delta, n_rows, n_out, n_out, grad_out + net.intercept_offset[0])
            continue
        # delta[l-1] before dW[l]: with step_weights, computing dW[l] steps W[l], which delta[l-1] reads.
        if l > 0:
            split = product_split(threads, n_rows, n_in, n_rows * n_in * n_out, column_blocks(n_in), pass_work)
            if split.threaded:
                for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
                    delta_block(net, params, l, acts[l - 1], delta, other, n_rows, split, block)
            else:
                for block in range(split.count):
                    delta_block(net, params, l, acts[l - 1], delta, other, n_rows, split, block)
        split = product_split(threads, n_in, n_out, n_rows * n_in * n_out, True, pass_work)
        if split.threaded:
            for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
                weight_grad_block(net, params, l, a_prev, delta, n_rows, split, alpha_scaled, alpha != 0,
                                  grad_out, step_weights, <floating> step_rate, block)
        else:
            for block in range(split.count):
                weight_grad_block(net, params, l, a_prev, delta, n_rows, split, alpha_scaled, alpha != 0,
                                  grad_out, step_weights, <floating> step_rate, block)
        if l > 0:
            swap = delta
            delta = other
            other = swap
    return loss


cdef class CoreNet:
    """The layout of one network, and batch passes over a flat parameter buffer.

    Parameters
    ----------
    layer_sizes : sequence of int, length n_layers + 1, each >= 1
    hidden : int, an `Activation` code; output : int, an `Output` code
    """

    def __cinit__(self, layer_sizes, int hidden, int output):
        cdef int l
        cdef int n_layers = len(layer_sizes) - 1
        cdef Py_ssize_t offset = 0
        self.layer_sizes = tuple(int(s) for s in layer_sizes)
        self.layout.n_layers = n_layers
        self.layout.hidden = <Activation> hidden
        self.layout.output = <Output> output
        self.layout.sizes = <int*> malloc((n_layers + 1) * sizeof(int))
        self.layout.coef_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
        self.layout.intercept_offset = <Py_ssize_t*> malloc(n_layers * sizeof(Py_ssize_t))
        if not (self.layout.sizes and self.layout.coef_offset and self.layout.intercept_offset):
            raise MemoryError()
        for l in range(n_layers + 1):
            self.layout.sizes[l] = layer_sizes[l]
        for l in range(n_layers):
            self.layout.coef_offset[l] = offset
            offset += <Py_ssize_t> layer_sizes[l] * layer_sizes[l + 1]
        for l in range(n_layers):
            self.layout.intercept_offset[l] = offset
            offset += layer_sizes[l + 1]
        self.layout.n_params = offset
        self.layout.macs_per_row = offset - sum(layer_sizes[1:])

    def __dealloc__(self):
        free(self.layout.sizes)
        free(self.layout.coef_offset)
        free(self.layout.intercept_offset)

    @property
    def n_params(self):
        return self.layout.n_params

    def forward(self, const floating[::1] params, X, int n_threads, bint invariant,
                Y=None, sample_weight=None, double weight_sum=0, double alpha=0):
        """Output activations y_hat, a new (n_samples, n_outputs) array. X: (n_samples, n_features), a
        C-contiguous array or a CSR matrix (see `_sparse.CSR`), in the dtype of params.
        n_threads threads; `invariant`: fixed blocks, for results that do not depend on n_threads.

        Given targets Y (n_samples, n_outputs), returns (objective, y_hat) from the same forward pass, with
        no backward pass; sample_weight, weight_sum and alpha as for `loss_and_grad`.
        """
        cdef Py_ssize_t n = X.shape[0]
        cdef int width = max(self.layer_sizes[1:])
        cdef int n_layers = self.layout.n_layers
        cdef int k = self.layout.sizes[n_layers]
        cdef bint with_objective = Y is not None
        cdef const floating[:, ::1] targets
        cdef const floating[::1] sw
        cdef const floating* sw_ptr = NULL
        cdef floating[::1] delta
        cdef double[::1] row_loss
        cdef double loss = 0
        cdef Threads threads = thread_plan(n_threads, invariant, floating is float)
        dtype = np.float32 if floating is float else np.float64
        cdef CSR X_csr = sparse_input(X, dtype)
        cdef const SparseRows* X_sparse = NULL if X_csr is None else &X_csr.rows
        cdef const floating[:, ::1] X_dense
        cdef const floating* X_ptr = NULL
        if X_csr is None:
            X_dense = X
            X_ptr = &X_dense[0, 0]
        if with_objective:
            targets = Y
            delta = np.empty(n * k, dtype=dtype)
            row_loss = np.empty(n, dtype=np.float64)
            if sample_weight is not None:
                sw = sample_weight
                sw_ptr = &sw[0]
        # Two ping-pong buffers for the hidden layers; the last layer writes straight into the result.
        cdef floating[:, ::1] work = np.empty((2, n * width), dtype=dtype)
        result = np.empty((n, self.layer_sizes[n_layers]), dtype=dtype)
        cdef floating[:, ::1] out = result
        cdef floating** acts = <floating**> malloc(n_layers * sizeof(floating*))
        if acts == NULL:
            raise MemoryError()
        try:
            for l in range(n_layers - 1):
                acts[l] = &work[l % 2, 0]
            acts[n_layers - 1] = &out[0, 0]
            with nogil:
                forward_logits(&self.layout, &params[0], X_ptr, n, acts, threads, X_sparse)
                if with_objective:
                    loss = objective(&self.layout, &params[0], &out[0, 0], &targets[0, 0], sw_ptr, n, weight_sum,
                                     alpha, &delta[0], &row_loss[0], threads.n)
                output_activation(self.layout.output, &out[0, 0], n, k)
        finally:
            free(acts)
        return (loss, result) if with_objective else result

    def loss_and_grad(self, const floating[::1] params, X, const floating[:, ::1] Y,
                      sample_weight, double weight_sum, double alpha, floating[::1] grad_out, int n_threads,
                      bint invariant):
        """Objective at `params`; writes its gradient into grad_out (n_params,). Threads as for `forward`.

        X: (n_samples, n_features), dense or CSR as for `forward`; Y: (n_samples, n_outputs);
        sample_weight: (n_samples,) or None, with weight_sum its sum (n_samples when None).
        """
        cdef Py_ssize_t n = X.shape[0]
        cdef int n_layers = self.layout.n_layers
        cdef int width = max(self.layer_sizes[1:])
        cdef Py_ssize_t n_acts = sum(self.layer_sizes[1:])
        dtype = np.float32 if floating is float else np.float64
        cdef floating[::1] act_buf = np.empty(n * n_acts, dtype=dtype)
        cdef floating[:, ::1] deltas = np.empty((2, n * width), dtype=dtype)
        cdef double[::1] row_loss = np.empty(n, dtype=np.float64)
        cdef const floating[::1] sw
        cdef const floating* sw_ptr = NULL
        cdef double loss
        cdef Py_ssize_t offset = 0
        cdef Threads threads = thread_plan(n_threads, invariant, floating is float)
        cdef CSR X_csr = sparse_input(X, dtype)
        cdef const SparseRows* X_sparse = NULL if X_csr is None else &X_csr.rows
        cdef const floating[:, ::1] X_dense
        cdef const floating* X_ptr = NULL
        cdef Scratch scratch = Scratch()  # kept for the whole call: X_sparse points into it
        if X_csr is None:
            X_dense = X
            X_ptr = &X_dense[0, 0]
        else:
            scratch.attach(X_csr, self.layout.sizes[0], nonzeros(X_sparse, n), dtype)
        if sample_weight is not None:
            sw = sample_weight
            sw_ptr = &sw[0]
        cdef floating** acts = <floating**> malloc(n_layers * sizeof(floating*))
        if acts == NULL:
            raise MemoryError()
        try:
            for l in range(n_layers):
                acts[l] = &act_buf[offset]
                offset += n * self.layout.sizes[l + 1]
            with nogil:
                forward_logits(&self.layout, &params[0], X_ptr, n, acts, threads, X_sparse)
                loss = backward(&self.layout, &params[0], X_ptr, &Y[0, 0], sw_ptr, n, weight_sum, alpha,
                                acts, &deltas[0, 0], &deltas[1, 0], &row_loss[0], &grad_out[0], threads, X_sparse,
                                NULL, 0)
        finally:
            free(acts)
        return loss
