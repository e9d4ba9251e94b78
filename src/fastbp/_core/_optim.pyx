"""Optimizer updates: single loops over the flat parameter, gradient and state buffers.

The arithmetic is scikit-learn's (`sklearn/neural_network/_stochastic_optimizers.py`), operation for
operation and in the model's dtype, so float64 trajectories can match it to the last bits. Coefficients
such as 1 - beta are computed by the caller in double and rounded once, as NumPy does with Python floats.
"""


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
                    double step_size, floating beta_1, floating one_minus_beta_1, floating beta_2,
                    floating one_minus_beta_2, floating epsilon) noexcept nogil:
    """m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; params += -step * m / (sqrt(v) + eps).

    step_size = lr * sqrt(1 - b2^t) / (1 - b1^t): the bias correction folded into the step. All (n,).
    The step size is a double and so is the update, as in scikit-learn, where the NumPy float64 step
    size promotes a float32 update to float64 before it is added to the parameters.
    """
    cdef Py_ssize_t i
    cdef floating denominator
    for i in range(n):
        m[i] = beta_1 * m[i] + one_minus_beta_1 * grad[i]
        v[i] = beta_2 * v[i] + one_minus_beta_2 * (grad[i] * grad[i])
        denominator = <floating> sqrt(v[i]) + epsilon
        params[i] = <floating> (params[i] + (-step_size) * m[i] / <double> denominator)


def sgd_update(floating[::1] params, const floating[::1] grad, floating[::1] velocity,
               double learning_rate, double momentum, bint nesterov):
    """In-place SGD step on flat (n_params,) buffers of one dtype (checked by the caller)."""
    with nogil:
        sgd_step(&params[0], &grad[0], &velocity[0], params.shape[0], <floating> learning_rate,
                 <floating> momentum, nesterov)


def adam_update(floating[::1] params, const floating[::1] grad, floating[::1] m, floating[::1] v,
                double learning_rate, long long t, double beta_1, double beta_2, double epsilon):
    """In-place Adam step number t (>= 1) on flat (n_params,) buffers of one dtype (checked by the caller)."""
    with nogil:
        adam_step(&params[0], &grad[0], &m[0], &v[0], params.shape[0],
                  adam_step_size(learning_rate, t, beta_1, beta_2),
                  <floating> beta_1, <floating> (1 - beta_1), <floating> beta_2, <floating> (1 - beta_2),
                  <floating> epsilon)
