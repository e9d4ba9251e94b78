from cython cimport floating

from fastbp._core._records cimport Batch, LayerPass, Layout, Threads, Workspace

# The first layer's inputs when they are more than X (`_inputs.pyx`): numeric embeddings and categorical codes.

# work.encoded (n_rows, width) <- the numeric columns of the batch's X, embedded or as they are; work.codes <- each
# categorical code (-1: unknown); work.features and work.pre_relu <- what the embedding's backward pass reads.
cdef void encode_inputs(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                        Threads threads, Py_ssize_t pass_work) noexcept nogil

# The embedding's gradients into grad (at its blocks' offsets) from work.encoded_delta = dL/d(encoded), which it
# overwrites.
cdef void embedding_backward(const Layout* net, const floating* params, const Batch* batch, Workspace* work,
                             floating* grad, Threads threads, Py_ssize_t pass_work) noexcept nogil

# out (n_rows, n_cols), leading dimension ld, rows first_row.. and columns first_col.. of member m's product in the
# first layer: += W's row of each known code (times member m's r of it).
cdef void lookup_add(const LayerPass* p, floating* out, Py_ssize_t first_row, Py_ssize_t n_rows,
                     Py_ssize_t first_col, Py_ssize_t n_cols, Py_ssize_t ld, int m) noexcept nogil

# Columns first.. of the category rows' gradient (every member's where W is per member) from the layer's delta
# (n_rows, k n_out), scaled by s already: the sum over rows and members of delta * r, at each known code's row
# (+ (alpha/S) W with the penalty). With bias_sums (else NULL), the same read of the delta also sums its columns
# first.. over every row and member, in the order `column_sums` adds them: a shared b's gradient.
cdef void lookup_weight_grad(const LayerPass* p, const floating* delta, floating* grad, Py_ssize_t first,
                             Py_ssize_t count, floating* bias_sums) noexcept nogil

# Members first.. of the category r's gradient: for each known code, the sum over rows of delta_m . W_m[code].
cdef void lookup_scale_grad(const LayerPass* p, const floating* delta, floating* grad, Py_ssize_t first,
                            Py_ssize_t count) noexcept nogil
