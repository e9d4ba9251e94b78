from cython cimport floating

from fastbp._core._activations cimport Activation
from fastbp._core._losses cimport Output
from fastbp._core._sparse cimport SparseRows


# Each product, with the elementwise work fused to it, is cut into blocks that threads take whole; BLAS runs
# single-threaded inside them (the Python layer sets that). Two ways to cut:
# - by default, one block per thread (`fastest_split`): as few BLAS calls as there are threads, so results
#   are reproducible for a given thread count;
# - with thread_invariant, fixed blocks whose shapes depend only on the data (`fixed_split`): every BLAS call
#   and every loop is the same whatever the number of threads, so results are bitwise identical for any
#   n_threads. A pass too small to be worth threads (`split_work`) is one whole-batch block.
cdef enum:
    ROW_BLOCK = 32    # fixed blocks: rows per block (forward, loss, delta propagation)
    COL_BLOCK = 64    # fixed blocks: output columns per block (weight and bias gradients, wide layers)
    MIN_SPLIT = 8     # default blocks: a multiple of this many rows or columns, so elementwise loops stay aligned


cdef struct Threads:
    int n                   # threads to use
    bint invariant          # fixed blocks: results independent of n
    Py_ssize_t min_work     # default blocks: multiply-adds each thread must get for threads to pay


cdef struct Split:
    # How one product is cut: `count` blocks of `size` rows or columns of its output, on threads if `threaded`.
    Py_ssize_t count
    Py_ssize_t size
    bint by_columns
    bint threaded


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


cdef Threads thread_plan(int n_threads, bint invariant, bint single) noexcept nogil

# X_sparse: the input as CSR rows (X is then NULL; backward needs its `Scratch`), or NULL for the dense X.
cdef void forward_logits(const Layout* net, const floating* params, const floating* X, Py_ssize_t n_rows,
                         floating** acts_out, Threads threads, const SparseRows* X_sparse) noexcept nogil

# step_weights, step_rate: plain gradient descent fused into the weight-gradient products. When step_weights
# is not NULL (it must be `params`), each product ends in W += -step_rate * dW (BLAS with beta = 1) and the
# weights' gradient is never stored: one pass over every weight and its gradient fewer per minibatch.
cdef double backward(const Layout* net, const floating* params, const floating* X, const floating* Y,
                     const floating* sample_weight, Py_ssize_t n_rows, double weight_sum, double alpha,
                     floating** acts, floating* delta_a, floating* delta_b, double* row_loss,
                     floating* grad_out, Threads threads, const SparseRows* X_sparse,
                     floating* step_weights, double step_rate) noexcept nogil


cdef class CoreNet:
    cdef Layout layout
    cdef readonly tuple layer_sizes
