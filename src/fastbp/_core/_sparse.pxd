from cython cimport floating

from fastbp._core._records cimport LayerPass, SparseRows


cdef SparseRows batch_rows(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t first) noexcept nogil

cdef Py_ssize_t nonzeros(const SparseRows* X, Py_ssize_t n_rows) noexcept nogil

cdef Py_ssize_t largest_batch(const SparseRows* X, const Py_ssize_t* order, Py_ssize_t n_rows,
                              Py_ssize_t batch_size) noexcept nogil

# a_out (n_rows, n_out) <- f(X W + b): layer 0's forward pass on the batch X of CSR rows (p.a_in unused), with its
# dropout, and its factor into factor_out when that is not NULL (see `_activations.activation_block`).
cdef void sparse_layer(const SparseRows* X, const LayerPass* p, floating* a_out, floating* factor_out,
                       int n_threads) noexcept nogil

# dW_out (n_in, n_out) <- X^T delta (+ (alpha/S) W): layer 0's weight gradient, through X's scratch.
cdef void sparse_weight_grad(const SparseRows* X, const LayerPass* p, floating* dW_out, int n_threads) noexcept nogil


cdef class CSR:
    cdef object arrays              # data, indices, indptr: kept alive while `rows` points into them
    cdef readonly Py_ssize_t n_rows
    cdef SparseRows rows


cdef CSR sparse_input(X, dtype)


cdef class Scratch:
    cdef object column_start, entry_row, entry_value
    cdef void attach(self, CSR X, Py_ssize_t n_in, Py_ssize_t entries, dtype) except *
