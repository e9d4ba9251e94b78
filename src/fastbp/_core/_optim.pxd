from cython cimport floating

# The optimizer table: each kind's code, its fixed hyperparameters (`Rule`), its state buffers (`State`) and
# its update (`apply_step`). `_optim.pyx` exports the table's names to Python: OPTIMIZERS, SETTINGS and
# STATE_NAMES, which the Python optimizers read.
cdef enum Kind:
    SGD_KIND = 0
    ADAM_KIND = 1


cdef struct Rule:
    # An optimizer: its kind and fixed hyperparameters (the learning rate comes per step).
    Kind kind
    double momentum     # SGD
    bint nesterov       # SGD
    double beta_1       # Adam
    double beta_2       # Adam
    double epsilon      # Adam


cdef struct State:
    # The optimizer's state buffers, (n_params,) each, of the model's float type (IN-OUT): SGD's velocity,
    # Adam's moments. Only the kind's own are set.
    void* velocity
    void* m
    void* v


cdef struct AdamStep:
    # The coefficients of Adam's step number t, in double; each is rounded once to the model's float type where
    # the update uses it, as NumPy does with Python floats in scikit-learn's code.
    double step_size        # lr sqrt(1 - b2^t) / (1 - b1^t): the bias correction folded into the step
    double beta_1
    double one_minus_beta_1
    double beta_2
    double one_minus_beta_2
    double epsilon


cdef Rule make_rule(str name, dict settings) except *

cdef State make_state(str name, dict buffers, const floating[::1] params) except *

cdef void apply_step(const Rule* rule, double learning_rate, long long t, floating* params, const floating* grad,
                     State* state, Py_ssize_t first, Py_ssize_t count) noexcept nogil
