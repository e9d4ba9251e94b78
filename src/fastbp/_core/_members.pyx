"""The layers of an ensemble of k members trained as one network: TabM's BatchEnsemble layers and their kin.

A row of a layer of k members holds every member's units, member after member: (k, n) for n units, so a batch's
activations are an (n_rows, k n) matrix, which is also (n_rows k, n) with member m of row i at row i k + m. Layer
l computes, for each member m,

    z_m = ((a_m * r_m) W_m) * s_m + b_m,      a_out_m = f(z_m)  (with the layer's dropout)

where r (in_scale, k x n_in) and s (out_scale, k x n_out) are optional, W is shared by the members or one per
member, and b shared or one per member. The first layer reads X, the same row for every member. A shared W is
one product over the n_rows k member rows; one per member is k products over strided rows (BLAS's leading
dimensions). The dropout masks are keyed by row and unit like a plain layer's, a unit being member m's unit j at
m n_out + j, so each member drops its own units. The backward pass:

    db = sum_rows delta (over the members too when b is shared), ds = sum_rows delta * (u W), delta <- delta * s,
    dW = u^T delta (+ (alpha/S) W, per member when W is), du = delta W^T, dr = sum_rows du * a,
    delta_in = du * r, then times the layer before's f'.

Threads take blocks (`_splits.along`): of rows for the forward pass and du (each block its rows' products and
elementwise work), of columns for the column sums and a shared W's gradient (each column's sum over the rows
stays in one loop or one BLAS call, in row order), of members for per-member gradients. With thread_invariant the
blocks are fixed, so the bits do not depend on the number of threads.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from fastbp._core._activations cimport activation_block, mul_derivative, mul_factor
from fastbp._core._blas cimport add_scaled, column_sums, gemm, scaled_copy
from fastbp._core._inputs cimport lookup_add, lookup_scale_grad, lookup_weight_grad
from fastbp._core._masks cimport MaskBlock
from fastbp._core._records cimport Layer, LayerPass, Split, Threads
from fastbp._core._splits cimport COL_BLOCK, ROW_BLOCK, along, block_size, team


cdef enum:
    CACHE_ENTRIES = 16384   # entries of a few rows that the elementwise sweeps take at a time (64 to 128 KB)


cdef bint needs_input(const Layer* layer) noexcept nogil:
    # A shared W multiplies member rows, so the first layer repeats X once per member unless r does already.
    return layer.in_scale != NULL or (layer.shared_input and not layer.weight_per_member)


cdef void repeat_rows(const floating* rows, Py_ssize_t n_rows, Py_ssize_t width, int members,
                      floating* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef int m
    for i in range(n_rows):
        for m in range(members):
            memcpy(out + (i * members + m) * width, rows + i * width, width * sizeof(floating))


# --- the forward pass, a block of rows at a time ------------------------------------------------------------------

cdef void scaled_input(const LayerPass* p, floating* u, Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Rows first.. of u (n_rows, k n_in) <- a_in * r, member by member (a_in once per member when shared; r = 1
    when NULL)."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, m
    cdef Py_ssize_t i, j, width = <Py_ssize_t> k * n_in
    cdef const floating* a = <const floating*> p.a_in
    cdef const floating* r = <const floating*> p.r
    cdef const floating* row
    cdef floating* out
    for i in range(first, first + count):
        for m in range(k):
            row = a + i * n_in if layer.shared_input else a + i * width + m * n_in
            out = u + i * width + m * n_in
            if r == NULL:
                memcpy(out, row, n_in * sizeof(floating))
            else:
                for j in range(n_in):
                    out[j] = row[j] * r[m * n_in + j]


cdef void scale_columns(floating* a, const floating* scale, Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """a (n_rows, n_cols) *= scale (n_cols,), column by column."""
    cdef Py_ssize_t i, j
    for i in range(n_rows):
        for j in range(n_cols):
            a[i * n_cols + j] = a[i * n_cols + j] * scale[j]


cdef inline Py_ssize_t cache_rows(Py_ssize_t width) noexcept nogil:
    """Rows of width entries that the elementwise sweeps take at a time: about CACHE_ENTRIES, at least one."""
    return max(<Py_ssize_t> 1, CACHE_ENTRIES // width)


cdef void activate_rows(const LayerPass* p, floating* out, floating* factor, Py_ssize_t first, Py_ssize_t count,
                        MaskBlock* mask) noexcept nogil:
    """Rows first.. (out: the first of them) of the layer's output after its product: the copy before s
    (p.product), times s, then f of that plus b with the layer's dropout, and factor <- the factor, if not
    NULL."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_out = layer.n_out, m
    cdef Py_ssize_t width = <Py_ssize_t> k * n_out
    if p.s != NULL:
        if p.product != NULL:
            memcpy((<floating*> p.product) + first * width, out, count * width * sizeof(floating))
        scale_columns(out, <const floating*> p.s, count, width)
    mask.first_row = first
    if layer.bias_per_member:  # b (k, n_out) is a bias of the (n_rows, k n_out) matrix's columns
        mask.first_col = 0
        activation_block(layer.activation, out, <const floating*> p.b, count, width, width, mask, factor)
        return
    for m in range(k):
        mask.first_col = m * n_out
        activation_block(layer.activation, out + m * n_out, <const floating*> p.b, count, n_out, width, mask,
                         NULL if factor == NULL else factor + m * n_out)


cdef void forward_rows(const LayerPass* p, floating* a_out, floating* factor_out, Py_ssize_t first,
                       Py_ssize_t count) noexcept nogil:
    """Rows first .. first + count of the layer's forward pass."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out, m
    cdef Py_ssize_t width = <Py_ssize_t> k * n_out
    cdef MaskBlock mask = p.mask
    cdef bint shared = layer.shared_input
    cdef const floating* x
    cdef floating* out = a_out + first * width
    cdef floating* factor = NULL if factor_out == NULL else factor_out + first * width
    cdef Py_ssize_t start, rows, chunk = cache_rows(width)
    if p.u != NULL:
        scaled_input(p, <floating*> p.u, first, count)
        x, shared = (<const floating*> p.u) + first * k * n_in, False
    else:
        x = (<const floating*> p.a_in) + first * (n_in if shared else k * n_in)
    if not layer.weight_per_member:  # one product over the block's member rows
        gemm(False, False, <int> (count * k), n_out, n_in, <floating> 1, x, n_in, <const floating*> p.W, n_out,
             <floating> 0, out, n_out)
    else:  # member m's rows are every k-th: BLAS's leading dimensions stride over the others'
        for m in range(k):
            gemm(False, False, <int> count, n_out, n_in, <floating> 1, x if shared else x + m * n_in,
                 n_in if shared else k * n_in, (<const floating*> p.W) + <Py_ssize_t> m * n_in * n_out, n_out,
                 <floating> 0, out + m * n_out, k * n_out)
    # What follows the product, a few rows at a time while they are in cache: the first layer's categorical
    # columns (their rows of W), the copy before s, s, the bias and the activation with its dropout each sweep
    # those rows, not the whole block.
    start = 0
    while start < count:
        rows = min(chunk, count - start)
        if p.codes != NULL:
            for m in range(k):
                lookup_add(p, out + start * width + m * n_out, first + start, rows, 0, n_out, width, m)
        activate_rows(p, out + start * width, NULL if factor == NULL else factor + start * width, first + start,
                      rows, &mask)
        start += rows


cdef void members_forward(const LayerPass* p, floating* a_out, floating* factor_out, Threads threads,
                          Py_ssize_t pass_work) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef Py_ssize_t block
    cdef Split split = along(threads, p.n_rows, ROW_BLOCK, p.n_rows * layer.members * layer.n_in * layer.n_out,
                             pass_work)
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(threads, split)):
            forward_rows(p, a_out, factor_out, block * split.size, block_size(split, block, p.n_rows))
    else:
        for block in range(split.count):
            forward_rows(p, a_out, factor_out, block * split.size, block_size(split, block, p.n_rows))


# --- the backward pass ----------------------------------------------------------------------------------------------

cdef void output_columns(const LayerPass* p, floating* delta, floating* grad, Py_ssize_t first,
                         Py_ssize_t count) noexcept nogil:
    """Columns first.. of the (n_rows, k n_out) delta: their per-member bias and s gradients, then delta *= s."""
    cdef const Layer* layer = p.layer
    cdef Py_ssize_t i, j, width = <Py_ssize_t> layer.members * layer.n_out
    cdef const floating* product = <const floating*> p.product
    cdef const floating* s = <const floating*> p.s
    cdef floating* ds = NULL if s == NULL else grad + layer.out_scale.offset
    cdef floating* db = NULL if not layer.bias_per_member else grad + layer.bias.offset
    if s == NULL:
        column_sums(delta + first, p.n_rows, count, width, db + first)
        return
    for j in range(first, first + count):
        ds[j] = 0
        if db != NULL:
            db[j] = 0
    # One sweep: each sum over the rows in row order, as `column_sums` adds.
    for i in range(p.n_rows):
        if db != NULL:
            for j in range(first, first + count):
                db[j] += delta[i * width + j]
        for j in range(first, first + count):
            ds[j] += delta[i * width + j] * product[i * width + j]
            delta[i * width + j] = delta[i * width + j] * s[j]


cdef void weight_columns(const LayerPass* p, const floating* x, const floating* delta, floating* dW,
                         Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Columns first.. of a shared W's gradient x^T delta (+ (alpha/S) W), over every member's rows."""
    cdef const Layer* layer = p.layer
    cdef int n_in = layer.n_in, n_out = layer.n_out
    cdef floating beta = 0
    if p.penalty:
        scaled_copy((<const floating*> p.W) + first, <floating> p.alpha_scaled, n_in, count, n_out, dW + first)
        beta = 1
    gemm(True, False, n_in, <int> count, <int> (p.n_rows * layer.members), <floating> 1, x, n_in, delta + first,
         n_out, beta, dW + first, n_out)


cdef void member_weight(const LayerPass* p, const floating* x, bint shared, const floating* delta, floating* dW,
                        int m) noexcept nogil:
    """Member m's W gradient x_m^T delta_m (+ (alpha/S) W_m)."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out
    cdef Py_ssize_t size = <Py_ssize_t> n_in * n_out
    cdef floating* out = dW + m * size
    cdef floating beta = 0
    if p.penalty:
        scaled_copy((<const floating*> p.W) + m * size, <floating> p.alpha_scaled, n_in, n_out, n_out, out)
        beta = 1
    gemm(True, False, n_in, n_out, <int> p.n_rows, <floating> 1, x if shared else x + m * n_in,
         n_in if shared else k * n_in, delta + m * n_out, k * n_out, beta, out, n_out)


cdef void input_rows(const LayerPass* p, const floating* delta, floating* du, Py_ssize_t first,
                     Py_ssize_t count) noexcept nogil:
    """Rows first.. of du (n_rows, k n_in) <- delta W^T for each member."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out, m
    cdef const floating* W = <const floating*> p.W
    cdef const floating* d = delta + first * k * n_out
    cdef floating* out = du + first * k * n_in
    if not layer.weight_per_member:
        gemm(False, True, <int> (count * k), n_in, n_out, <floating> 1, d, n_out, W, n_out, <floating> 0, out, n_in)
    else:
        for m in range(k):
            gemm(False, True, <int> count, n_in, n_out, <floating> 1, d + m * n_out, k * n_out,
                 W + <Py_ssize_t> m * n_in * n_out, n_out, <floating> 0, out + m * n_in, k * n_in)


cdef void scale_columns_gradient(const LayerPass* p, const floating* du, Py_ssize_t first,
                                 Py_ssize_t count, floating* dr) noexcept nogil:
    """Columns first.. of r's gradient (k n_in,): the column sums of du * a over the rows (a once per member when
    the input is shared)."""
    cdef const Layer* layer = p.layer
    cdef int n_in = layer.n_in
    cdef Py_ssize_t i, j, width = <Py_ssize_t> layer.members * n_in
    cdef const floating* a = <const floating*> p.a_in
    for j in range(first, first + count):
        dr[j] = 0
    for i in range(p.n_rows):
        for j in range(first, first + count):
            dr[j] += du[i * width + j] * (a[i * n_in + j % n_in] if layer.shared_input else a[i * width + j])


cdef void scale_delta_columns(const LayerPass* p, floating* du, Py_ssize_t first, Py_ssize_t count,
                              floating* dr) noexcept nogil:
    """Columns first.. of r's gradient (as `scale_columns_gradient`, of an input of its own per member) and, in
    the same sweep, of the layer before's delta: du * r, times that layer's f' (or its factor)."""
    cdef Py_ssize_t i, j, width = <Py_ssize_t> p.layer.members * p.layer.n_in
    cdef const floating* a = <const floating*> p.a_in
    cdef const floating* r = <const floating*> p.r
    cdef const floating* factor = <const floating*> p.factor_in
    cdef floating* row
    for j in range(first, first + count):
        dr[j] = 0
    for i in range(p.n_rows):
        row = du + i * width
        for j in range(first, first + count):
            dr[j] += row[j] * a[i * width + j]
        scale_columns(row + first, r + first, 1, count)
        if factor != NULL:
            mul_factor(row + first, factor + i * width + first, 1, count, width)
        else:
            mul_derivative(p.f_in, row + first, a + i * width + first, 1, count, width, p.kept_scale_in)


cdef void delta_rows(const LayerPass* p, floating* du, Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Rows first.. of the layer before's delta, for a layer without r: du times that layer's f' (or its
    factor)."""
    cdef Py_ssize_t width = <Py_ssize_t> p.layer.members * p.layer.n_in
    cdef floating* rows = du + first * width
    if p.factor_in != NULL:
        mul_factor(rows, (<const floating*> p.factor_in) + first * width, count, width, width)
    else:
        mul_derivative(p.f_in, rows, (<const floating*> p.a_in) + first * width, count, width, width,
                       p.kept_scale_in)


cdef void member_sum(const LayerPass* p, floating* du, floating* delta_in, Py_ssize_t first,
                     Py_ssize_t count) noexcept nogil:
    """Rows first.. of delta_in (n_rows, n_in) <- sum over the members of du * r (r = 1 when NULL): the delta of an
    input every member reads (du's rows are scaled in place)."""
    cdef int k = p.layer.members, n_in = p.layer.n_in, m
    cdef Py_ssize_t i, j
    cdef floating* out
    if p.r != NULL:
        scale_columns(du + first * k * n_in, <const floating*> p.r, count, <Py_ssize_t> k * n_in)
    for i in range(first, first + count):
        out = delta_in + i * n_in
        for j in range(n_in):
            out[j] = 0
        for m in range(k):  # du and delta_in are two buffers (a shared input is the first layer's)
            add_scaled(out, du + (i * k + m) * n_in, 1, n_in)


cdef enum Phase:
    # The steps of a layer's backward pass, each cut into blocks of its own dimension.
    SHARED_BIAS         # columns of n_out: a shared b's gradient, from the unscaled deltas
    OUTPUT_COLUMNS      # columns of k n_out: per-member b's and s's gradients, then delta *= s
    WEIGHT_COLUMNS      # columns of n_out: a shared W's gradient
    MEMBER_WEIGHTS      # members: each member's W gradient
    LOOKUP_WEIGHT       # columns of n_out: the categorical rows' W gradient
    LOOKUP_AND_BIAS     # columns of n_out: LOOKUP_WEIGHT and SHARED_BIAS in one read of the deltas (no s)
    LOOKUP_SCALE        # members: the categorical rows' r gradient
    INPUT_ROWS          # rows: du = delta W^T
    SCALE_GRADIENT      # columns of k n_in: r's gradient (of the first layer)
    SCALE_DELTA         # columns of k n_in: r's gradient and the layer before's delta, du * r times its f'
    DELTA_ROWS          # rows: the layer before's delta without r, du times its f'
    MEMBER_SUM          # rows: the delta of a shared input (the embeddings): the sum over members of du * r


cdef struct Job:
    # What a backward phase's blocks share: du, the gradient buffer, the layer's members' input (u, or a_in)
    # and whether every member shares it; the threads, and the pass's work (which `_splits.along` weighs).
    Phase phase
    void* du
    void* delta_in
    void* grad
    const void* x
    bint shared
    Threads threads
    Py_ssize_t pass_work


cdef void job_block(const LayerPass* p, const Job* job, floating* delta, Py_ssize_t first,
                    Py_ssize_t count) noexcept nogil:
    """Block [first, first + count) of the job's phase (delta: the job's, typed)."""
    cdef const Layer* layer = p.layer
    cdef floating* grad = <floating*> job.grad
    cdef floating* du = <floating*> job.du
    cdef const floating* x = <const floating*> job.x
    cdef Py_ssize_t m
    if job.phase == SHARED_BIAS:
        column_sums(delta + first, p.n_rows * layer.members, count, layer.n_out, grad + layer.bias.offset + first)
    elif job.phase == OUTPUT_COLUMNS:
        output_columns(p, delta, grad, first, count)
    elif job.phase == WEIGHT_COLUMNS:
        weight_columns(p, x, delta, grad + layer.weight.offset, first, count)
    elif job.phase == MEMBER_WEIGHTS:
        for m in range(first, first + count):
            member_weight(p, x, job.shared, delta, grad + layer.weight.offset, <int> m)
    elif job.phase == LOOKUP_WEIGHT:
        lookup_weight_grad(p, delta, grad, first, count, NULL)
    elif job.phase == LOOKUP_AND_BIAS:
        lookup_weight_grad(p, delta, grad, first, count, grad + layer.bias.offset + first)
    elif job.phase == LOOKUP_SCALE:
        lookup_scale_grad(p, delta, grad, first, count)
    elif job.phase == INPUT_ROWS:
        input_rows(p, delta, du, first, count)
    elif job.phase == MEMBER_SUM:
        member_sum(p, du, <floating*> job.delta_in, first, count)
    elif job.phase == SCALE_GRADIENT:
        scale_columns_gradient(p, du, first, count, grad + layer.in_scale.offset)
    elif job.phase == SCALE_DELTA:
        scale_delta_columns(p, du, first, count, grad + layer.in_scale.offset)
    else:
        delta_rows(p, du, first, count)


cdef void run(const LayerPass* p, Job* job, floating* delta, Phase phase, Py_ssize_t side, Py_ssize_t fixed_size,
              Py_ssize_t work) noexcept nogil:
    """One phase over its `side` rows, columns or members (delta: the deltas, scaled in place by s), cut by
    `_splits.along` (fixed blocks of fixed_size); an OpenMP region only when the blocks go to threads."""
    cdef Py_ssize_t block
    cdef Split split = along(job.threads, side, fixed_size, work, job.pass_work)
    job.phase = phase
    if split.threaded:
        for block in prange(split.count, schedule="static", num_threads=team(job.threads, split)):
            job_block(p, job, delta, block * split.size, block_size(split, block, side))
    else:
        for block in range(split.count):
            job_block(p, job, delta, block * split.size, block_size(split, block, side))


cdef void members_backward(const LayerPass* p, floating* delta, floating* delta_in_out, floating* grad,
                           floating* scratch, Threads threads, Py_ssize_t pass_work) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef int k = layer.members
    cdef Py_ssize_t n = p.n_rows, width = <Py_ssize_t> k * layer.n_out, in_width = <Py_ssize_t> k * layer.n_in
    cdef Py_ssize_t work = n * k * layer.n_in * layer.n_out
    # A shared b and the lookups sum the same deltas when no s scales them between: one read does both.
    cdef bint lookup_and_bias = p.codes != NULL and p.s == NULL and not layer.bias_per_member
    cdef Job job
    job.grad, job.du, job.delta_in, job.threads, job.pass_work = grad, NULL, NULL, threads, pass_work
    job.x, job.shared = p.a_in, layer.shared_input
    if p.u != NULL:
        job.x, job.shared = p.u, False
    if not layer.bias_per_member and not lookup_and_bias:  # before delta *= s: a shared b sums the unscaled deltas
        run(p, &job, delta, SHARED_BIAS, layer.n_out, COL_BLOCK, n * width)
    if layer.bias_per_member or p.s != NULL:
        run(p, &job, delta, OUTPUT_COLUMNS, width, COL_BLOCK, n * width)
    if layer.weight_per_member:
        run(p, &job, delta, MEMBER_WEIGHTS, k, 1, work)
    else:
        run(p, &job, delta, WEIGHT_COLUMNS, layer.n_out, COL_BLOCK, work)
    if p.codes != NULL:
        run(p, &job, delta, LOOKUP_AND_BIAS if lookup_and_bias else LOOKUP_WEIGHT, layer.n_out, COL_BLOCK,
            n * width)
        if p.rc != NULL:
            run(p, &job, delta, LOOKUP_SCALE, k, 1, n * width)
    if delta_in_out == NULL and p.r == NULL:
        return
    # A shared input's du is every member's: its delta is their sum, so du goes to the scratch first.
    job.du = delta_in_out if delta_in_out != NULL and not layer.shared_input else scratch
    run(p, &job, delta, INPUT_ROWS, n, ROW_BLOCK, work)
    if p.r != NULL and delta_in_out != NULL and not layer.shared_input:
        run(p, &job, delta, SCALE_DELTA, in_width, COL_BLOCK, n * in_width)
        return
    if p.r != NULL:
        run(p, &job, delta, SCALE_GRADIENT, in_width, COL_BLOCK, n * in_width)
    if delta_in_out != NULL and layer.shared_input:
        job.delta_in = delta_in_out
        run(p, &job, delta, MEMBER_SUM, n, ROW_BLOCK, n * in_width)
    elif delta_in_out != NULL:
        run(p, &job, delta, DELTA_ROWS, n, ROW_BLOCK, n * in_width)
