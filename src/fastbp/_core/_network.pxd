from cython cimport floating

from fastbp._core._records cimport Backward, Batch, Dropout, Layout, Threads, Workspace


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


cdef Threads thread_plan(int n_threads, bint invariant, bint single) noexcept nogil

# work.acts[l] <- the activations of layer l for the batch's rows; the last holds the output logits. A training
# pass (dropout not NULL) drops units, and fills work.factor where it is set.
cdef void forward_logits(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                         const Dropout* dropout, Threads threads) noexcept nogil

# The objective, from the activations `forward_logits` left in `work`, and its gradient into grad_out
# (n_params,); see `_network.pyx`. params is read, and with how.mode == STEP_COEFFICIENTS its coefficients are
# stepped in place (IN-OUT).
cdef double backward(const Layout* net, floating* params, const Batch* batch, Workspace* work, Backward how,
                     floating* grad_out, Threads threads) noexcept nogil


cdef class MemberScratch:
    cdef list arrays
    cdef void** inputs
    cdef void** products
    cdef void* targets
    cdef void* weights
    cdef void* keep(self, Py_ssize_t size, dtype) except? NULL
    cdef void attach(self, Workspace* work) noexcept


cdef class CoreNet:
    cdef Layout layout
    cdef readonly tuple layer_sizes
