"""The first layer on CSR input: sparse x dense products in C, without a dense copy of X or of a minibatch.

Forward, A = f(X W + b): each output row adds up the rows of W that its nonzeros pick, each scaled by its
value, in the order they are stored; rows share nothing, so threads take blocks of rows.
Weight gradient, dW = X^T delta (+ (alpha/S) W): each nonzero x at (i, k) adds x * delta[i] to row k of dW.
The batch's entries are first regrouped by column (a counting sort into the `Scratch`, rows in batch
order), so that each row of dW is summed in registers and written once; threads take blocks of dW's rows.
Either way each entry is summed in an order set by the data alone: the results are the same bits for
any number of threads and any cut, in both thread modes.

`_network` calls these for layer 0 when the input is sparse; every later layer is dense. A minibatch is
its rows' numbers (`batch_rows`): the kernels read those rows of X in place. Indices are int32 or int64,
as scipy stores them (no copy). The kernels trust their input: `fastbp._validation` checks the contents
(indices in range, indptr non-decreasing, finite data) and `CSR` the layout before any of this runs.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t

import numpy as np
import scipy.sparse

from fastbp._core._activations cimport activation_block
from fastbp._core._masks cimport MaskBlock
from fastbp._core._openmp_helpers cimport FASTBP_OPENMP_ENABLED, MIN_PARALLEL_ELEMENTS, start_team

cdef extern from *:
    # A hint to the CPU: start loading the cache line at p. It changes no result.
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fastbp_prefetch(p) __builtin_prefetch(p)
    #else
    #define fastbp_prefetch(p) ((void)0)
    #endif
    """
    void prefetch "fastbp_prefetch"(const void* p) noexcept nogil

ctypedef fused index_t:
    int32_t
    int64_t

cdef enum:
    # Blocks of rows are multiples of this many.
    ALIGN = 8
    # Columns of an output row that a product keeps in registers while it goes over the row's entries,
    # instead of loading and storing the row's sums once per entry (the forward pass: 0.24 -> 0.16 ms for
    # the batch of `block_size`).
    PANEL = 16
    # The forward product asks for the rows of W that the entry this many places ahead will read: they are
    # at random places, mostly outside the core's own cache. Measured on the batches of `block_size` at
    # density 0.05: the forward pass 0.96 -> 0.72 ms on one thread (16 places ahead: the same).
    AHEAD = 8


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
    """Stored entries in the batch's n_rows rows (explicit zeros and duplicates included)."""
    if X.wide:
        return batch_nonzeros(X, <const int64_t*> X.indptr, n_rows)
    return batch_nonzeros(X, <const int32_t*> X.indptr, n_rows)


cdef Py_ssize_t largest_batch(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t n_rows,
                              Py_ssize_t batch_size) noexcept nogil:
    """Entries in the largest minibatch of an epoch over the whole matrix X in `order` (or in row order)."""
    cdef Py_ssize_t first = 0, most = 0
    cdef SparseRows batch
    while first < n_rows:
        batch = batch_rows(X, order, first)
        most = max(most, nonzeros(&batch, min(batch_size, n_rows - first)))
        first += batch_size
    return most


cdef Py_ssize_t block_size(Py_ssize_t side, Py_ssize_t work, int n_threads) noexcept nogil:
    """Rows per block when `side` rows share `work` multiply-adds: one block per thread that gets at least
    MIN_PARALLEL_ELEMENTS of them, else one block; only the speed depends on it. The threshold of the
    elementwise passes, not the products' (MIN_THREAD_WORK): these products stream W or dW through memory
    with one multiply-add per entry. Measured on a 2-core AMD EPYC (a 200-row batch of a 20,000 x 5,000
    CSR matrix at density 0.01, 64 units), 2 threads took the forward pass from 0.16 to 0.10 ms and
    loss_and_grad from 0.51 to 0.38 ms."""
    cdef Py_ssize_t parts = min(<Py_ssize_t> n_threads, work // MIN_PARALLEL_ELEMENTS, side // ALIGN)
    if not FASTBP_OPENMP_ENABLED or parts < 2:
        return side
    return ((side + parts - 1) // parts + ALIGN - 1) // ALIGN * ALIGN


cdef void product_rows(const SparseRows* X, const index_t* indices, const index_t* indptr, const floating* W,
                       int n_out, floating* z_out, Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Rows first .. first + count of z_out (n_rows, n_out) <- the batch's rows of X times W (n_in, n_out).
    Each entry starts at 0 and adds x * w over the row's nonzeros in stored order, PANEL columns at a time."""
    cdef Py_ssize_t r, p, i, j, j0, q
    cdef const floating* data = <const floating*> X.data
    cdef Py_ssize_t full = n_out - n_out % PANEL
    cdef floating x
    cdef floating sums[PANEL]
    cdef floating* z
    cdef const floating* w
    for r in range(first, first + count):
        i = source_row(X, r)
        z = z_out + r * n_out
        for q in range(full // PANEL):
            j0 = q * PANEL
            for j in range(PANEL):
                sums[j] = 0
            for p in range(indptr[i], indptr[i + 1]):
                if p + AHEAD < indptr[i + 1]:
                    w = W + <Py_ssize_t> indices[p + AHEAD] * n_out + j0
                    prefetch(w)
                    prefetch(w + PANEL - 1)
                x = data[p]
                w = W + <Py_ssize_t> indices[p] * n_out + j0
                for j in range(PANEL):
                    sums[j] += x * w[j]
            for j in range(PANEL):
                z[j0 + j] = sums[j]
        for j in range(full, n_out):
            z[j] = 0
        for p in range(indptr[i], indptr[i + 1]):
            x = data[p]
            w = W + <Py_ssize_t> indices[p] * n_out
            for j in range(full, n_out):
                z[j] += x * w[j]


cdef void layer_rows(const SparseRows* X, const LayerPass* p, floating* a_out, floating* factor_out, Py_ssize_t rows,
                     Py_ssize_t block) noexcept nogil:
    """Block number `block` (`rows` rows) of a_out = f(X W + b)."""
    cdef int n_out = p.layer.n_out
    cdef const floating* W = <const floating*> p.W
    cdef Py_ssize_t first = block * rows
    cdef Py_ssize_t count = min(rows, p.n_rows - first)
    cdef MaskBlock mask = p.mask
    if X.wide:
        product_rows(X, <const int64_t*> X.indices, <const int64_t*> X.indptr, W, n_out, a_out, first, count)
    else:
        product_rows(X, <const int32_t*> X.indices, <const int32_t*> X.indptr, W, n_out, a_out, first, count)
    mask.first_row, mask.first_col = first, 0
    activation_block(p.layer.activation, a_out + first * n_out, <const floating*> p.b, count, n_out, n_out, &mask,
                     NULL if factor_out == NULL else factor_out + first * n_out)


cdef void sparse_layer(const SparseRows* X, const LayerPass* p, floating* a_out, floating* factor_out,
                       int n_threads) noexcept nogil:
    """a_out (n_rows, n_out) <- f(X W + b) for the batch X (n_rows, n_in) of CSR rows and layer 0's W (n_in,
    n_out) and b (n_out,) of p: its forward pass, in blocks of rows (see `block_size`)."""
    cdef Py_ssize_t block
    cdef int team
    cdef Py_ssize_t n_rows = p.n_rows
    cdef Py_ssize_t rows = block_size(n_rows, nonzeros(X, n_rows) * p.layer.n_out, n_threads)
    cdef Py_ssize_t n_blocks = (n_rows + rows - 1) // rows
    if n_blocks > 1:
        team = start_team(<int> min(<Py_ssize_t> n_threads, n_blocks))
        for block in prange(n_blocks, schedule="static", num_threads=team):
            layer_rows(X, p, a_out, factor_out, rows, block)
    else:
        layer_rows(X, p, a_out, factor_out, rows, 0)


cdef void group_by_column(const SparseRows* X, const floating* data, const index_t* indices,
                          const index_t* indptr, Py_ssize_t n_rows, Py_ssize_t n_in) noexcept nogil:
    """X's scratch <- the batch's entries grouped by column (a CSC copy of the batch): column k's entries are
    entry_row/entry_value[column_start[k]:column_start[k + 1]], in batch row order and, within a row, in
    stored order (a stable counting sort)."""
    cdef Py_ssize_t r, p, i, k, e
    cdef Py_ssize_t* start = X.column_start
    cdef floating* value = <floating*> X.entry_value
    for k in range(n_in + 1):
        start[k] = 0
    for r in range(n_rows):
        i = source_row(X, r)
        for p in range(indptr[i], indptr[i + 1]):
            start[indices[p] + 1] += 1
    for k in range(n_in):
        start[k + 1] += start[k]
    for r in range(n_rows):  # start[k] runs through column k's places, ending where column k + 1 starts
        i = source_row(X, r)
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            e = start[k]
            start[k] = e + 1
            X.entry_row[e] = <int32_t> r
            value[e] = data[p]
    for k in range(n_in, 0, -1):
        start[k] = start[k - 1]
    start[0] = 0


cdef void gradient_rows(const SparseRows* X, const LayerPass* p, floating* dW_out, Py_ssize_t first,
                        Py_ssize_t count) noexcept nogil:
    """Rows first .. first + count of dW_out (n_in, n_out) <- (alpha_scaled W +) X^T delta, from the entries
    `group_by_column` left in X's scratch. Each entry of dW starts at its penalty term (or 0) and adds
    x * delta over its column's entries in batch row order, PANEL columns of dW at a time in registers."""
    cdef Py_ssize_t k, e, j, j0, q
    cdef int n_out = p.layer.n_out
    cdef const floating* delta = <const floating*> p.delta
    cdef const floating* W = <const floating*> p.W
    cdef floating alpha_scaled = <floating> p.alpha_scaled
    cdef bint penalty = p.penalty
    cdef Py_ssize_t full = n_out - n_out % PANEL
    cdef floating x
    cdef floating sums[PANEL]
    cdef floating* g
    cdef const floating* w
    cdef const floating* d
    cdef const floating* value = <const floating*> X.entry_value
    for k in range(first, first + count):
        g = dW_out + k * n_out
        w = W + k * n_out
        for q in range(full // PANEL):
            j0 = q * PANEL
            if penalty:
                for j in range(PANEL):
                    sums[j] = alpha_scaled * w[j0 + j]
            else:
                for j in range(PANEL):
                    sums[j] = 0
            for e in range(X.column_start[k], X.column_start[k + 1]):
                x = value[e]
                d = delta + <Py_ssize_t> X.entry_row[e] * n_out + j0
                for j in range(PANEL):
                    sums[j] += x * d[j]
            for j in range(PANEL):
                g[j0 + j] = sums[j]
        for j in range(full, n_out):
            g[j] = alpha_scaled * w[j] if penalty else 0
        for e in range(X.column_start[k], X.column_start[k + 1]):
            x = value[e]
            d = delta + <Py_ssize_t> X.entry_row[e] * n_out
            for j in range(full, n_out):
                g[j] += x * d[j]


cdef void sparse_weight_grad(const SparseRows* X, const LayerPass* p, floating* dW_out, int n_threads) noexcept nogil:
    """dW_out (n_in, n_out) <- X^T delta + (alpha/S) W (without the last term unless p.penalty): layer 0's
    weight gradient for the batch X (n_rows, n_in) of CSR rows and p's delta (n_rows, n_out), through X's
    scratch (see `Scratch`). The entries are grouped by column first, so that each row of dW is summed
    in registers and written once, instead of read and written back for every entry in its column; then
    blocks of dW's rows (see `block_size`; writing dW counts as one multiply-add per entry)."""
    cdef Py_ssize_t block
    cdef int team
    cdef Py_ssize_t n_rows = p.n_rows
    cdef int n_in = p.layer.n_in
    cdef int n_out = p.layer.n_out
    cdef Py_ssize_t work = (nonzeros(X, n_rows) + n_in) * n_out
    cdef Py_ssize_t rows = block_size(n_in, work, n_threads)
    cdef Py_ssize_t n_blocks = (n_in + rows - 1) // rows
    if X.wide:
        group_by_column(X, <const floating*> X.data, <const int64_t*> X.indices, <const int64_t*> X.indptr, n_rows,
                        n_in)
    else:
        group_by_column(X, <const floating*> X.data, <const int32_t*> X.indices, <const int32_t*> X.indptr, n_rows,
                        n_in)
    if n_blocks > 1:
        team = start_team(<int> min(<Py_ssize_t> n_threads, n_blocks))
        for block in prange(n_blocks, schedule="static", num_threads=team):
            gradient_rows(X, p, dW_out, block * rows, min(rows, n_in - block * rows))
    else:
        gradient_rows(X, p, dW_out, 0, n_in)


cdef void* address(array):
    return <void*> <size_t> array.ctypes.data


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
        if indptr.shape[0] != matrix.shape[0] + 1 or min(data.shape[0], indices.shape[0]) < indptr[matrix.shape[0]]:
            raise ValueError("X.indptr does not match X's rows, X.data or X.indices")
        self.arrays = (data, indices, indptr)
        self.n_rows = matrix.shape[0]
        self.rows.data = address(data)
        self.rows.indices = address(indices)
        self.rows.indptr = address(indptr)
        self.rows.wide = indices.dtype == np.int64
        self.rows.rows = NULL
        self.rows.offset = 0
        self.rows.column_start = NULL
        self.rows.entry_row = NULL
        self.rows.entry_value = NULL


cdef CSR sparse_input(X, dtype):
    """X as CSR rows when it is a scipy.sparse matrix or array, else None (X is a dense array)."""
    return CSR(X, dtype) if scipy.sparse.issparse(X) else None


cdef class Scratch:
    """The weight gradient's scratch for sparse batches (see `group_by_column`): (n_in + 1) column starts and
    room for the entries of a batch, their rows and values. It grows and never shrinks, so one fit allocates
    it once (or again when a later epoch's largest minibatch holds more entries)."""

    cdef void attach(self, CSR X, Py_ssize_t n_in, Py_ssize_t entries, dtype) except *:
        """Give X's batches this scratch, with room for n_in columns and `entries` entries of `dtype`."""
        if self.column_start is None or self.column_start.shape[0] != n_in + 1:
            self.column_start = np.empty(n_in + 1, dtype=np.intp)
        if self.entry_row is None or self.entry_row.shape[0] < entries or self.entry_value.dtype != dtype:
            self.entry_row = np.empty(max(entries, 1), dtype=np.int32)
            self.entry_value = np.empty(max(entries, 1), dtype=dtype)
        X.rows.column_start = <Py_ssize_t*> address(self.column_start)
        X.rows.entry_row = <int32_t*> address(self.entry_row)
        X.rows.entry_value = <void*> address(self.entry_value)
