"""The first layer on CSR input: sparse x dense products in C, without a dense copy of X or of a minibatch.

Forward, A = f(X W + b): each output row adds up the rows of W that its nonzeros pick, each scaled by its
value, in the order they are stored; rows do not share anything, so threads take blocks of rows.
Weight gradient, dW = X^T delta (+ (alpha/S) W): each nonzero x at (i, k) adds x * delta[i] to row k of dW.
Rows of dW collide, so threads take blocks of dW's columns instead, and each block goes over every nonzero
of the batch, rows in batch order. Either way each entry is summed in an order set by the data alone:
the results are the same bits for any number of threads and any cut, in both thread modes.

`_network` calls these for layer 0 when the input is sparse; every later layer is dense. A minibatch is
its rows' numbers (`batch_rows`): the kernels read those rows of X in place. Indices are int32 or int64,
as scipy stores them (no copy). The kernels trust their input: `fastbp._validation` checks the contents
(indices in range, indptr non-decreasing, finite data) and `CSR` the layout before any of this runs.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t

import numpy as np

from fastbp._core._activations cimport Activation, bias_activation
from fastbp._core._openmp_helpers cimport FASTBP_OPENMP_ENABLED

ctypedef fused index_t:
    int32_t
    int64_t

cdef enum:
    # Blocks of rows or columns are multiples of this many, so the loops over a row stay vectorized.
    ALIGN = 8


cdef inline Py_ssize_t source_row(const SparseRows* X, Py_ssize_t r) noexcept nogil:
    """The matrix row that is row r of the batch X."""
    return X.rows[r] if X.rows != NULL else X.offset + r


cdef SparseRows batch_rows(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t first) noexcept nogil:
    """The minibatch of the whole matrix X that starts at position `first` of `order` (of row `first` when
    order is NULL), read in place."""
    cdef SparseRows batch = X[0]
    if order != NULL:
        batch.rows = order + first
    else:
        batch.offset = first
    return batch


cdef Py_ssize_t batch_nonzeros(const SparseRows* X, const index_t* indptr, Py_ssize_t n_rows) noexcept nogil:
    cdef Py_ssize_t r, i, total = 0
    for r in range(n_rows):
        i = source_row(X, r)
        total += indptr[i + 1] - indptr[i]
    return total


cdef Py_ssize_t nonzeros(const SparseRows* X, Py_ssize_t n_rows) noexcept nogil:
    """Stored entries in the batch's rows (explicit zeros and duplicates included)."""
    if X.wide:
        return batch_nonzeros(X, <const int64_t*> X.indptr, n_rows)
    return batch_nonzeros(X, <const int32_t*> X.indptr, n_rows)


cdef Py_ssize_t block_size(Py_ssize_t side, Py_ssize_t work, int n_threads, Py_ssize_t min_work) noexcept nogil:
    """Rows or columns per block when `side` of them share `work` multiply-adds: one block per thread that
    gets at least min_work of them (the policy of `_network`'s default blocks), else one block. Only the
    speed depends on it."""
    cdef Py_ssize_t parts = min(<Py_ssize_t> n_threads, work // min_work, side // ALIGN)
    if not FASTBP_OPENMP_ENABLED or parts < 2:
        return side
    return ((side + parts - 1) // parts + ALIGN - 1) // ALIGN * ALIGN


cdef void product_rows(const SparseRows* X, const floating* data, const index_t* indices, const index_t* indptr,
                       Py_ssize_t first, Py_ssize_t count, const floating* W, int n_out,
                       floating* z_out) noexcept nogil:
    """Rows first .. first + count of z_out (n_rows, n_out) <- the batch's rows of X times W (n_in, n_out)."""
    cdef Py_ssize_t r, p, i, j
    cdef floating x
    cdef floating* z
    cdef const floating* w
    for r in range(first, first + count):
        i = source_row(X, r)
        z = z_out + r * n_out
        for j in range(n_out):
            z[j] = 0
        for p in range(indptr[i], indptr[i + 1]):
            x = data[p]
            w = W + <Py_ssize_t> indices[p] * n_out
            for j in range(n_out):
                z[j] += x * w[j]


cdef void layer_rows(const SparseRows* X, Py_ssize_t n_rows, const floating* W, const floating* b, int n_out,
                     Activation act, floating* a_out, Py_ssize_t rows, Py_ssize_t block) noexcept nogil:
    """Block number `block` (`rows` rows) of a_out = f(X W + b)."""
    cdef Py_ssize_t first = block * rows
    cdef Py_ssize_t count = min(rows, n_rows - first)
    if X.wide:
        product_rows(X, <const floating*> X.data, <const int64_t*> X.indices, <const int64_t*> X.indptr, first,
                     count, W, n_out, a_out)
    else:
        product_rows(X, <const floating*> X.data, <const int32_t*> X.indices, <const int32_t*> X.indptr, first,
                     count, W, n_out, a_out)
    bias_activation(act, a_out + first * n_out, b, count, n_out, n_out)


cdef void sparse_layer(const SparseRows* X, Py_ssize_t n_rows, const floating* W, const floating* b, int n_out,
                       Activation act, floating* a_out, int n_threads, Py_ssize_t min_work) noexcept nogil:
    """a_out (n_rows, n_out) <- f(X W + b) for the batch X (n_rows, n_in) of CSR rows, W (n_in, n_out),
    b (n_out,): layer 0's forward pass. Blocks of rows, on threads when each gets min_work multiply-adds."""
    cdef Py_ssize_t block
    cdef Py_ssize_t rows = block_size(n_rows, nonzeros(X, n_rows) * n_out, n_threads, min_work)
    cdef Py_ssize_t n_blocks = (n_rows + rows - 1) // rows
    if n_blocks > 1:
        for block in prange(n_blocks, schedule="static", num_threads=<int> min(<Py_ssize_t> n_threads, n_blocks)):
            layer_rows(X, n_rows, W, b, n_out, act, a_out, rows, block)
    else:
        layer_rows(X, n_rows, W, b, n_out, act, a_out, rows, 0)


cdef void gradient_columns(const SparseRows* X, const floating* data, const index_t* indices,
                           const index_t* indptr, Py_ssize_t n_rows, const floating* delta, int n_in, int n_out,
                           const floating* W, floating alpha_scaled, bint penalty, Py_ssize_t first,
                           Py_ssize_t count, floating* dW_out) noexcept nogil:
    """Columns first .. first + count of dW_out (n_in, n_out) <- X^T delta (+ alpha_scaled W)."""
    cdef Py_ssize_t r, p, i, j, k
    cdef floating x
    cdef floating* g
    cdef const floating* d
    for k in range(n_in):
        g = dW_out + k * n_out + first
        if penalty:
            for j in range(count):
                g[j] = alpha_scaled * W[k * n_out + first + j]
        else:
            for j in range(count):
                g[j] = 0
    for r in range(n_rows):
        i = source_row(X, r)
        d = delta + r * n_out + first
        for p in range(indptr[i], indptr[i + 1]):
            x = data[p]
            g = dW_out + <Py_ssize_t> indices[p] * n_out + first
            for j in range(count):
                g[j] += x * d[j]


cdef void gradient_block(const SparseRows* X, Py_ssize_t n_rows, const floating* delta, int n_in, int n_out,
                         const floating* W, floating alpha_scaled, bint penalty, floating* dW_out,
                         Py_ssize_t columns, Py_ssize_t block) noexcept nogil:
    """Block number `block` (`columns` columns) of dW."""
    cdef Py_ssize_t first = block * columns
    cdef Py_ssize_t count = min(columns, n_out - first)
    if X.wide:
        gradient_columns(X, <const floating*> X.data, <const int64_t*> X.indices, <const int64_t*> X.indptr,
                         n_rows, delta, n_in, n_out, W, alpha_scaled, penalty, first, count, dW_out)
    else:
        gradient_columns(X, <const floating*> X.data, <const int32_t*> X.indices, <const int32_t*> X.indptr,
                         n_rows, delta, n_in, n_out, W, alpha_scaled, penalty, first, count, dW_out)


cdef void sparse_weight_grad(const SparseRows* X, Py_ssize_t n_rows, const floating* delta, int n_in, int n_out,
                             const floating* W, floating alpha_scaled, bint penalty, floating* dW_out,
                             int n_threads, Py_ssize_t min_work) noexcept nogil:
    """dW_out (n_in, n_out) <- X^T delta + alpha_scaled W (without the last term unless `penalty`): layer 0's
    weight gradient for the batch X (n_rows, n_in) of CSR rows and delta (n_rows, n_out). Blocks of
    columns, on threads when each gets min_work multiply-adds (writing dW counts as one per entry)."""
    cdef Py_ssize_t block
    cdef Py_ssize_t work = (nonzeros(X, n_rows) + n_in) * n_out
    cdef Py_ssize_t columns = block_size(n_out, work, n_threads, min_work)
    cdef Py_ssize_t n_blocks = (n_out + columns - 1) // columns
    if n_blocks > 1:
        for block in prange(n_blocks, schedule="static", num_threads=<int> min(<Py_ssize_t> n_threads, n_blocks)):
            gradient_block(X, n_rows, delta, n_in, n_out, W, alpha_scaled, penalty, dW_out, columns, block)
    else:
        gradient_block(X, n_rows, delta, n_in, n_out, W, alpha_scaled, penalty, dW_out, columns, 0)


cdef const void* address(array):
    return <const void*> <size_t> array.ctypes.data


cdef class CSR:
    """A scipy.sparse CSR matrix or array, as the kernels read it (`rows`: every row, in order).

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or array of shape (n_rows, n_cols), its contents already checked by
        `fastbp._validation.check_X`
    dtype : the model's float dtype, which matrix.data must have

    Checks only what the pointers need: the format, the arrays' types, dtypes and lengths (a TypeError or
    ValueError naming X for a caller that skipped the validation).
    """

    def __cinit__(self, matrix, dtype):
        if getattr(matrix, "format", None) != "csr" or len(matrix.shape) != 2:
            raise TypeError(f"X must be a 2-D scipy.sparse CSR matrix here, got {type(matrix).__name__}")
        data, indices, indptr = matrix.data, matrix.indices, matrix.indptr
        for name, array in (("data", data), ("indices", indices), ("indptr", indptr)):
            if not isinstance(array, np.ndarray) or array.ndim != 1 or not array.flags.c_contiguous:
                raise TypeError(f"X.{name} must be a contiguous 1-D NumPy array")
        if data.dtype != dtype:
            raise TypeError(f"X.data must be {np.dtype(dtype)}, got {data.dtype}")
        if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
            raise TypeError(f"X.indices and X.indptr must both be int32 or int64, got {indices.dtype} and "
                            f"{indptr.dtype}")
        if indptr.shape[0] != matrix.shape[0] + 1 or min(data.shape[0], indices.shape[0]) < indptr[-1]:
            raise ValueError("X.indptr does not match X's rows, X.data or X.indices")
        self.arrays = (data, indices, indptr)
        self.n_rows = matrix.shape[0]
        self.rows.data = address(data)
        self.rows.indices = address(indices)
        self.rows.indptr = address(indptr)
        self.rows.wide = indices.dtype == np.int64
        self.rows.rows = NULL
        self.rows.offset = 0
