"""Optimizer updates, single loops over the flat parameter, gradient and state buffers; learning-rate schedules;
gradient clipping.

SGD and Adam are scikit-learn's (`sklearn/neural_network/_stochastic_optimizers.py`), operation for operation
and in the model's dtype, so float64 trajectories can match it to the last bits; AdamW, RMSprop and Adagrad are
PyTorch's (`torch.optim`'s single-tensor updates: its lerp, addcmul and addcdiv, in their order). Coefficients
such as 1 - beta are computed in double and rounded once, as NumPy does with Python floats. Decoupled weight
decay multiplies the blocks whose policy is decayed (`fastbp.layout`: the weights, never the biases). The compiled epoch (`_epoch`) applies
`apply_step` to every minibatch; `step` applies it once, for the Python layer.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport cos, pow, sqrt

import numpy as np

from fastbp._core._blas cimport sum_of_squares
from fastbp._core._openmp_helpers cimport start_team, use_threads_elementwise

# The tables, by name: each optimizer's code, the settings its `Rule` takes, and its state buffers in order; each
# schedule's code and settings.
OPTIMIZERS = {"SGD": SGD_KIND, "Adam": ADAM_KIND, "AdamW": ADAMW_KIND, "RMSprop": RMSPROP_KIND,
              "Adagrad": ADAGRAD_KIND}
SETTINGS = {"SGD": ("momentum", "nesterov", "weight_decay"), "Adam": ("beta_1", "beta_2", "epsilon"),
            "AdamW": ("beta_1", "beta_2", "epsilon", "weight_decay"),
            "RMSprop": ("rho", "epsilon", "momentum", "centered"), "Adagrad": ("epsilon",)}
STATE_NAMES = {"SGD": ("velocity",), "Adam": ("m", "v"), "AdamW": ("m", "v"),
               "RMSprop": ("square_avg", "momentum_buffer", "grad_avg"), "Adagrad": ("sum",)}
SCHEDULES = {"constant": SCHEDULE_CONSTANT, "exponential": SCHEDULE_EXPONENTIAL,
             "warmup_cosine": SCHEDULE_WARMUP_COSINE, "one_cycle": SCHEDULE_ONE_CYCLE}
SCHEDULE_SETTINGS = {"constant": (), "exponential": ("gamma",), "warmup_cosine": ("warmup_steps", "total_steps", "min_lr"),
                     "one_cycle": ("max_lr", "total_steps", "pct_start")}

cdef double PI = 3.141592653589793
cdef double ONE_CYCLE_DIV = 25.0          # OneCycleLR's div_factor: the first rate is max_lr / 25
cdef double ONE_CYCLE_FINAL_DIV = 1e4     # and its final_div_factor: the last is that / 1e4
cdef double CLIP_EPSILON = 1e-6           # torch.nn.utils.clip_grad_norm_'s: max_norm / (norm + 1e-6)

cdef enum:
    CLIP_CHUNK = 1 << 14   # gradient entries per partial sum of the clipping norm (fixed: any thread count)


cdef Rule make_rule(str name, dict settings) except *:
    """The `Rule` of the optimizer `name` with `settings` (a dict holding at least SETTINGS[name])."""
    cdef Rule rule
    rule.kind = <Kind> OPTIMIZERS[name]
    rule.momentum = settings["momentum"] if name in ("SGD", "RMSprop") else 0
    rule.nesterov = settings["nesterov"] if name == "SGD" else False
    rule.beta_1 = settings["beta_1"] if name in ("Adam", "AdamW") else 0
    rule.beta_2 = settings["beta_2"] if name in ("Adam", "AdamW") else 0
    rule.epsilon = settings["epsilon"] if name != "SGD" else 0
    rule.weight_decay = settings["weight_decay"] if name in ("SGD", "AdamW") else 0
    rule.rho = settings["rho"] if name == "RMSprop" else 0
    rule.centered = settings["centered"] if name == "RMSprop" else False
    return rule


cdef State make_state(str name, dict buffers, const floating[::1] params) except *:
    """The `State` over `buffers` ({name: array}, the names of STATE_NAMES[name]), each shaped and typed like
    params; they must stay alive while it is used."""
    cdef State state
    cdef floating[::1] buffer
    cdef int i
    names = STATE_NAMES[name]
    if buffers.keys() != set(names):
        raise ValueError(f"{name} keeps the state {names}, got {tuple(buffers)}")
    for i in range(3):
        state.buffer[i] = NULL
    for i, state_name in enumerate(names):
        buffer = buffers[state_name]
        if buffer.shape[0] != params.shape[0]:
            raise ValueError(f"{name}'s state buffers must have the shape of params, ({params.shape[0]},)")
        state.buffer[i] = &buffer[0]
    return state


cdef Schedule make_schedule(str name, dict settings) except *:
    """The `Schedule` named `name` (a name of SCHEDULES) with `settings` (SCHEDULE_SETTINGS[name])."""
    cdef Schedule schedule
    schedule.kind = <ScheduleKind> SCHEDULES[name]
    schedule.gamma = settings.get("gamma", 1.0)
    schedule.warmup_steps = settings.get("warmup_steps", 0)
    schedule.total_steps = settings.get("total_steps", 1)
    schedule.min_lr = settings.get("min_lr", 0.0)
    schedule.max_lr = settings.get("max_lr", 0.0)
    schedule.pct_start = settings.get("pct_start", 0.3)
    return schedule


cdef double schedule_rate(const Schedule* schedule, double learning_rate, long long t) noexcept nogil:
    """The learning rate of step t (from 0) for an optimizer whose own rate is `learning_rate`; the same
    operations, in the same order, as `fastbp.schedules`."""
    cdef double progress, initial, final, up_end, down_end, start, end, pct, step = <double> t
    if schedule.kind == SCHEDULE_EXPONENTIAL:
        return learning_rate * pow(schedule.gamma, step)
    if schedule.kind == SCHEDULE_WARMUP_COSINE:
        if step < schedule.warmup_steps:
            return learning_rate * (step + 1) / schedule.warmup_steps
        if step >= schedule.total_steps:
            return schedule.min_lr
        progress = (step - schedule.warmup_steps) / (schedule.total_steps - schedule.warmup_steps)
        return schedule.min_lr + (learning_rate - schedule.min_lr) * (1 + cos(PI * progress)) / 2
    if schedule.kind == SCHEDULE_ONE_CYCLE:
        initial = schedule.max_lr / ONE_CYCLE_DIV
        final = initial / ONE_CYCLE_FINAL_DIV
        up_end = schedule.pct_start * schedule.total_steps - 1
        down_end = schedule.total_steps - 1
        step = min(step, schedule.total_steps - 1)
        if step <= up_end:
            start, end, pct = initial, schedule.max_lr, step / up_end
        else:
            start, end, pct = schedule.max_lr, final, (step - up_end) / (down_end - up_end)
        return end + (start - end) / 2.0 * (cos(PI * pct) + 1)
    return learning_rate


cdef extern from "_updates.h":
    void fastbp_vecmath_init() noexcept nogil
    void fastbp_sgd_d(double* params, const double* grad, double* velocity, Py_ssize_t n, double lr, double momentum,
                      int nesterov, double keep, double scale) noexcept nogil
    void fastbp_sgd_f(float* params, const float* grad, float* velocity, Py_ssize_t n, float lr, float momentum,
                      int nesterov, float keep, float scale) noexcept nogil
    void fastbp_adam_d(double* params, const double* grad, double* m, double* v, Py_ssize_t n,
                       const double* coefficients, double step_size, double scale) noexcept nogil
    void fastbp_adam_f(float* params, const float* grad, float* m, float* v, Py_ssize_t n, const float* coefficients,
                       double step_size, float scale) noexcept nogil
    void fastbp_adamw_d(double* params, const double* grad, double* m, double* v, Py_ssize_t n,
                        const double* coefficients, double keep, double scale) noexcept nogil
    void fastbp_adamw_f(float* params, const float* grad, float* m, float* v, Py_ssize_t n, const float* coefficients,
                        float keep, float scale) noexcept nogil
    void fastbp_rmsprop_d(double* params, const double* grad, double* square_avg, double* buf, double* grad_avg,
                          Py_ssize_t n, const double* coefficients, double scale) noexcept nogil
    void fastbp_rmsprop_f(float* params, const float* grad, float* square_avg, float* buf, float* grad_avg,
                          Py_ssize_t n, const float* coefficients, float scale) noexcept nogil
    void fastbp_adagrad_d(double* params, const double* grad, double* total, Py_ssize_t n, double lr, double epsilon,
                          double scale) noexcept nogil
    void fastbp_adagrad_f(float* params, const float* grad, float* total, Py_ssize_t n, float lr, float epsilon,
                          float scale) noexcept nogil

fastbp_vecmath_init()


cdef void make_step(const Rule* rule, long long t, double learning_rate, Step* step_out) noexcept nogil:
    """step_out <- step number t (>= 1) of `rule` at learning_rate, unclipped, with its bias corrections: Adam's
    step size lr sqrt(1 - b2^t) / (1 - b1^t) (scikit-learn's, folded into the step), AdamW's lr / (1 - b1^t)
    and sqrt(1 - b2^t) (PyTorch's, kept apart): computed once a step, not once a block."""
    step_out.t, step_out.learning_rate, step_out.grad_scale = t, learning_rate, 1.0
    step_out.step_size, step_out.correction = learning_rate, 1.0
    if rule.kind == ADAM_KIND:
        step_out.step_size = learning_rate * sqrt(1 - pow(rule.beta_2, <double> t)) / (1 - pow(rule.beta_1, <double> t))
    elif rule.kind == ADAMW_KIND:
        step_out.step_size = learning_rate / (1 - pow(rule.beta_1, <double> t))
        step_out.correction = sqrt(1 - pow(rule.beta_2, <double> t))


# The kinds' updates, in `_updates.h` (one vectorized C loop each, the same operations in every CPU's copy);
# each entry of the parameters reads and writes only its own entries of the gradient and the state:
#   every kind: params *= keep (decoupled weight decay: 1 - lr * weight_decay on coefficients, 1 otherwise);
#               g = grad * scale (the clipping factor);
#   SGD:     velocity <- momentum velocity - lr g; params += velocity, or with Nesterov momentum velocity - lr g
#            (without momentum params += -(lr g), the velocity untouched);
#   Adam:    m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; params += -step * m / (sqrt(v) + eps), in double
#            (scikit-learn's: its NumPy float64 step size promotes a float32 update);
#   AdamW:   m <- m + (1 - b1) (g - m); v <- v b2 + (1 - b2) g g; params += -(lr / (1 - b1^t)) m /
#            (sqrt(v) / sqrt(1 - b2^t) + eps) (PyTorch's lerp, addcmul, addcdiv);
#   RMSprop: s <- s rho + (1 - rho) g g; centered: a <- a + (1 - rho) (g - a), d = sqrt(s - a a) + eps, else
#            d = sqrt(s) + eps; with momentum b <- b momentum + g / d, params += -lr b, else params += -lr g / d;
#   Adagrad: s <- s + g g; params += -lr g / (sqrt(s) + eps).
# Coefficients such as 1 - beta are computed in double and rounded to the model's type once.


cdef void step_span(const Rule* rule, const Step* step, floating* params, const floating* grad, State* state,
                    Py_ssize_t first, Py_ssize_t count, floating keep) noexcept nogil:
    """The kind's update over params[first:first + count], every entry decayed by `keep`."""
    cdef floating scale = <floating> step.grad_scale
    cdef floating lr = <floating> step.learning_rate
    cdef floating coefficients[6]
    cdef floating* b0 = (<floating*> state.buffer[0]) + first
    cdef floating* b1 = (<floating*> state.buffer[1]) + first if state.buffer[1] != NULL else NULL
    cdef floating* b2 = (<floating*> state.buffer[2]) + first if state.buffer[2] != NULL else NULL
    params += first
    grad += first
    if rule.kind == SGD_KIND:
        if floating is float:
            fastbp_sgd_f(params, grad, b0, count, lr, <float> rule.momentum, rule.nesterov, keep, scale)
        else:
            fastbp_sgd_d(params, grad, b0, count, lr, rule.momentum, rule.nesterov, keep, scale)
    elif rule.kind == ADAM_KIND:
        coefficients[0], coefficients[1] = <floating> rule.beta_1, <floating> (1 - rule.beta_1)
        coefficients[2], coefficients[3] = <floating> rule.beta_2, <floating> (1 - rule.beta_2)
        coefficients[4] = <floating> rule.epsilon
        if floating is float:
            fastbp_adam_f(params, grad, b0, b1, count, coefficients, step.step_size, scale)
        else:
            fastbp_adam_d(params, grad, b0, b1, count, coefficients, step.step_size, scale)
    elif rule.kind == ADAMW_KIND:
        coefficients[0], coefficients[1] = <floating> (1 - rule.beta_1), <floating> rule.beta_2
        coefficients[2], coefficients[3] = <floating> (1 - rule.beta_2), <floating> rule.epsilon
        coefficients[4], coefficients[5] = <floating> step.step_size, <floating> step.correction
        if floating is float:
            fastbp_adamw_f(params, grad, b0, b1, count, coefficients, keep, scale)
        else:
            fastbp_adamw_d(params, grad, b0, b1, count, coefficients, keep, scale)
    elif rule.kind == RMSPROP_KIND:
        coefficients[0], coefficients[1] = <floating> rule.rho, <floating> (1 - rule.rho)
        coefficients[2], coefficients[3] = <floating> rule.epsilon, <floating> rule.momentum
        coefficients[4], coefficients[5] = lr, <floating> rule.centered
        if floating is float:
            fastbp_rmsprop_f(params, grad, b0, b1, b2, count, coefficients, scale)
        else:
            fastbp_rmsprop_d(params, grad, b0, b1, b2, count, coefficients, scale)
    else:
        if floating is float:
            fastbp_adagrad_f(params, grad, b0, count, lr, <float> rule.epsilon, scale)
        else:
            fastbp_adagrad_d(params, grad, b0, count, lr, rule.epsilon, scale)


cdef void apply_step(const Rule* rule, const Step* step, floating* params, const floating* grad, State* state,
                     Py_ssize_t first, Py_ssize_t count, bint decayed) noexcept nogil:
    """The optimizer `rule`'s `step` on parameters first .. first + count, with the kind's weight decay when
    they are `decayed` (their block's policy)."""
    cdef floating keep = 1
    if decayed and rule.weight_decay != 0:
        keep = <floating> (1 - step.learning_rate * rule.weight_decay)
    step_span(rule, step, params, grad, state, first, count, keep)


cdef enum:
    UPDATE_CHUNK = 1 << 14   # parameters per block of a threaded update


cdef void update_span(const Rule* rule, const Step* step, floating* params, const floating* grad, State* state,
                      Span span, int n_threads) noexcept nogil:
    """`apply_step` over the span's parameters, in chunks spread over threads when the span is large: each
    parameter's update reads only its own entries, so any split gives the same bits."""
    cdef Py_ssize_t chunk, n_chunks = (span.count + UPDATE_CHUNK - 1) // UPDATE_CHUNK
    if use_threads_elementwise(n_threads, span.count):
        for chunk in prange(n_chunks, schedule="static", num_threads=start_team(n_threads)):
            apply_step(rule, step, params, grad, state, span.first + chunk * UPDATE_CHUNK,
                       min(<Py_ssize_t> UPDATE_CHUNK, span.count - chunk * UPDATE_CHUNK), span.decayed)
    else:
        apply_step(rule, step, params, grad, state, span.first, span.count, span.decayed)


cdef double clip_scale(const floating* grad, Py_ssize_t n, double clip_norm, double* partial,
                       int n_threads) noexcept nogil:
    """The factor that scales grad (n,) to L2 norm clip_norm when its norm is larger, as
    torch.nn.utils.clip_grad_norm_ computes it: clip_norm / (norm + 1e-6), never more than 1. The norm adds
    partial sums of CLIP_CHUNK entries (into partial, one per chunk) in chunk order: the same bits for any
    thread count. The optimizer's step applies the factor as it reads the gradient."""
    cdef Py_ssize_t chunk, n_chunks = (n + CLIP_CHUNK - 1) // CLIP_CHUNK
    cdef double total = 0
    if use_threads_elementwise(n_threads, n):
        for chunk in prange(n_chunks, schedule="static", num_threads=start_team(n_threads)):
            partial[chunk] = sum_of_squares(grad + chunk * CLIP_CHUNK, min(<Py_ssize_t> CLIP_CHUNK, n - chunk * CLIP_CHUNK))
    else:
        for chunk in range(n_chunks):
            partial[chunk] = sum_of_squares(grad + chunk * CLIP_CHUNK, min(<Py_ssize_t> CLIP_CHUNK, n - chunk * CLIP_CHUNK))
    for chunk in range(n_chunks):
        total += partial[chunk]
    return min(1.0, clip_norm / (sqrt(total) + CLIP_EPSILON))


def clip_chunks(Py_ssize_t n_params):
    """How many partial sums `clip_scale` needs for n_params entries (the size of its scratch)."""
    return max(1, (n_params + CLIP_CHUNK - 1) // CLIP_CHUNK)


def step(str name, dict settings, floating[::1] params, const floating[::1] grad, dict state, double learning_rate,
         long long t, const Py_ssize_t[:, ::1] decayed):
    """One in-place step (number t >= 1) of the optimizer `name` on flat (n_params,) buffers of one dtype: params,
    grad and the state buffers {name: array} (all checked by the caller); weight decay, for the kinds that have
    it, applies to the spans params[start:stop] of the rows (start, stop) of `decayed` (sorted, disjoint)."""
    cdef Rule rule = make_rule(name, settings)
    cdef Py_ssize_t span, at = 0, n = params.shape[0]
    cdef State buffers = make_state(name, state, params)
    cdef Step this_step
    make_step(&rule, t, learning_rate, &this_step)
    with nogil:
        for span in range(decayed.shape[0]):
            if decayed[span, 0] > at:
                apply_step(&rule, &this_step, &params[0], &grad[0], &buffers, at, decayed[span, 0] - at, False)
            apply_step(&rule, &this_step, &params[0], &grad[0], &buffers, decayed[span, 0],
                       decayed[span, 1] - decayed[span, 0], True)
            at = decayed[span, 1]
        if n > at:
            apply_step(&rule, &this_step, &params[0], &grad[0], &buffers, at, n - at, False)


def clip(floating[::1] grad, double clip_norm, int n_threads=1):
    """Scale grad in place to L2 norm clip_norm when larger (by `clip_scale`'s factor); returns the factor."""
    cdef double[::1] partial = np.empty(clip_chunks(grad.shape[0]))
    cdef double factor
    cdef Py_ssize_t i
    cdef floating f
    with nogil:
        factor = clip_scale(&grad[0], grad.shape[0], clip_norm, &partial[0], n_threads)
        f = <floating> factor
        if factor < 1:
            for i in range(grad.shape[0]):
                grad[i] = grad[i] * f
    return factor


def rate(str name, dict settings, double learning_rate, long long t):
    """The core's learning rate of step t for the schedule `name` (so tests can hold it to `fastbp.schedules`)."""
    cdef Schedule schedule = make_schedule(name, settings)
    return schedule_rate(&schedule, learning_rate, t)
