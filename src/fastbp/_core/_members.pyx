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

These run on the calling thread: the products are single BLAS calls (the Python layer holds BLAS to one thread).
"""

from cython cimport floating
from libc.string cimport memcpy

from fastbp._core._activations cimport activation_block, mul_derivative, mul_factor
from fastbp._core._blas cimport column_sums, gemm
from fastbp._core._masks cimport MaskBlock
from fastbp._core._records cimport Layer, LayerPass


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


cdef void scaled_input(const LayerPass* p, floating* u) noexcept nogil:
    """u (n_rows, k n_in) <- a_in * r, member by member (a_in repeated per member when shared; r = 1 when NULL)."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, m
    cdef Py_ssize_t i, j, width = <Py_ssize_t> k * n_in
    cdef const floating* a = <const floating*> p.a_in
    cdef const floating* r = <const floating*> p.r
    cdef const floating* row
    cdef floating* out
    for i in range(p.n_rows):
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


cdef void member_gemm(int k, bint trans_a, bint trans_b, int m, int n, int inner, const floating* a,
                      Py_ssize_t a_step, int lda, const floating* b, Py_ssize_t b_step, int ldb, floating beta,
                      floating* c, Py_ssize_t c_step, int ldc) noexcept nogil:
    """One product per member: member i's operands start a_step, b_step and c_step entries after member i - 1's
    (0: shared), in matrices of leading dimensions lda, ldb, ldc (a member's rows strided among the others')."""
    cdef int i
    for i in range(k):
        gemm(trans_a, trans_b, m, n, inner, <floating> 1, a + i * a_step, lda, b + i * b_step, ldb, beta,
             c + i * c_step, ldc)


cdef void products(const LayerPass* p, const floating* x, bint shared, floating* out) noexcept nogil:
    """out (n_rows, k n_out) <- x W for each member: x is (n_rows, k n_in), or (n_rows, n_in) when `shared`."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out
    cdef const floating* W = <const floating*> p.W
    if not layer.weight_per_member:  # one product over the n_rows k member rows
        gemm(False, False, <int> (p.n_rows * k), n_out, n_in, <floating> 1, x, n_in, W, n_out, <floating> 0, out,
             n_out)
    else:
        member_gemm(k, False, False, <int> p.n_rows, n_out, n_in, x, 0 if shared else n_in,
                    n_in if shared else k * n_in, W, <Py_ssize_t> n_in * n_out, n_out, 0, out, n_out, k * n_out)


cdef void members_forward(const LayerPass* p, floating* a_out, floating* factor_out) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_out = layer.n_out, m
    cdef Py_ssize_t width = <Py_ssize_t> k * n_out
    cdef MaskBlock mask = p.mask
    cdef const floating* x = <const floating*> p.a_in
    cdef bint shared = layer.shared_input
    if p.u != NULL:
        scaled_input(p, <floating*> p.u)
        x, shared = <const floating*> p.u, False
    products(p, x, shared, a_out)
    if p.s != NULL:
        if p.product != NULL:
            memcpy(p.product, a_out, p.n_rows * width * sizeof(floating))
        scale_columns(a_out, <const floating*> p.s, p.n_rows, width)
    mask.first_row = 0
    if layer.bias_per_member:  # b (k, n_out) is a bias of the (n_rows, k n_out) matrix's columns
        mask.first_col = 0
        activation_block(layer.activation, a_out, <const floating*> p.b, p.n_rows, width, width, &mask, factor_out)
        return
    for m in range(k):
        mask.first_col = m * n_out
        activation_block(layer.activation, a_out + m * n_out, <const floating*> p.b, p.n_rows, n_out, width, &mask,
                         NULL if factor_out == NULL else factor_out + m * n_out)


cdef void column_sums_of_product(const floating* a, const floating* b, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                 floating* sums_out) noexcept nogil:
    """sums_out (n_cols,) <- column sums of a * b, (n_rows, n_cols) each, in row order."""
    cdef Py_ssize_t i, j
    for j in range(n_cols):
        sums_out[j] = 0
    for i in range(n_rows):
        for j in range(n_cols):
            sums_out[j] += a[i * n_cols + j] * b[i * n_cols + j]


cdef void weight_gradient(const LayerPass* p, const floating* x, bint shared, const floating* delta,
                          floating* dW) noexcept nogil:
    """dW <- x^T delta (+ (alpha/S) W with the penalty), for the shared W or each member's."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out
    cdef Py_ssize_t i, size = layer.weight.size
    cdef const floating* W = <const floating*> p.W
    cdef floating beta = 0
    if p.penalty:
        for i in range(size):
            dW[i] = (<floating> p.alpha_scaled) * W[i]
        beta = 1
    if not layer.weight_per_member:
        gemm(True, False, n_in, n_out, <int> (p.n_rows * k), <floating> 1, x, n_in, delta, n_out, beta, dW, n_out)
    else:
        member_gemm(k, True, False, n_in, n_out, <int> p.n_rows, x, 0 if shared else n_in,
                    n_in if shared else k * n_in, delta, n_out, k * n_out, beta, dW, <Py_ssize_t> n_in * n_out, n_out)


cdef void input_delta(const LayerPass* p, const floating* delta, floating* du) noexcept nogil:
    """du (n_rows, k n_in) <- delta W^T for each member."""
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out
    cdef const floating* W = <const floating*> p.W
    if not layer.weight_per_member:
        gemm(False, True, <int> (p.n_rows * k), n_in, n_out, <floating> 1, delta, n_out, W, n_out, <floating> 0, du,
             n_in)
    else:
        member_gemm(k, False, True, <int> p.n_rows, n_in, n_out, delta, n_out, k * n_out, W,
                    <Py_ssize_t> n_in * n_out, n_out, 0, du, n_in, k * n_in)


cdef void members_backward(const LayerPass* p, floating* delta, floating* delta_in_out, floating* grad,
                           floating* scratch) noexcept nogil:
    cdef const Layer* layer = p.layer
    cdef int k = layer.members, n_in = layer.n_in, n_out = layer.n_out, m
    cdef Py_ssize_t i, j, n = p.n_rows, width = <Py_ssize_t> k * n_out, in_width = <Py_ssize_t> k * n_in
    cdef const floating* x = <const floating*> p.a_in
    cdef const floating* a
    cdef const floating* r = <const floating*> p.r
    cdef floating* du
    cdef floating* dr
    cdef bint shared = layer.shared_input
    if layer.bias_per_member:
        column_sums(delta, n, width, width, grad + layer.bias.offset)
    else:
        column_sums(delta, n * k, n_out, n_out, grad + layer.bias.offset)
    if p.s != NULL:
        column_sums_of_product(delta, <const floating*> p.product, n, width, grad + layer.out_scale.offset)
        scale_columns(delta, <const floating*> p.s, n, width)
    if p.u != NULL:
        x, shared = <const floating*> p.u, False
    weight_gradient(p, x, shared, delta, grad + layer.weight.offset)
    if delta_in_out == NULL and r == NULL:
        return
    du = delta_in_out if delta_in_out != NULL else scratch
    input_delta(p, delta, du)
    if r != NULL:
        a = <const floating*> p.a_in
        dr = grad + layer.in_scale.offset
        for j in range(in_width):
            dr[j] = 0
        for i in range(n):
            for m in range(k):
                for j in range(n_in):
                    dr[m * n_in + j] += du[i * in_width + m * n_in + j] * (
                        a[i * n_in + j] if layer.shared_input else a[i * in_width + m * n_in + j])
        if delta_in_out == NULL:
            return
        scale_columns(du, r, n, in_width)
    if p.factor_in != NULL:
        mul_factor(du, <const floating*> p.factor_in, n, in_width, in_width)
    else:
        mul_derivative(p.f_in, du, <const floating*> p.a_in, n, in_width, in_width)
