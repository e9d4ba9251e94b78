from cython cimport floating
from libc.stdint cimport int32_t

from fastbp._core._activations cimport Activation


cdef struct SparseRows:
    # Rows of a CSR matrix as the first layer reads them, in place: the batch's row r is the matrix's row
    # rows[r], or row offset + r when rows is NULL (so a shuffled minibatch is its rows' numbers, not a copy).
    # Row i holds data[indptr[i]:indptr[i + 1]] in the columns indices[indptr[i]:indptr[i + 1]], in any
    # order; duplicates add up, as in the dense matrix they stand for.
    const void* data        # the model's float type
    const void* indices     # int32, or int64 when `wide`
    const void* indptr      # the same type as indices
    bint wide
    const Py_ssize_t* rows
    Py_ssize_t offset
    # The weight gradient's scratch (see `Scratch`), where it regroups the batch's entries by column:
    Py_ssize_t* column_start    # (n_in + 1,)
    int32_t* entry_row          # (entries of the batch,)
    void* entry_value           # (entries of the batch,) the model's float type


cdef SparseRows batch_rows(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t first) noexcept nogil

cdef Py_ssize_t nonzeros(const SparseRows* X, Py_ssize_t n_rows) noexcept nogil

cdef Py_ssize_t largest_batch(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t n_rows,
                              Py_ssize_t batch_size) noexcept nogil

cdef void sparse_layer(const SparseRows* X, Py_ssize_t n_rows, const floating* W, const floating* b, int n_out,
                       Activation act, floating* a_out, int n_threads) noexcept nogil

cdef void sparse_weight_grad(const SparseRows* X, Py_ssize_t n_rows, const floating* delta, int n_in, int n_out,
                             const floating* W, floating alpha_scaled, bint penalty, floating* dW_out,
                             int n_threads) noexcept nogil


cdef class CSR:
    cdef object arrays              # data, indices, indptr: kept alive while `rows` points into them
    cdef readonly Py_ssize_t n_rows
    cdef SparseRows rows


cdef CSR sparse_input(X, dtype)


cdef class Scratch:
    cdef object column_start, entry_row, entry_value
    cdef void attach(self, CSR X, Py_ssize_t n_in, Py_ssize_t entries, dtype) except *
