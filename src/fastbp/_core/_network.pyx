"""Batch forward and backward passes of a multilayer perceptron over one flat parameter buffer.

Matrix products go to BLAS (`_blas.gemm`); bias + activation, derivatives, the output loss and the column
sums run here in C, in parallel over rows or columns when large (never as thread-order-dependent
reductions); when the input is a CSR matrix, layer 0's two products are `_sparse`'s. `CoreNet` owns a
network's per-layer table (`_records.Layout`) and exports it to Python; its `def` methods are the thin
wrappers the Python layer calls: they allocate workspaces and outputs, then release the GIL once for the
whole pass. They trust their caller (`fastbp.backends`) to have validated shapes, dtypes and values.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc

import numpy as np

from libc.stdint cimport uint32_t, uint64_t

from fastbp._core._activations cimport (IDENTITY, RELU, Activation, activation_block, bias_activation, from_output,
                                        mul_derivative, mul_factor)
from fastbp._core._blas cimport column_sums, gemm, scaled_copy, sum_of_squares
from fastbp._core._losses cimport Loss, Output, Targets, loss_and_delta, output_activation
from fastbp._core._masks cimport MaskBlock, keep_scale, keep_threshold, layer_key
from fastbp._core._inputs cimport embedding_backward, encode_inputs, lookup_add, lookup_weight_grad
from fastbp._core._members cimport members_backward, members_forward, needs_input, repeat_rows
from fastbp._core._openmp_helpers cimport (MIN_THREAD_WORK, start_team, use_threads, use_threads_elementwise,
                                           usable_threads)
from fastbp._core._optim cimport Span, update_span
from fastbp._core._records cimport (BIAS, CATEGORY_SCALE, CATEGORY_WEIGHT, EMBEDDING_BIAS, EMBEDDING_WEIGHT,
                                    FREQUENCIES, IN_SCALE, LINEAR_BIAS, LINEAR_WEIGHT, NO_EMBEDDING, OUT_SCALE,
                                    PERIODIC, PIECEWISE_LINEAR, STEP_LAYERS, STEP_COEFFICIENTS, STORE_GRADIENT, WEIGHT,
                                    INPUTS_STAGE, DENSE_STAGE, MEMBERS_STAGE, Deltas, Pass, Stage,
                                    Backward, Batch, Block, Dropout, Embedding, Inputs, Layer,
                                    LayerPass, Layout, Role, SparseRows, Split, Threads, Update, Workspace)
from fastbp._core._splits cimport ROW_BLOCK, column_blocks, n_blocks, product_split, team
from fastbp._core._sparse cimport CSR, Scratch, nonzeros, sparse_input, sparse_layer, sparse_weight_grad

from fastbp._core._activations import ACTIVATIONS
from fastbp._core._losses import LOSSES, OUTPUTS

ACTIVATION_NAMES = {code: name for name, code in ACTIVATIONS.items()}
ROLES = {"weight": WEIGHT, "bias": BIAS, "in_scale": IN_SCALE, "out_scale": OUT_SCALE,
         "category_weight": CATEGORY_WEIGHT, "category_scale": CATEGORY_SCALE, "embedding_weight": EMBEDDING_WEIGHT,
         "embedding_bias": EMBEDDING_BIAS, "linear_weight": LINEAR_WEIGHT, "linear_bias": LINEAR_BIAS,
         "frequencies": FREQUENCIES}  # `fastbp.layout.ROLES`
EMBEDDINGS = {None: NO_EMBEDDING, "piecewise_linear": PIECEWISE_LINEAR, "periodic": PERIODIC}
# `CoreNet.predict` of at most this many rows calls no BLAS (so its callers need not limit BLAS's threads).
PREDICT_FEW_ROWS = 4


cdef Threads thread_plan(int n_threads, bint invariant, bint single) noexcept nogil:
    """How a pass uses `n_threads`: fixed blocks when `invariant`, else one block per thread where it pays
    (`single`: the model is float32, whose multiply-adds take half the time). In a child forked after the
    parent started threads, one thread (`usable_threads`)."""
    cdef Threads threads
    threads.n = usable_threads(n_threads)
    threads.invariant = invariant
    threads.min_work = MIN_THREAD_WORK * (2 if single else 1)
    return threads


cdef LayerPass layer_pass(const Layout* net, const floating* params, const Batch* batch, const Workspace* work,
                          int l) noexcept nogil:
    """What layer l's blocks share in a pass over the batch: its input (X, or layer l - 1's activations) and
    its weights; the backward fields are left for `backward` to fill."""
    cdef LayerPass p
    p.layer = &net.layers[l]
    p.n_rows = batch.n_rows
    p.a_in = (work.encoded if net.inputs.active else batch.X) if l == 0 else work.acts[l - 1]
    p.W = params + p.layer.weight.offset
    p.b = params + p.layer.bias.offset
    p.r = NULL if p.layer.in_scale == NULL else params + p.layer.in_scale.offset
    p.s = NULL if p.layer.out_scale == NULL else params + p.layer.out_scale.offset
    p.u = NULL if work.inputs == NULL else work.inputs[l]
    p.product = NULL if work.products == NULL else work.products[l]
    p.mask.active = False
    p.inputs = &net.inputs
    p.codes = work.codes if l == 0 and p.layer.category_weight != NULL else NULL
    p.Wc = NULL if p.codes == NULL else params + p.layer.category_weight.offset
    p.rc = NULL if p.layer.category_scale == NULL else params + p.layer.category_scale.offset
    p.delta = NULL
    p.f_in = net.layers[l - 1].activation if l > 0 else IDENTITY
    p.factor_in = work.factor[l - 1] if l > 0 and work.factor != NULL else NULL
    p.kept_scale_in = 1
    if l > 0 and work.dropped and net.layers[l - 1].dropout > 0:
        p.kept_scale_in = keep_scale(net.layers[l - 1].dropout)
    p.penalty = False
    p.alpha_scaled = 0
    p.mode = STORE_GRADIENT
    p.rate = 0
    return p


cdef void layer_block(const LayerPass* p, floating* a_out, floating* factor_out, Py_ssize_t first_row,
                      Py_ssize_t n_rows, Py_ssize_t first_col, Py_ssize_t n_cols) noexcept nogil:
    """Block (rows first_row.., columns first_col..) of a_out (batch, n_out) <- f(a_in W + b), with the layer's
    dropout; the output layer's f is the identity, so it keeps its logits. factor_out (batch, n_out), when not
    NULL, gets the block's f'(z) and mask (`_activations.activation_block`)."""
    cdef int n_in = p.layer.n_in
    cdef int n_out = p.layer.n_out
    cdef floating* block = a_out + first_row * n_out + first_col
    cdef MaskBlock mask = p.mask
    gemm(False, False, <int> n_rows, <int> n_cols, n_in, <floating> 1, (<const floating*> p.a_in) + first_row * n_in,
         n_in, (<const floating*> p.W) + first_col, n_out, <floating> 0, block, n_out)
    if p.codes != NULL:  # the first layer's categorical columns: their rows of W
        lookup_add(p, block, first_row, n_rows, first_col, n_cols, n_out, 0)
    mask.first_row, mask.first_col = first_row, first_col
    activation_block(p.layer.activation, block, (<const floating*> p.b) + first_col, n_rows, n_cols, n_out, &mask,
                     NULL if factor_out == NULL else factor_out + first_row * n_out + first_col)


cdef void forward_block(const LayerPass* p, floating* a_out, floating* factor_out, Split split,
                        Py_ssize_t block) noexcept nogil:
    """Block number `block` of a layer's forward pass: split.size of its columns or of its rows."""
    cdef int n_out = p.layer.n_out
    cdef Py_ssize_t first = block * split.size
    if split.by_columns:
        layer_block(p, a_out, factor_out, 0, p.n_rows, first, min(split.size, n_out - first))
    else:
        layer_block(p, a_out, factor_out, first, min(split.size, p.n_rows - first), 0, n_out)


cdef Pass make_pass(const Layout* net, const Batch* batch, Workspace* work, Threads threads) noexcept nogil:
    """What the stages of a pass over the batch share (no dropout; `backward` sets how it ends)."""
    cdef Pass run
    run.net, run.batch, run.work, run.threads = net, batch, work, threads
    run.work_done = batch.n_rows * net.macs_per_row
    run.dropout = NULL
    run.how.alpha, run.how.mode, run.how.rate, run.how.update = 0, STORE_GRADIENT, 0, NULL
    return run


cdef void dense_forward(const Pass* run, const LayerPass* p, floating* a_out, floating* factor_out) noexcept nogil:
    """A plain layer's forward pass, cut by `product_split`."""
    cdef Py_ssize_t block, n_rows = p.n_rows
    cdef Split split = product_split(run.threads, n_rows, p.layer.n_out, n_rows * p.layer.n_in * p.layer.n_out,
                                     column_blocks(p.layer.n_out), run.work_done)
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(run.threads, split)):
            forward_block(p, a_out, factor_out, split, block)
    else:
        for block in range(split.count):
            forward_block(p, a_out, factor_out, split, block)


cdef void stage_forward(const Pass* run, const Stage* stage, const floating* params) noexcept nogil:
    """One stage's forward pass: its kind's kernel, and a layer's dropout in a training pass."""
    cdef int l = stage.layer
    cdef LayerPass p
    cdef const Dropout* dropout = run.dropout
    cdef floating* a_out
    cdef floating* factor_out
    if stage.kind == INPUTS_STAGE:
        encode_inputs(run.net, params, run.batch, run.work, run.threads, run.work_done)
        return
    p = layer_pass(run.net, params, run.batch, run.work, l)
    if dropout != NULL and p.layer.dropout > 0:
        p.mask.active = True
        p.mask.key = layer_key(dropout.seed, dropout.step, <uint64_t> l)
        p.mask.threshold = keep_threshold(p.layer.dropout)
        p.mask.scale = keep_scale(p.layer.dropout)
    a_out = <floating*> run.work.acts[l]
    factor_out = <floating*> run.work.factor[l] if run.work.factor != NULL else NULL
    if stage.kind == MEMBERS_STAGE:
        members_forward(&p, a_out, factor_out, run.threads, run.work_done)
    elif l == 0 and run.batch.X_sparse != NULL:
        sparse_layer(run.batch.X_sparse, &p, a_out, factor_out, run.threads.n)
    else:
        dense_forward(run, &p, a_out, factor_out)


cdef void forward_logits(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                         const Dropout* dropout, Threads threads) noexcept nogil:
    """work.acts[l] (n_rows, n_out of layer l) <- activations of layer l; the last one holds the output logits.
    A training pass (`dropout` not NULL) drops the units of the layers with a dropout rate; where work.factor[l]
    is set it gets layer l's f'(z) and mask, which the backward pass multiplies by.

    The stages in order (`Layout.stages`), each by its kind's kernel. The batch's X is dense, or its X_sparse CSR
    rows. Each product is cut by `product_split` (or `_splits.along`). An OpenMP region is entered only when
    threads are used: even with one thread, each costs a futex call, which was half the time of a 30-16-1
    minibatch.
    """
    cdef int s
    cdef Pass run = make_pass(net, batch, work, threads)
    run.dropout = dropout
    work.dropped = dropout != NULL
    for s in range(net.n_stages):
        stage_forward(&run, &net.stages[s], params)


# --- prediction: every layer over a block of rows at a time --------------------------------------------------

cdef enum:
    FEW_ROWS = 4              # a prediction of at most this many rows multiplies without BLAS (PREDICT_FEW_ROWS)
    # The activations of a block of rows, per layer, stay in L2 (about 1 MB float64); blocks of fewer rows
    # repacked the large layers' W too often (measured on a 10,000-row MNIST-shaped batch: 64-row blocks
    # took 1.15x the time of 256-row ones).
    PREDICT_BLOCK_ENTRIES = 1 << 17


cdef inline Py_ssize_t predict_block_rows(const Layout* net) noexcept nogil:
    """Rows per block of a prediction: enough for BLAS to run at speed, few enough for the block's activations
    to stay in cache from one layer to the next. Fixed by the network, so any thread count gives the same
    blocks (and bits)."""
    return max(<Py_ssize_t> 16, min(<Py_ssize_t> 1024, PREDICT_BLOCK_ENTRIES // net.width))


cdef bint all_finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """Whether x (n,) holds no NaN or infinity: from the exponent bits, in a loop of integer operations that
    vectorizes."""
    cdef Py_ssize_t i
    cdef uint32_t bad32 = 0
    cdef uint64_t bad64 = 0
    cdef const uint32_t* bits32
    cdef const uint64_t* bits64
    if floating is float:
        bits32 = <const uint32_t*> x
        for i in range(n):
            bad32 |= <uint32_t> ((bits32[i] & 0x7F800000U) == 0x7F800000U)
    else:
        bits64 = <const uint64_t*> x
        for i in range(n):
            bad64 |= <uint64_t> ((bits64[i] & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL)
    return bad32 == 0 and bad64 == 0


cdef extern from "_vecmath.h":
    void fastbp_vecmath_init() noexcept nogil
    void fastbp_rows_times_d(const double* a, const double* W, Py_ssize_t n_rows, Py_ssize_t n_in, Py_ssize_t n_out,
                             double* z) noexcept nogil
    void fastbp_rows_times_f(const float* a, const float* W, Py_ssize_t n_rows, Py_ssize_t n_in, Py_ssize_t n_out,
                             float* z) noexcept nogil


fastbp_vecmath_init()  # this module's copy of the CPU dispatch (each module that includes the header has one)


cdef inline void few_rows_product(const floating* a, const floating* W, Py_ssize_t n_rows, int n_in, int n_out,
                                  floating* z_out) noexcept nogil:
    """z_out (n_rows, n_out) <- a (n_rows, n_in) W (n_in, n_out) without BLAS, vectorized (`_vecmath.h`)."""
    if floating is float:
        fastbp_rows_times_f(a, W, n_rows, n_in, n_out, z_out)
    else:
        fastbp_rows_times_d(a, W, n_rows, n_in, n_out, z_out)


cdef bint predict_block(const Layout* net, const floating* params, const floating* X, Py_ssize_t n_rows,
                        floating* out, floating* buffer_a, floating* buffer_b) noexcept nogil:
    """out (n_rows, n_outputs) <- y_hat of the rows X (n_rows, n_features) through every layer, the block's
    activations ping-ponging between buffer_a and buffer_b (n_rows * width each); False, with nothing
    computed, when X holds NaN or infinity."""
    cdef int l, n_in, n_out
    cdef const Layer* layer
    cdef const floating* a = X
    cdef floating* z
    if not all_finite(X, n_rows * net.layers[0].n_in):
        return False
    for l in range(net.n_layers):
        layer = &net.layers[l]
        n_in, n_out = layer.n_in, layer.n_out
        z = out if l == net.n_layers - 1 else (buffer_a if l % 2 == 0 else buffer_b)
        if n_rows <= FEW_ROWS:
            few_rows_product(a, params + layer.weight.offset, n_rows, n_in, n_out, z)
        else:
            gemm(False, False, <int> n_rows, n_out, n_in, <floating> 1, a, n_in, params + layer.weight.offset, n_out,
                 <floating> 0, z, n_out)
        bias_activation(layer.activation, z, params + layer.bias.offset, n_rows, n_out, n_out)
        a = z
    output_activation(net.output, out, n_rows, net.layers[net.n_layers - 1].n_out)
    return True


cdef void loss_block(const Layout* net, const Batch* batch, const floating* logits, floating* delta_out,
                     double* row_loss_out, Py_ssize_t rows, Py_ssize_t block) noexcept nogil:
    """Rows block * rows.. of `objective`'s per-row losses and output deltas."""
    cdef Targets targets
    cdef Py_ssize_t k = net.layers[net.n_layers - 1].n_out
    cdef Py_ssize_t first = block * rows
    targets.z = logits + first * k
    targets.y = (<const floating*> batch.Y) + first * k
    targets.sample_weight = NULL if batch.sample_weight == NULL else (<const floating*> batch.sample_weight) + first
    targets.n_rows = min(rows, batch.n_rows - first)
    targets.n_outputs = k
    loss_and_delta(net.output, &net.loss, &targets, 1.0 / batch.weight_sum, delta_out + first * k, row_loss_out + first)


cdef double objective(const Layout* net, const floating* params, const Batch* batch, const floating* logits,
                      floating* delta_out, const Workspace* work, double alpha, int n_threads) noexcept nogil:
    """(1/S) sum_i w_i L_i + (alpha / 2S) sum ||B||^2 over the penalized blocks B, S = batch.weight_sum, from the
    output logits (n_rows, n_outputs); also writes delta[L] = (y_hat - y) w_i / S into delta_out (n_rows,
    n_outputs). An ensemble of k members has logits (n_rows, k n_outputs), and its data term is the mean of the
    members' (each row's targets and weight once per member: S k divides, delta[L] = (y_hat - y) w_i / (S k)).
    work.row_loss: (n_rows k,) scratch. Rows go in blocks of ROW_BLOCK, on threads when there are enough entries
    for an elementwise pass to pay (the loss is a few operations per output, whatever the network); the sums run
    in row order and in reverse block order, the same for any n_threads."""
    cdef Py_ssize_t block, i
    cdef int b
    cdef Batch rows = batch[0]
    cdef int n_outputs = net.layers[net.n_layers - 1].n_out
    cdef double data_loss = 0, sumsq = 0
    if net.members > 1:
        rows.n_rows = batch.n_rows * net.members
        rows.weight_sum = batch.weight_sum * net.members
        repeat_rows(<const floating*> batch.Y, batch.n_rows, n_outputs, net.members, <floating*> work.member_targets)
        rows.Y = work.member_targets
        if batch.sample_weight != NULL:
            repeat_rows(<const floating*> batch.sample_weight, batch.n_rows, 1, net.members,
                        <floating*> work.member_weights)
            rows.sample_weight = work.member_weights
    cdef Py_ssize_t n_rows = rows.n_rows
    cdef bint threaded = use_threads_elementwise(n_threads, n_rows * n_outputs)
    cdef Py_ssize_t size = ROW_BLOCK if threaded else n_rows
    cdef const floating* sample_weight = <const floating*> rows.sample_weight
    cdef double* row_loss = work.row_loss
    if threaded:
        for block in prange(n_blocks(n_rows, size), schedule="static", num_threads=start_team(n_threads)):
            loss_block(net, &rows, logits, delta_out, row_loss, size, block)
    else:
        for block in range(n_blocks(n_rows, size)):
            loss_block(net, &rows, logits, delta_out, row_loss, size, block)
    for i in range(n_rows):
        data_loss += row_loss[i] if sample_weight == NULL else sample_weight[i] * row_loss[i]
    if alpha != 0:
        for b in range(net.n_blocks - 1, -1, -1):
            if net.blocks[b].penalized:
                sumsq += sum_of_squares(params + net.blocks[b].offset, net.blocks[b].size)
    return data_loss / rows.weight_sum + 0.5 * alpha * sumsq / batch.weight_sum


cdef void weight_grad_block(const LayerPass* p, floating* coef_out, floating* intercept_out, Split split,
                            Py_ssize_t block) noexcept nogil:
    """Block number `block` of dW = a_in^T delta + (alpha/S) W (split.size of its columns or of its rows) into
    coef_out (n_in, n_out), and its share of db = sum_rows delta into intercept_out (n_out,). Each entry's
    sum over the batch rows stays in one BLAS call and in row order. With STEP_COEFFICIENTS, coef_out is W
    itself and the block's products end in W += -rate dW instead (BLAS with beta = 1)."""
    cdef int n_in = p.layer.n_in
    cdef int n_out = p.layer.n_out
    cdef Py_ssize_t first = block * split.size
    cdef Py_ssize_t count, bias_first, bias_count
    cdef const floating* a_in = <const floating*> p.a_in
    cdef const floating* delta = <const floating*> p.delta
    cdef const floating* W = <const floating*> p.W
    cdef floating alpha_scaled = <floating> p.alpha_scaled
    cdef floating scale = 1
    cdef floating beta = <floating> (1 if p.penalty else 0)
    if p.mode == STEP_COEFFICIENTS:
        scale = -(<floating> p.rate)
        beta = 1
    if split.by_columns:
        count = min(split.size, n_out - first)
        if p.penalty:
            scaled_copy(W + first, alpha_scaled, n_in, count, n_out, coef_out + first)
        gemm(True, False, n_in, <int> count, <int> p.n_rows, scale, a_in, n_in, delta + first, n_out,
             beta, coef_out + first, n_out)
        bias_first, bias_count = first, count
    else:
        count = min(split.size, n_in - first)
        if p.penalty:
            scaled_copy(W + first * n_out, alpha_scaled, count, n_out, n_out, coef_out + first * n_out)
        gemm(True, False, <int> count, n_out, <int> p.n_rows, scale, a_in + first, n_in, delta, n_out,
             beta, coef_out + first * n_out, n_out)
        # Row blocks of dW share every column of delta: each takes an equal share of the bias sums.
        bias_count = n_blocks(n_out, split.count)
        bias_first = min(block * bias_count, <Py_ssize_t> n_out)
        bias_count = min(bias_count, n_out - bias_first)
    column_sums(delta + bias_first, p.n_rows, bias_count, n_out, intercept_out + bias_first)


cdef void delta_block(const LayerPass* p, floating* delta_in_out, Split split, Py_ssize_t block) noexcept nogil:
    """Block number `block` of delta_in_out (n_rows, n_in) <- (delta W^T) * f_in'(a_in): split.size of its
    columns (a block of W's rows, as in the forward pass) or of its rows."""
    cdef int n_in = p.layer.n_in
    cdef int n_out = p.layer.n_out
    cdef const floating* W = <const floating*> p.W
    cdef const floating* delta = <const floating*> p.delta
    cdef const floating* a_in = <const floating*> p.a_in
    cdef Py_ssize_t first = block * split.size
    cdef Py_ssize_t count
    if split.by_columns:
        count = min(split.size, n_in - first)
        gemm(False, True, <int> p.n_rows, <int> count, n_out, <floating> 1, delta, n_out, W + first * n_out, n_out,
             <floating> 0, delta_in_out + first, n_in)
        if p.factor_in != NULL:
            mul_factor(delta_in_out + first, (<const floating*> p.factor_in) + first, p.n_rows, count, n_in)
        else:
            mul_derivative(p.f_in, delta_in_out + first, a_in + first, p.n_rows, count, n_in, p.kept_scale_in)
    else:
        count = min(split.size, p.n_rows - first)
        gemm(False, True, <int> count, n_in, n_out, <floating> 1, delta + first * n_out, n_out, W, n_out,
             <floating> 0, delta_in_out + first * n_in, n_in)
        if p.factor_in != NULL:
            mul_factor(delta_in_out + first * n_in, (<const floating*> p.factor_in) + first * n_in, count, n_in, n_in)
        else:
            mul_derivative(p.f_in, delta_in_out + first * n_in, a_in + first * n_in, count, n_in, n_in,
                           p.kept_scale_in)


cdef void dense_backward(const LayerPass* p, floating* delta_in_out, floating* grad_out, floating* params,
                         Threads threads, Py_ssize_t pass_work) noexcept nogil:
    """A plain layer's share of `backward`: delta_in_out (n_rows, n_in) <- the layer before's delta when not NULL,
    then its weights' and biases' gradient (or with STEP_COEFFICIENTS, W's step)."""
    cdef int n_in = p.layer.n_in, n_out = p.layer.n_out
    cdef Py_ssize_t block, n_rows = p.n_rows
    cdef Split split
    # The weight-gradient products write the gradient, or with STEP_COEFFICIENTS step W itself.
    cdef floating* coef_out = (params if p.mode == STEP_COEFFICIENTS else grad_out) + p.layer.weight.offset
    cdef floating* intercept_out = grad_out + p.layer.bias.offset
    # delta[l-1] before dW[l]: with STEP_COEFFICIENTS, computing dW[l] steps W[l], which delta[l-1] reads.
    if delta_in_out != NULL:
        split = product_split(threads, n_rows, n_in, n_rows * n_in * n_out, column_blocks(n_in), pass_work)
        if split.threaded:
            for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
                delta_block(p, delta_in_out, split, block)
        else:
            for block in range(split.count):
                delta_block(p, delta_in_out, split, block)
    split = product_split(threads, n_in, n_out, n_rows * n_in * n_out, True, pass_work)
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
            weight_grad_block(p, coef_out, intercept_out, split, block)
    else:
        for block in range(split.count):
            weight_grad_block(p, coef_out, intercept_out, split, block)
    if p.codes != NULL:
        lookup_weight_grad(p, <const floating*> p.delta, grad_out, 0, n_out, NULL)


cdef Span span_of(const Block* block) noexcept nogil:
    """A block as the optimizer steps it: its parameters and its decay policy."""
    cdef Span span
    span.first, span.count, span.decayed = block.offset, block.size, block.decayed
    return span


cdef void update_block(const Update* update, floating* params, const floating* grad, const Block* block,
                       int n_threads) noexcept nogil:
    """The optimizer's step on one block, with weight decay when its policy says so."""
    update_span(update.rule, update.step, params, grad, update.state, span_of(block), n_threads)


cdef void step_stage(const Pass* run, const Stage* stage, floating* params, const floating* grad) noexcept nogil:
    """STEP_LAYERS: the optimizer's step on every block of the stage, while its gradient is in cache."""
    cdef int b
    if run.how.mode != STEP_LAYERS:
        return
    for b in range(run.net.n_blocks):
        if run.net.blocks[b].layer == stage.layer:
            update_block(run.how.update, params, grad, &run.net.blocks[b], run.threads.n)


cdef void stage_backward(const Pass* run, const Stage* stage, floating* params, floating* grad_out,
                         Deltas* deltas) noexcept nogil:
    """One stage's backward pass from deltas.delta = dL/dZ of its layer: its blocks' gradients into grad_out,
    the delta of the stage before into deltas.other (then swapped), and with STEP_LAYERS its blocks' step."""
    cdef int l = stage.layer
    cdef LayerPass p
    cdef const Batch* batch = run.batch
    cdef floating* delta = <floating*> deltas.delta
    cdef floating* other = <floating*> deltas.other
    # The first layer's input delta is the embedding's (encoded_delta: NULL without one).
    cdef floating* delta_in = other if l > 0 else <floating*> run.work.encoded_delta
    if stage.kind == INPUTS_STAGE:
        if run.net.inputs.embedding != NO_EMBEDDING:
            embedding_backward(run.net, params, batch, run.work, grad_out, run.threads, run.work_done)
            step_stage(run, stage, params, grad_out)
        return
    p = layer_pass(run.net, params, batch, run.work, l)
    p.delta = delta
    p.penalty = run.how.alpha != 0 and p.layer.weight.penalized
    p.alpha_scaled = run.how.alpha / batch.weight_sum
    p.mode = run.how.mode
    p.rate = run.how.rate
    if stage.kind == MEMBERS_STAGE:
        members_backward(&p, delta, delta_in, grad_out, other, run.threads, run.work_done)
    elif l == 0 and batch.X_sparse != NULL:
        sparse_weight_grad(batch.X_sparse, &p, grad_out + p.layer.weight.offset, run.threads.n)
        column_sums(delta, batch.n_rows, p.layer.n_out, p.layer.n_out, grad_out + p.layer.bias.offset)
    else:
        dense_backward(&p, delta_in, grad_out, params, run.threads, run.work_done)
    step_stage(run, stage, params, grad_out)
    if l > 0:
        deltas.delta, deltas.other = other, delta


cdef double backward(const Layout* net, floating* params, const Batch* batch, Workspace* work, Backward how,
                     floating* grad_out, Threads threads) noexcept nogil:
    """Objective and its gradient, given the activations `forward_logits` left in `work` for the same batch (a
    CSR batch needs a `_sparse.Scratch` attached).

    objective = (1/S) sum_i w_i L_i + (alpha / 2S) sum ||W||^2 over the penalized W, with S = batch.weight_sum.
    delta[L] = (y_hat - y) w_i / S; dW[l] = A[l-1]^T delta[l] (+ (alpha/S) W[l] when penalized);
    db[l] = sum_rows delta[l];
    delta[l-1] = (delta[l] W[l]^T) * f'(A[l-1]).
    grad_out (n_params,) is fully overwritten, or with how.mode == STEP_COEFFICIENTS (dense X, alpha == 0
    only) gets the intercepts' gradient alone while the products step the coefficients in params; with
    STEP_LAYERS (dense X) each stage's parameters take how.update's step once its gradient is written.
    In either fused mode a non-finite objective writes and steps nothing. The stages in reverse order, each by
    its kind's kernel (`stage_backward`); each product is cut by `product_split`; fixed blocks put the weight
    gradients over columns (each entry's sum over rows stays in one BLAS call).
    """
    cdef int s
    cdef double loss
    cdef Deltas deltas
    cdef Pass run = make_pass(net, batch, work, threads)
    run.how = how
    deltas.delta, deltas.other = work.delta_a, work.delta_b
    loss = objective(net, params, batch, <const floating*> work.acts[net.n_layers - 1], <floating*> deltas.delta,
                     work, how.alpha, threads.n)
    if how.mode != STORE_GRADIENT and not isfinite(loss):
        return loss
    for s in range(net.n_stages - 1, -1, -1):
        stage_backward(&run, &net.stages[s], params, grad_out, &deltas)
    return loss


cdef CSR csr_rows(const Layout* net, X, dtype):
    """X as a CSR matrix the first layer reads in place (`_sparse.CSR`), or None for a dense array; the layers of
    an ensemble and the inputs take dense X only."""
    cdef CSR X_csr = sparse_input(X, dtype)
    if X_csr is not None and (net.members > 1 or net.inputs.active):
        raise ValueError("the layers of an ensemble, and inputs, take dense X")
    return X_csr


cdef inline bint needs_factor(const Layer* layer, bint dropout) noexcept nogil:
    """Whether a hidden layer keeps its factor in a backward pass: its f' needs z, or it drops units (but ReLU,
    whose factor with dropout `mul_derivative` makes from its output)."""
    return not from_output(layer.activation) or (dropout and layer.dropout > 0 and layer.activation != RELU)


cdef void* address(array) except NULL:
    """The first byte of a C-contiguous NumPy array of at least one byte (kept alive by the caller)."""
    cdef unsigned char[::1] view = array.reshape(-1).view(np.uint8)
    return &view[0]


cdef class StageScratch:
    """The buffers that a pass over n_rows rows needs for layers of several members (`Workspace.inputs`,
    `products` for a backward pass, `member_targets` and `member_weights`) and for the first layer's inputs
    (`Workspace.encoded` and the rest). A plain network needs none."""

    def __cinit__(self, CoreNet net, Py_ssize_t n_rows, dtype, bint backward):
        cdef int l, n_layers = net.layout.n_layers
        cdef int k = net.layout.members
        cdef const Inputs* inputs = &net.layout.inputs
        self.arrays = []
        self.inputs = self.products = NULL
        self.targets = self.weights = NULL
        self.encoded = self.features = self.pre_relu = self.encoded_delta = self.feature_delta = NULL
        self.codes = NULL
        if inputs.active:
            self.encoded = self.keep(n_rows * inputs.width, dtype)
            self.codes = <int*> self.keep(n_rows * inputs.n_categorical, np.int32)
            if inputs.embedding != NO_EMBEDDING:
                self.features = self.keep(n_rows * inputs.n_numeric * inputs.n_bins, dtype)
                self.pre_relu = self.keep(n_rows * inputs.width * inputs.activation, dtype)
                self.encoded_delta = self.keep(n_rows * inputs.width * backward, dtype)
                self.feature_delta = self.keep(n_rows * inputs.n_numeric * inputs.n_bins * backward
                                               * (inputs.embedding == PERIODIC), dtype)
        if k == 1:
            return
        self.inputs = <void**> malloc(n_layers * sizeof(void*))
        self.products = <void**> malloc(n_layers * sizeof(void*))
        if self.inputs == NULL or self.products == NULL:
            raise MemoryError()
        inputs_, products = net.member_widths(backward)
        for l in range(n_layers):
            self.inputs[l] = self.keep(n_rows * inputs_[l], dtype)
            self.products[l] = self.keep(n_rows * products[l], dtype) if backward else NULL
        self.targets = self.keep(n_rows * k * net.layer_sizes[n_layers], dtype)
        self.weights = self.keep(n_rows * k, dtype)

    cdef void* keep(self, Py_ssize_t size, dtype) except? NULL:
        if size == 0:
            return NULL
        array = np.empty(size, dtype=dtype)
        self.arrays.append(array)
        return address(array)

    def __dealloc__(self):
        free(self.inputs)
        free(self.products)

    cdef void attach(self, Workspace* work) noexcept:
        work.inputs = self.inputs
        work.products = self.products
        work.member_targets = self.targets
        work.member_weights = self.weights
        work.encoded = self.encoded
        work.codes = self.codes
        work.features = self.features
        work.pre_relu = self.pre_relu
        work.encoded_delta = self.encoded_delta
        work.feature_delta = self.feature_delta


cdef class CoreNet:
    """A network's per-layer table (its `Layout`), and batch passes over a flat parameter buffer.

    Parameters
    ----------
    layout : fastbp.layout.Layout, the network's parameter blocks (decided in Python, copied here)
    activations : sequence of str, one name of ACTIVATIONS per hidden layer (n_layers - 1 of them)
    output : str, a name of OUTPUTS
    loss : str, a name of LOSSES ("natural": the output's own); huber_delta, label_smoothing: its settings
    dropout : sequence of float in [0, 1), one rate per hidden layer, or None for none
    """

    def __cinit__(self, layout, activations, str output, str loss="natural", double huber_delta=1.0,
                  double label_smoothing=0.0, dropout=None):
        cdef int l, b
        cdef int n_layers = layout.n_layers
        cdef Layer* layer
        if len(activations) != n_layers - 1:
            raise ValueError(f"{n_layers - 1} hidden layers need as many activations, got {len(activations)}")
        rates = [0.0] * (n_layers - 1) if dropout is None else [float(rate) for rate in dropout]
        if len(rates) != n_layers - 1:
            raise ValueError(f"{n_layers - 1} hidden layers need as many dropout rates, got {len(rates)}")
        self.layer_sizes = tuple(layout.layer_sizes)
        self.layout.n_layers = n_layers
        self.layout.n_blocks = len(layout.blocks)
        self.layout.output = <Output> OUTPUTS[output]
        self.layout.loss.loss = <Loss> LOSSES[loss]
        self.layout.loss.huber_delta = huber_delta
        self.layout.loss.smoothing = label_smoothing
        self.layout.layers = <Layer*> malloc(n_layers * sizeof(Layer))
        self.layout.blocks = <Block*> malloc(self.layout.n_blocks * sizeof(Block))
        self.layout.n_stages = n_layers + (layout.inputs is not None)
        self.layout.stages = <Stage*> malloc(self.layout.n_stages * sizeof(Stage))
        if self.layout.layers == NULL or self.layout.blocks == NULL or self.layout.stages == NULL:
            raise MemoryError()
        index = {}
        for b, block in enumerate(layout.blocks):
            index[block.role, block.layer] = b
            self.layout.blocks[b].role = <Role> <int> ROLES[block.role]
            self.layout.blocks[b].layer = block.layer
            self.layout.blocks[b].offset = block.offset
            self.layout.blocks[b].size = block.size
            self.layout.blocks[b].penalized = block.penalized
            self.layout.blocks[b].decayed = block.decayed
        k = layout.members
        for l in range(n_layers):
            layer = &self.layout.layers[l]
            layer.n_in = self.layer_sizes[l]
            layer.n_out = self.layer_sizes[l + 1]
            code = ACTIVATIONS[activations[l]] if l < n_layers - 1 else IDENTITY
            layer.activation = <Activation> <int> code
            layer.dropout = rates[l] if l < n_layers - 1 else 0
            layer.members = k
            layer.shared_input = l == 0 and k > 1
            layer.weight_per_member = len(layout.block("weight", l).shape) == 3
            layer.bias_per_member = len(layout.block("bias", l).shape) == 2
            layer.weight = &self.layout.blocks[index["weight", l]]
            layer.bias = &self.layout.blocks[index["bias", l]]
            layer.in_scale = self.find(index, "in_scale", l)
            layer.out_scale = self.find(index, "out_scale", l)
            layer.category_weight = self.find(index, "category_weight", l)
            layer.category_scale = self.find(index, "category_scale", l)
        self.layout.members = k
        for b in range(self.layout.n_stages):  # the inputs first, when the network has them
            self.layout.stages[b].layer = b - (layout.inputs is not None)
            self.layout.stages[b].kind = INPUTS_STAGE if self.layout.stages[b].layer < 0 else (
                MEMBERS_STAGE if k > 1 else DENSE_STAGE)
        self.layout.n_params = layout.n_params
        self.layout.macs_per_row = layout.macs_per_row
        # The scratch of one row: the widest layer's units, or the first layer's member inputs (its dr's du).
        self.layout.width = k * max(self.layer_sizes[1:] + ((self.layer_sizes[0],) if k > 1 else ()))
        self.layout.n_columns = self.layer_sizes[0]
        self.layout.inputs.active = False
        self.layout.inputs.embedding = NO_EMBEDDING
        if layout.inputs is not None:
            self.read_inputs(layout.inputs, index)

    cdef const Block* find(self, dict index, str role, int layer):
        """The block of `role` in `layer`, or NULL when the layout has none."""
        return &self.layout.blocks[index[role, layer]] if (role, layer) in index else NULL

    cdef read_inputs(self, inputs, dict index):
        """The core's record of a `fastbp.layout.Inputs`, its fixed arrays kept by this object."""
        cdef Inputs* record = &self.layout.inputs
        cdef const double[::1] encoding_weight, encoding_bias
        cdef const int[::1] offsets = inputs.offsets
        embedding = inputs.embedding
        record.active = True
        record.n_columns = self.layout.n_columns = inputs.n_columns
        record.n_numeric = inputs.n_numeric
        record.width = inputs.width
        record.embedding = <Embedding> <int> EMBEDDINGS[None if embedding is None else embedding.kind]
        record.d = 1 if embedding is None else embedding.d_embedding
        record.n_bins = 0
        record.activation = embedding is not None and embedding.activation
        record.lite = embedding is not None and getattr(embedding, "lite", False)
        record.n_categorical = len(inputs.categories)
        record.category_offset = &offsets[0]
        record.encoding_weight = record.encoding_bias = NULL
        self.kept = [offsets]
        if record.embedding == PIECEWISE_LINEAR:
            weight, bias = embedding.encoding()
            encoding_weight, encoding_bias = weight.reshape(-1), bias.reshape(-1)
            record.encoding_weight, record.encoding_bias = &encoding_weight[0], &encoding_bias[0]
            record.n_bins = embedding.n_bins
            self.kept += [encoding_weight, encoding_bias]
        elif record.embedding == PERIODIC:
            record.n_bins = 2 * embedding.n_frequencies
        record.weight = self.find(index, "embedding_weight", -1)
        record.bias = self.find(index, "embedding_bias", -1)
        record.linear_weight = self.find(index, "linear_weight", -1)
        record.linear_bias = self.find(index, "linear_bias", -1)
        record.frequencies = self.find(index, "frequencies", -1)

    def __dealloc__(self):
        free(self.layout.layers)
        free(self.layout.blocks)
        free(self.layout.stages)

    @property
    def members(self):
        return self.layout.members

    @property
    def stages(self):
        """The stage table, in forward order: (kind, layer) pairs, kind "inputs", "dense" or "members"."""
        cdef int s
        names = {INPUTS_STAGE: "inputs", DENSE_STAGE: "dense", MEMBERS_STAGE: "members"}
        return [(names[self.layout.stages[s].kind], self.layout.stages[s].layer) for s in range(self.layout.n_stages)]

    @property
    def row_scratch(self):
        """The entries of scratch a row takes in a forward pass: its widest layer's units (every member's), its
        inputs' embedding and encoding."""
        cdef const Inputs* inputs = &self.layout.inputs
        return self.layout.width + (inputs.width + inputs.n_numeric * inputs.n_bins if inputs.active else 0)

    def factor_widths(self, bint dropout):
        """The units of each layer that keeps a factor in a backward pass (0 for the others), with dropout or
        without: what a caller allocates (n_rows times these) for `Workspace.factor`."""
        cdef int l
        return [self.units(l) if l < self.layout.n_layers - 1
                and needs_factor(&self.layout.layers[l], dropout) else 0 for l in range(self.layout.n_layers)]

    def units(self, int l):
        """The units of a row of layer l's output: n_out for each of its members."""
        return self.layout.layers[l].n_out * self.layout.layers[l].members

    def member_widths(self, bint backward):
        """(inputs, products): the units of a row of each layer's `Workspace.inputs` and, for a backward pass,
        `Workspace.products` (0 where a layer has none)."""
        cdef int l
        cdef const Layer* layer
        inputs, products = [], []
        for l in range(self.layout.n_layers):
            layer = &self.layout.layers[l]
            inputs.append(layer.members * layer.n_in if layer.members > 1 and needs_input(layer) else 0)
            products.append(self.units(l) if backward and layer.out_scale != NULL else 0)
        return inputs, products

    def forward(self, const floating[::1] params, X, int n_threads, bint invariant, bint members=False):
        """Output activations y_hat, a new (n_samples, n_outputs) array, with no dropout. X: (n_samples,
        n_features), a C-contiguous array or a CSR matrix (see `_sparse.CSR`), in the dtype of params.
        n_threads threads; `invariant`: fixed blocks, for results that do not depend on n_threads."""
        result = self._forward(params, X, n_threads, invariant, None, None, 0, 0, -1, 0, members)
        return result

    def predict(self, const floating[::1] params, const floating[:, ::1] X, int n_threads):
        """y_hat, a new (n_samples, n_outputs) array, of a C-contiguous X (n_samples >= 1, n_features) in the
        dtype of params, with no dropout; None, with nothing computed, when X holds NaN or infinity (which
        this checks, so callers need not).

        The rows go through every layer a block at a time, so each block's activations stay in cache, and the
        blocks are spread over n_threads threads when the batch is large; a block's rows, whatever the thread
        count, are the same (fixed by the network), and so are the results. A few rows multiply without BLAS.
        """
        if self.layout.members > 1 or self.layout.inputs.active:
            raise ValueError("CoreNet.predict is a plain network's; an ensemble or a network with inputs predicts "
                             "through forward")
        cdef Py_ssize_t n = X.shape[0], block_rows = predict_block_rows(&self.layout), block, first, count
        cdef Py_ssize_t n_blocks_ = n_blocks(n, block_rows), scratch = min(block_rows, n) * self.layout.width
        cdef int teams = 1
        cdef bint ok = True
        cdef floating* buffers
        dtype = np.float32 if floating is float else np.float64
        result = np.empty((n, self.layer_sizes[self.layout.n_layers]), dtype=dtype)
        cdef floating[:, ::1] out = result
        if n_blocks_ > 1 and use_threads(usable_threads(n_threads), n * self.layout.macs_per_row):
            teams = <int> min(<Py_ssize_t> usable_threads(n_threads), n_blocks_)
        buffers = <floating*> malloc(2 * teams * scratch * sizeof(floating))
        cdef unsigned char* finite = <unsigned char*> malloc(n_blocks_)
        if buffers == NULL or finite == NULL:
            free(buffers)
            free(finite)
            raise MemoryError()
        with nogil:
            if teams > 1:
                for block in prange(n_blocks_, schedule="static", num_threads=start_team(teams)):
                    first = block * block_rows
                    count = min(block_rows, n - first)
                    finite[block] = predict_block(&self.layout, &params[0], &X[first, 0], count, &out[first, 0],
                                                  buffers + 2 * threadid() * scratch,
                                                  buffers + (2 * threadid() + 1) * scratch)
            else:
                for block in range(n_blocks_):
                    first = block * block_rows
                    count = min(block_rows, n - first)
                    finite[block] = predict_block(&self.layout, &params[0], &X[first, 0], count, &out[first, 0],
                                                  buffers, buffers + scratch)
            for block in range(n_blocks_):
                ok = ok and finite[block]
        free(buffers)
        free(finite)
        return result if ok else None

    def objective_and_output(self, const floating[::1] params, X, const floating[:, ::1] Y, sample_weight,
                             double weight_sum, double alpha, int n_threads, bint invariant, long long dropout_seed=-1,
                             long long dropout_step=0):
        """(objective, y_hat) from one forward pass, with no backward pass; Y (n_samples, n_outputs),
        sample_weight, weight_sum, alpha and the dropout as for `loss_and_grad`."""
        return self._forward(params, X, n_threads, invariant, Y, sample_weight, weight_sum, alpha, dropout_seed,
                             dropout_step, False)

    def _forward(self, const floating[::1] params, X, int n_threads, bint invariant, Y, sample_weight,
                 double weight_sum, double alpha, long long dropout_seed, long long dropout_step, bint members):
        """The forward passes' common body: y_hat (n, n_outputs), the members' mean for an ensemble or with
        `members` each member's (n, k, n_outputs), and the objective first when Y is given."""
        cdef Py_ssize_t n = X.shape[0]
        cdef int n_layers = self.layout.n_layers
        cdef int k = self.layer_sizes[n_layers]
        cdef int m = self.layout.members
        cdef bint with_objective = Y is not None
        cdef const floating[:, ::1] targets
        cdef const floating[::1] sw
        cdef floating[::1] delta
        cdef double[::1] row_loss
        cdef double loss = 0
        cdef Threads threads = thread_plan(n_threads, invariant, floating is float)
        dtype = np.float32 if floating is float else np.float64
        cdef CSR X_csr = csr_rows(&self.layout, X, dtype)
        cdef const floating[:, ::1] X_dense
        cdef Batch batch
        cdef Workspace work
        cdef Dropout dropout
        batch.n_rows = n
        batch.X = NULL
        batch.X_sparse = NULL if X_csr is None else &X_csr.rows
        batch.Y = NULL
        batch.sample_weight = NULL
        batch.weight_sum = weight_sum
        work.factor = NULL
        work.delta_a = work.delta_b = NULL
        work.row_loss = NULL
        scratch = StageScratch(self, n, dtype, False)
        scratch.attach(&work)
        dropout.seed = <unsigned long long> max(dropout_seed, 0)
        dropout.step = <unsigned long long> max(dropout_step, 0)
        if X_csr is None:
            X_dense = X
            batch.X = &X_dense[0, 0]
        if with_objective:
            targets = Y
            batch.Y = &targets[0, 0]
            delta = np.empty(n * m * k, dtype=dtype)
            row_loss = np.empty(n * m, dtype=np.float64)
            work.delta_a = &delta[0]
            work.row_loss = &row_loss[0]
            if sample_weight is not None:
                sw = sample_weight
                batch.sample_weight = &sw[0]
        # Two ping-pong buffers for the hidden layers; the last layer writes straight into the result.
        cdef floating[:, ::1] buffers = np.empty((2, n * self.layout.width), dtype=dtype)
        result = np.empty((n, m, k), dtype=dtype)
        cdef floating[:, ::1] out = result.reshape(n, m * k)
        work.acts = <void**> malloc(n_layers * sizeof(void*))
        if work.acts == NULL:
            raise MemoryError()
        try:
            for l in range(n_layers - 1):
                work.acts[l] = &buffers[l % 2, 0]
            work.acts[n_layers - 1] = &out[0, 0]
            with nogil:
                forward_logits(&self.layout, &params[0], &batch, &work, &dropout if dropout_seed >= 0 else NULL,
                               threads)
                if with_objective:
                    loss = objective(&self.layout, &params[0], &batch, &out[0, 0], <floating*> work.delta_a, &work,
                                     alpha, threads.n)
                output_activation(self.layout.output, &out[0, 0], n * m, k)
        finally:
            free(work.acts)
        if not members:  # the ensemble's prediction: the mean of its members' output activations
            result = result[:, 0] if m == 1 else result.mean(axis=1)
        return (loss, result) if with_objective else result

    def loss_and_grad(self, const floating[::1] params, X, const floating[:, ::1] Y, sample_weight,
                      double weight_sum, double alpha, floating[::1] grad_out, int n_threads, bint invariant,
                      long long dropout_seed=-1, long long dropout_step=0):
        """Objective at `params`; writes its gradient into grad_out (n_params,). Threads as for `forward`.

        X: (n_samples, n_features), dense or CSR as for `forward`; Y: (n_samples, n_outputs);
        sample_weight: (n_samples,) or None. weight_sum divides the weighted sum of the rows' losses: their
        own sum of weights (n_samples when None), or a larger total, whose mean's share of these rows it gives.
        dropout_seed >= 0: the dropout masks of that seed at step dropout_step, else no dropout.
        """
        cdef Py_ssize_t n = X.shape[0]
        cdef int n_layers = self.layout.n_layers
        dtype = np.float32 if floating is float else np.float64
        units = [self.units(l) for l in range(n_layers)]
        cdef floating[::1] act_buf = np.empty(n * sum(units), dtype=dtype)
        widths = self.factor_widths(dropout_seed >= 0)
        cdef floating[::1] factor_buf = np.empty(max(1, n * sum(widths)), dtype=dtype)
        cdef floating[:, ::1] deltas = np.empty((2, n * self.layout.width), dtype=dtype)
        cdef double[::1] row_loss = np.empty(n * self.layout.members, dtype=np.float64)
        cdef StageScratch members = StageScratch(self, n, dtype, True)
        cdef const floating[::1] sw
        cdef double loss
        cdef Py_ssize_t offset = 0, factor_offset = 0
        cdef Threads threads = thread_plan(n_threads, invariant, floating is float)
        cdef CSR X_csr = csr_rows(&self.layout, X, dtype)
        cdef const floating[:, ::1] X_dense
        cdef Scratch scratch = Scratch()  # kept for the whole call: the batch's X_sparse points into it
        cdef Batch batch
        cdef Workspace work
        cdef Backward how
        cdef Dropout dropout
        dropout.seed = <unsigned long long> max(dropout_seed, 0)
        dropout.step = <unsigned long long> max(dropout_step, 0)
        how.alpha = alpha
        how.mode = STORE_GRADIENT
        how.update = NULL
        how.rate = 0
        batch.n_rows = n
        batch.X = NULL
        batch.X_sparse = NULL
        batch.Y = &Y[0, 0]
        batch.sample_weight = NULL
        batch.weight_sum = weight_sum
        if X_csr is None:
            X_dense = X
            batch.X = &X_dense[0, 0]
        else:
            batch.X_sparse = &X_csr.rows
            scratch.attach(X_csr, self.layer_sizes[0], nonzeros(batch.X_sparse, n), dtype)
        if sample_weight is not None:
            sw = sample_weight
            batch.sample_weight = &sw[0]
        work.delta_a = &deltas[0, 0]
        work.delta_b = &deltas[1, 0]
        work.row_loss = &row_loss[0]
        members.attach(&work)
        work.acts = <void**> malloc(n_layers * sizeof(void*))
        work.factor = <void**> malloc(n_layers * sizeof(void*))
        if work.acts == NULL or work.factor == NULL:
            free(work.acts)
            free(work.factor)
            raise MemoryError()
        try:
            for l in range(n_layers):
                work.acts[l] = &act_buf[offset]
                offset += n * units[l]
                work.factor[l] = &factor_buf[factor_offset] if widths[l] else NULL
                factor_offset += n * widths[l]
            with nogil:
                forward_logits(&self.layout, &params[0], &batch, &work, &dropout if dropout_seed >= 0 else NULL,
                               threads)
                # STORE_GRADIENT only reads params: the const buffer is not written.
                loss = backward(&self.layout, <floating*> &params[0], &batch, &work, how, &grad_out[0], threads)
        finally:
            free(work.acts)
            free(work.factor)
        return loss
