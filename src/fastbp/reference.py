"""The NumPy backend: the math of DESIGN.md section 1, written as plainly as NumPy allows.

This module is the specification the compiled core is tested against. It is meant to be read, not to be
fast: one function per idea, no fusion, no in-place tricks. Arrays are in the model's dtype; `coefs[l]` is
W[l] with shape (n_in, n_out) and `intercepts[l]` is b[l] with shape (n_out,).

X may be a scipy.sparse CSR matrix or array: the same code then runs scipy's sparse products, X @ W[0]
forward and X^T @ delta[1] for the first layer's weight gradient, both of which give dense arrays, and
minibatches are X's rows picked by index (X[rows], again CSR). Everything after the first layer is dense.
"""

import numpy as np

# --- hidden activations f and their derivatives f'(a), written in terms of the output a = f(z) ----------


def logistic(z):
    # Branch on the sign so exp never overflows: sigmoid(z) = e^z / (1 + e^z) for z < 0.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def relu(z):
    return np.maximum(z, 0)


def identity(z):
    return z


ACTIVATIONS = {"identity": identity, "logistic": logistic, "tanh": np.tanh, "relu": relu}

DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "logistic": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a**2,
    "relu": lambda a: (a > 0).astype(a.dtype),
}


# --- output layers: y_hat from the logits, and the per-sample loss computed from the logits --------------


def softmax(z):
    # Subtract the row maximum so every exp() is at most 1.
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


OUTPUTS = {"identity": identity, "logistic": logistic, "softmax": softmax, "exp": np.exp}


def softplus(z):
    # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), which never overflows.
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def logsumexp(z):
    m = z.max(axis=1, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def xlogy(x, y):
    # x log y with 0 log 0 = 0.
    safe_y = np.where(x == 0, 1, y)
    return np.where(x == 0, 0, x * np.log(safe_y))


def sample_losses(output, z, y):
    """Loss L_i of every sample, shape (n_samples,), from the logits z and targets y (n_samples, n_outputs).

    Each is chosen so that dL_i/dz = y_hat - y.
    """
    if output == "logistic":  # binary cross-entropy -[y log y_hat + (1 - y) log(1 - y_hat)]
        per_output = softplus(z) - y * z
    elif output == "softmax":  # cross-entropy -sum_k y_k log y_hat_k
        per_output = y * (logsumexp(z) - z)
    elif output == "exp":  # half Poisson deviance y log(y / y_hat) - y + y_hat
        per_output = np.exp(z) - y * z + xlogy(y, y) - y
    else:  # squared error
        per_output = 0.5 * (y - z) ** 2
    return per_output.sum(axis=1)


# --- the network ------------------------------------------------------------------------------------------


def forward_pass(coefs, intercepts, X, activation):
    """Activations [A[1], ..., A[L-1], Z[L]]: the hidden layers' outputs, then the output logits.

    For a sparse X the first product X @ W is scipy's sparse x dense product, a dense array."""
    activations = []
    a = X
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        is_output = l == len(coefs) - 1
        a = z if is_output else ACTIVATIONS[activation](z)
        activations.append(a)
    return activations


def forward(coefs, intercepts, X, activation, output):
    """Output activations y_hat, shape (n_samples, n_outputs)."""
    logits = forward_pass(coefs, intercepts, X, activation)[-1]
    return OUTPUTS[output](logits)


def sample_weights(X, sample_weight, weight_sum=None):
    """(w, S): the weights (ones when None) and S, their sum unless `weight_sum` gives a larger total (every
    rank's rows, in data-parallel training)."""
    w = np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None else sample_weight
    return w, float(w.sum(dtype=np.float64)) if weight_sum is None else float(weight_sum)


def objective(coefs, logits, Y, output, w, S, alpha):
    """(1/S) sum_i w_i L_i + (alpha/2S) sum_l ||W[l]||^2, from the output logits."""
    penalty = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in coefs)
    return float(np.dot(w, sample_losses(output, logits, Y))) / S + 0.5 * alpha * penalty / S


def objective_and_output(coefs, intercepts, X, Y, activation, output, sample_weight=None, alpha=0.0,
                         weight_sum=None):
    """(objective, y_hat) from one forward pass, without the gradient."""
    w, S = sample_weights(X, sample_weight, weight_sum)
    logits = forward_pass(coefs, intercepts, X, activation)[-1]
    return objective(coefs, logits, Y, output, w, S, alpha), OUTPUTS[output](logits)


def loss_and_grad(coefs, intercepts, X, Y, activation, output, sample_weight=None, alpha=0.0, weight_sum=None):
    """Objective (1/S) sum_i w_i L_i + (alpha/2S) sum_l ||W[l]||^2 and its gradients.

    Returns (loss, coef_grads, intercept_grads) with the gradients shaped like coefs and intercepts.
    S is the sum of the sample weights (the number of samples when sample_weight is None), or `weight_sum`.
    """
    w, S = sample_weights(X, sample_weight, weight_sum)
    activations = forward_pass(coefs, intercepts, X, activation)
    logits = activations[-1]
    y_hat = OUTPUTS[output](logits)
    loss = objective(coefs, logits, Y, output, w, S, alpha)

    # At the output, dL/dz = y_hat - y for every output/loss pair; weight each sample and average.
    delta = ((y_hat - Y) * (w / S)[:, None]).astype(X.dtype, copy=False)
    coef_grads = [None] * len(coefs)
    intercept_grads = [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        a_prev = X if l == 0 else activations[l - 1]
        # For a sparse X, X.T @ delta is scipy's sparse (CSC) x dense product: a dense (n_in, n_out) array.
        coef_grads[l] = a_prev.T @ delta + (alpha / S) * coefs[l]
        intercept_grads[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ coefs[l].T) * DERIVATIVES[activation](a_prev)
    coef_grads = [g.astype(X.dtype, copy=False) for g in coef_grads]
    return loss, coef_grads, intercept_grads


# --- optimizers: scikit-learn's update formulas, in place on flat buffers ---------------------------------


def sgd_step(params, grad, velocity, learning_rate, momentum, nesterov):
    """velocity <- momentum velocity - lr grad; params += velocity, or with Nesterov the look-ahead step."""
    velocity[...] = momentum * velocity - learning_rate * grad
    if nesterov:
        params += momentum * velocity - learning_rate * grad
    else:
        params += velocity


def adam_step(params, grad, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """Adam's t-th step (t >= 1), with the bias correction folded into the step size."""
    m[...] = beta_1 * m + (1 - beta_1) * grad
    v[...] = beta_2 * v + (1 - beta_2) * grad**2
    step_size = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    params += -step_size * m / (np.sqrt(v) + epsilon)


def optimizer_step(name, settings, params, grad, state, learning_rate, t):
    """Step number t of the optimizer `name` ("SGD" or "Adam", with its `settings`) on the flat buffers, its
    state a dict of buffers (SGD's "velocity", Adam's "m" and "v")."""
    if name == "SGD":
        sgd_step(params, grad, state["velocity"], learning_rate, settings["momentum"], settings["nesterov"])
    else:
        adam_step(params, grad, state["m"], state["v"], t, learning_rate, settings["beta_1"], settings["beta_2"],
                  settings["epsilon"])


# --- one epoch of minibatch training ----------------------------------------------------------------------


def train_epoch(coefs, intercepts, X, Y, sample_weight, order, batch_size, alpha, activation, output, step):
    """Minibatch steps over the rows of X in `order` (or in place order when None).

    `step(coef_grads, intercept_grads)` applies the optimizer to the gradient, given per layer, updating the
    arrays in `coefs` and `intercepts` in place. A minibatch whose sample weights are all zero is
    skipped. Returns (loss_sum, finite): loss_sum adds each minibatch objective times its size, and the
    epoch stops at the first non-finite objective, before its update.
    """
    n_samples = X.shape[0]
    loss_sum = 0.0
    for first in range(0, n_samples, batch_size):
        rows = slice(first, first + batch_size) if order is None else order[first:first + batch_size]
        w = None if sample_weight is None else sample_weight[rows]
        if w is not None and not w.sum(dtype=np.float64) > 0:
            continue
        loss, coef_grads, intercept_grads = loss_and_grad(coefs, intercepts, X[rows], Y[rows], activation,
                                                          output, w, alpha)
        if not np.isfinite(loss):
            return loss_sum, False
        loss_sum += loss * X[rows].shape[0]
        step(coef_grads, intercept_grads)
    return loss_sum, True
