from cython cimport floating

# The optimizer table: each kind's code, its fixed hyperparameters (`Rule`), its state buffers (`State`, in the
# order of STATE_NAMES) and its update (`apply_step`); and the schedule table: the learning rate of every step
# (`schedule_rate`). `_optim.pyx` exports the tables' names to Python: OPTIMIZERS, SETTINGS, STATE_NAMES,
# SCHEDULES and SCHEDULE_SETTINGS, which the Python optimizers and schedules read.
cdef enum Kind:
    SGD_KIND = 0
    ADAM_KIND = 1
    ADAMW_KIND = 2
    RMSPROP_KIND = 3
    ADAGRAD_KIND = 4


cdef struct Rule:
    # An optimizer: its kind and fixed hyperparameters (the learning rate comes per step).
    Kind kind
    double momentum         # SGD, RMSprop
    bint nesterov           # SGD
    double beta_1           # Adam, AdamW
    double beta_2           # Adam, AdamW
    double epsilon          # Adam, AdamW, RMSprop, Adagrad
    double weight_decay     # SGD, AdamW: decoupled, params *= 1 - lr * weight_decay before the step
    double rho              # RMSprop: the decay of the squared gradient's running mean
    bint centered           # RMSprop: divide by the gradient's running variance, not its second moment


cdef struct Span:
    # Parameters first .. first + count of the flat buffer, and whether weight decay applies to them (their
    # block's policy).
    Py_ssize_t first
    Py_ssize_t count
    bint decayed


cdef struct Step:
    # What changes from one step to the next (IN), made by `make_step`: the step's number t (>= 1), its learning
    # rate, the factor its gradient is scaled by first (clipping; 1 otherwise), and the step's bias corrections.
    long long t
    double learning_rate
    double grad_scale
    double step_size        # Adam: lr sqrt(1 - b2^t) / (1 - b1^t); AdamW: lr / (1 - b1^t); the others: lr
    double correction       # AdamW: sqrt(1 - b2^t); the others: 1


cdef struct State:
    # The optimizer's state buffers, (n_params,) each, of the model's float type (IN-OUT), in the order of the
    # kind's STATE_NAMES; the kind's own are set.
    void* buffer[3]


cdef enum ScheduleKind:
    SCHEDULE_CONSTANT = 0
    SCHEDULE_EXPONENTIAL = 1
    SCHEDULE_WARMUP_COSINE = 2
    SCHEDULE_ONE_CYCLE = 3


cdef struct Schedule:
    # A per-step learning-rate schedule (IN); `fastbp.schedules` holds the same formulas in Python.
    ScheduleKind kind
    double gamma            # exponential
    double warmup_steps     # warmup_cosine
    double total_steps      # warmup_cosine, one_cycle
    double min_lr           # warmup_cosine
    double max_lr           # one_cycle
    double pct_start        # one_cycle


cdef Rule make_rule(str name, dict settings) except *

cdef State make_state(str name, dict buffers, const floating[::1] params) except *

cdef Schedule make_schedule(str name, dict settings) except *

cdef double schedule_rate(const Schedule* schedule, double learning_rate, long long t) noexcept nogil

cdef void make_step(const Rule* rule, long long t, double learning_rate, Step* step_out) noexcept nogil

cdef void apply_step(const Rule* rule, const Step* step, floating* params, const floating* grad, State* state,
                     Py_ssize_t first, Py_ssize_t count, bint decayed) noexcept nogil

cdef void update_span(const Rule* rule, const Step* step, floating* params, const floating* grad, State* state,
                      Span span, int n_threads) noexcept nogil

cdef double clip_scale(const floating* grad, Py_ssize_t n, double clip_norm, double* partial,
                       int n_threads) noexcept nogil
