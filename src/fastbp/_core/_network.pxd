from cython cimport floating

from fastbp._core._optim cimport Span
from fastbp._core._records cimport Backward, Batch, Block, Dropout, Layout, Threads, Workspace
from fastbp._core._sparse cimport CSR


cdef Threads thread_plan(int n_threads, bint invariant, bint single) noexcept nogil

cdef Span span_of(const Block* block) noexcept nogil

# X as a CSR matrix the first layer reads in place, or None for a dense array; raises for a sparse X that a
# network of several members or with inputs cannot take.
cdef CSR csr_rows(const Layout* net, X, dtype)

# work.acts[l] <- the activations of layer l for the batch's rows; the last holds the output logits. A training
# pass (dropout not NULL) drops units, and fills work.factor where it is set.
cdef void forward_logits(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                         const Dropout* dropout, Threads threads) noexcept nogil

# The objective, from the activations `forward_logits` left in `work`, and its gradient into grad_out
# (n_params,); see `_network.pyx`. params is read, and with how.mode == STEP_COEFFICIENTS its coefficients are
# stepped in place (IN-OUT).
cdef double backward(const Layout* net, floating* params, const Batch* batch, Workspace* work, Backward how,
                     floating* grad_out, Threads threads) noexcept nogil


cdef class StageScratch:
    cdef list arrays
    cdef void** inputs
    cdef void** products
    cdef void* targets
    cdef void* weights
    cdef void* encoded
    cdef int* codes
    cdef void* features
    cdef void* pre_relu
    cdef void* encoded_delta
    cdef void* feature_delta
    cdef void* keep(self, Py_ssize_t size, dtype) except? NULL
    cdef void attach(self, Workspace* work) noexcept


cdef class CoreNet:
    cdef Layout layout
    cdef readonly tuple layer_sizes
    cdef list kept
    cdef const Block* find(self, dict index, str role, int layer)
    cdef read_inputs(self, inputs, dict index)
