"""Optimizer updates: single loops over the flat parameter, gradient and state buffers.

The arithmetic is scikit-learn's (`sklearn/neural_network/_stochastic_optimizers.py`), operation for
operation and in the model's dtype, so float64 trajectories can match it to the last bits. Coefficients
such as 1 - beta are computed in double and rounded once, as NumPy does with Python floats. The compiled
epoch (`_epoch`) applies `apply_step` to every minibatch; `step` applies it once, for the Python layer.
"""

from cython cimport floating
from libc.math cimport pow, sqrt

# The table, by name: each kind's code, the settings its `Rule` takes, and its state buffers in order.
OPTIMIZERS = {"SGD": SGD_KIND, "Adam": ADAM_KIND}
SETTINGS = {"SGD": ("momentum", "nesterov"), "Adam": ("beta_1", "beta_2", "epsilon")}
STATE_NAMES = {"SGD": ("velocity",), "Adam": ("m", "v")}


cdef Rule make_rule(str name, dict settings) except *:
    """The `Rule` of the optimizer `name` with `settings` (a dict holding at least SETTINGS[name])."""
    cdef Rule rule
    rule.kind = <Kind> OPTIMIZERS[name]
    rule.momentum = settings["momentum"] if name == "SGD" else 0
    rule.nesterov = settings["nesterov"] if name == "SGD" else False
    rule.beta_1 = settings["beta_1"] if name == "Adam" else 0
    rule.beta_2 = settings["beta_2"] if name == "Adam" else 0
    rule.epsilon = settings["epsilon"] if name == "Adam" else 0
    return rule


cdef State make_state(str name, dict buffers, const floating[::1] params) except *:
    """The `State` over `buffers` ({name: array}, the names of STATE_NAMES[name]), each shaped and typed like
    params; they must stay alive while it is used."""
    cdef State state
    cdef floating[::1] first, last
    names = STATE_NAMES[name]
    if buffers.keys() != set(names):
        raise ValueError(f"{name} keeps the state {names}, got {tuple(buffers)}")
    first = buffers[names[0]]
    last = buffers[names[len(names) - 1]]
    if first.shape[0] != params.shape[0] or last.shape[0] != params.shape[0]:
        raise ValueError(f"{name}'s state buffers must have the shape of params, ({params.shape[0]},)")
    state.velocity = state.m = state.v = NULL
    if name == "SGD":
        state.velocity = &first[0]
    else:
        state.m = &first[0]
        state.v = &last[0]
    return state


cdef inline AdamStep adam_step_of(const Rule* rule, double learning_rate, long long t) noexcept nogil:
    """The coefficients of Adam's step number t >= 1, with the bias correction in double as scikit-learn has it."""
    cdef AdamStep c
    c.step_size = learning_rate * sqrt(1 - pow(rule.beta_2, <double> t)) / (1 - pow(rule.beta_1, <double> t))
    c.beta_1 = rule.beta_1
    c.one_minus_beta_1 = 1 - rule.beta_1
    c.beta_2 = rule.beta_2
    c.one_minus_beta_2 = 1 - rule.beta_2
    c.epsilon = rule.epsilon
    return c


cdef void sgd_step(floating* params, const floating* grad, floating* velocity, Py_ssize_t n,
                   floating learning_rate, floating momentum, bint nesterov) noexcept nogil:
    """velocity <- momentum * velocity - lr * grad; params += velocity, or with Nesterov
    params += momentum * velocity - lr * grad (the look-ahead step). All (n,).

    Without momentum the step is params += -(lr * grad) in either form (0 * velocity adds an exact zero),
    and the velocity, which no step then reads, is left alone: two memory streams fewer.
    """
    cdef Py_ssize_t i
    if momentum == 0:
        for i in range(n):
            params[i] += -(learning_rate * grad[i])
        return
    for i in range(n):
        velocity[i] = momentum * velocity[i] - learning_rate * grad[i]
        if nesterov:
            params[i] += momentum * velocity[i] - learning_rate * grad[i]
        else:
            params[i] += velocity[i]


cdef void adam_step(floating* params, const floating* grad, floating* m, floating* v, Py_ssize_t n,
                    const AdamStep* c) noexcept nogil:
    """m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; params += -step * m / (sqrt(v) + eps). All (n,).

    The step size is a double and so is the update, as in scikit-learn, where the NumPy float64 step
    size promotes a float32 update to float64 before it is added to the parameters.
    """
    cdef Py_ssize_t i
    cdef floating denominator
    cdef floating beta_1 = <floating> c.beta_1, one_minus_beta_1 = <floating> c.one_minus_beta_1
    cdef floating beta_2 = <floating> c.beta_2, one_minus_beta_2 = <floating> c.one_minus_beta_2
    cdef floating epsilon = <floating> c.epsilon
    cdef double step_size = c.step_size
    for i in range(n):
        m[i] = beta_1 * m[i] + one_minus_beta_1 * grad[i]
        v[i] = beta_2 * v[i] + one_minus_beta_2 * (grad[i] * grad[i])
        denominator = <floating> sqrt(v[i]) + epsilon
        params[i] = <floating> (params[i] + (-step_size) * m[i] / <double> denominator)


cdef void apply_step(const Rule* rule, double learning_rate, long long t, floating* params, const floating* grad,
                     State* state, Py_ssize_t first, Py_ssize_t count) noexcept nogil:
    """Step number t (>= 1) of the optimizer `rule` on parameters first .. first + count."""
    cdef AdamStep c
    if rule.kind == SGD_KIND:
        sgd_step(params + first, grad + first, (<floating*> state.velocity) + first, count, <floating> learning_rate,
                 <floating> rule.momentum, rule.nesterov)
    else:
        c = adam_step_of(rule, learning_rate, t)
        adam_step(params + first, grad + first, (<floating*> state.m) + first, (<floating*> state.v) + first, count,
                  &c)


def step(str name, dict settings, floating[::1] params, const floating[::1] grad, dict state, double learning_rate,
         long long t):
    """One in-place step (number t >= 1) of the optimizer `name` on flat (n_params,) buffers of one dtype: params,
    grad and the state buffers {name: array} (all checked by the caller)."""
    cdef Rule rule = make_rule(name, settings)
    cdef State buffers = make_state(name, state, params)
    with nogil:
        apply_step(&rule, learning_rate, t, &params[0], &grad[0], &buffers, 0, params.shape[0])
