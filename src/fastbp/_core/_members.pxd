from cython cimport floating

from fastbp._core._records cimport Layer, LayerPass, Threads

# The layers of an ensemble of k members trained as one network (`_members.pyx`).

# Whether layer's forward pass builds its members' input u (n_rows, k n_in) in Workspace.inputs.
cdef bint needs_input(const Layer* layer) noexcept nogil

# a_out (n_rows, k n_out) <- f(((a_in * r) W) * s + b) for every member, with the layer's dropout (keyed by row and
# unit, a unit being member m's unit j at m n_out + j); p.u and p.product get what the backward pass reads.
cdef void members_forward(const LayerPass* p, floating* a_out, floating* factor_out, Threads threads,
                          Py_ssize_t pass_work) noexcept nogil

# The layer's gradients into grad (at its blocks' offsets) from p.delta (n_rows, k n_out), which it scales by s in
# place; delta_in_out (n_rows, k n_in) <- the delta of the layer before (times its f'), when not NULL, or for the
# first layer, whose input every member reads, (n_rows, n_in) <- the sum of the members' (the embeddings' delta);
# scratch (n_rows k n_in) holds the first layer's du. With categorical columns, their rows' gradients too. Threads
# as `_splits.along` cuts the work.
cdef void members_backward(const LayerPass* p, floating* delta, floating* delta_in_out, floating* grad,
                           floating* scratch, Threads threads, Py_ssize_t pass_work) noexcept nogil

# targets_out (n_rows k, n_outputs) and weights_out (n_rows k,) <- each row's, once per member.
cdef void repeat_rows(const floating* rows, Py_ssize_t n_rows, Py_ssize_t width, int members,
                      floating* out) noexcept nogil
