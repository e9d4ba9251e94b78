from cython cimport floating

from fastbp._core._activations cimport Activation
from fastbp._core._losses cimport Output


# Work is cut into blocks whose shapes depend only on the data, never on the thread count: every BLAS call
# and every loop is the same whatever the number of threads, so results are bitwise identical for any
# n_threads. Threads take whole blocks; BLAS runs single-threaded inside them (the Python layer sets that).
# A pass too small to be worth threads (`split_work`) is one whole-batch block, with fewer BLAS calls.
cdef enum:
    ROW_BLOCK = 32    # rows per block: forward, loss and delta propagation
    COL_BLOCK = 64    # output columns per block: weight and bias gradients


cdef struct Layout:
    # Where each layer lives in the flat parameter buffer: all coefficient matrices first, layer by layer,
    # then all intercepts (scikit-learn's packing order). Layer l maps sizes[l] -> sizes[l + 1].
    int n_layers
    int* sizes                  # (n_layers + 1,)
    Py_ssize_t* coef_offset     # (n_layers,) start of W[l], row-major (sizes[l], sizes[l + 1])
    Py_ssize_t* intercept_offset  # (n_layers,) start of b[l], (sizes[l + 1],)
    Py_ssize_t n_params
    Py_ssize_t macs_per_row     # multiply-adds of one row through every layer: sum_l sizes[l] * sizes[l + 1]
    Activation hidden
    Output output


cdef void forward_logits(const Layout* net, const floating* params, const floating* X, Py_ssize_t n_rows,
                         floating** acts_out, int n_threads) noexcept nogil

cdef double backward(const Layout* net, const floating* params, const floating* X, const floating* Y,
                     const floating* sample_weight, Py_ssize_t n_rows, double weight_sum, double alpha,
                     floating** acts, floating* delta_a, floating* delta_b, double* row_loss,
                     floating* grad_out, int n_threads) noexcept nogil


cdef class CoreNet:
    cdef Layout layout
    cdef readonly tuple layer_sizes
