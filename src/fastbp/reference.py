"""The NumPy backend's math: the user guide's backpropagation page, written as plainly as NumPy allows.

This module is the specification the compiled core is tested against. It is meant to be read, not to be
fast: one function per idea, no fusion, no in-place tricks. It holds the elementwise math (the hidden
activations and their derivatives, the dropout masks, the outputs and their losses from the logits), the
optimizers' update formulas and gradient clipping. A `Spec` says what a network computes besides its weights:
each hidden layer's activation, the output and its loss, and each hidden layer's dropout rate. The network
itself, stage by stage, is `fastbp.reference_stages` (each stage kind's forward and backward) and
`fastbp.reference_network` (a model's stages from its layout, its objective and gradient); the protocol of a
training step is `fastbp.steps`.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

# --- hidden activations f and their derivatives ---------------------------------------------------------
# PyTorch's definitions and default constants. The first seven take f' from the output a = f(z) (DERIVATIVES),
# the others from z (DERIVATIVES_Z).

LEAKY_SLOPE = 0.01
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
SOFTPLUS_THRESHOLD = 20.0
GELU_KAPPA, SQRT_2_OVER_PI = 0.044715, np.sqrt(2 / np.pi)


def logistic(z):
    # Branch on the sign so exp never overflows: sigmoid(z) = e^z / (1 + e^z) for z < 0.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def relu(z):
    return np.maximum(z, 0)


def identity(z):
    return z


def leaky_relu(z):
    return np.where(z > 0, z, LEAKY_SLOPE * z).astype(z.dtype, copy=False)


def elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0))).astype(z.dtype, copy=False)


def selu(z):
    return np.where(z > 0, SELU_SCALE * z, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(z, 0))).astype(z.dtype,
                                                                                                       copy=False)


def softplus_unit(z):
    # The activation, PyTorch's: log(1 + e^z), and z itself above the threshold 20.
    with np.errstate(over="ignore"):
        return np.where(z > SOFTPLUS_THRESHOLD, z, np.log1p(np.exp(z))).astype(z.dtype, copy=False)


def gelu(z):
    return (0.5 * z * (1 + erf(z / np.sqrt(2)))).astype(z.dtype, copy=False)


def gelu_tanh(z):
    return (0.5 * z * (1 + np.tanh(SQRT_2_OVER_PI * (z + GELU_KAPPA * z**3)))).astype(z.dtype, copy=False)


def silu(z):
    return (z * logistic(z)).astype(z.dtype, copy=False)


def mish(z):
    with np.errstate(over="ignore"):
        return (z * np.tanh(np.log1p(np.exp(z)))).astype(z.dtype, copy=False)


ACTIVATIONS = {"identity": identity, "logistic": logistic, "tanh": np.tanh, "relu": relu, "leaky_relu": leaky_relu,
               "elu": elu, "selu": selu, "softplus": softplus_unit, "gelu": gelu, "gelu_tanh": gelu_tanh,
               "silu": silu, "mish": mish}

DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "logistic": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a**2,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "leaky_relu": lambda a: np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype),
    "elu": lambda a: np.where(a > 0, 1, a + 1).astype(a.dtype),
    "selu": lambda a: np.where(a > 0, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA).astype(a.dtype),
}


def _gelu_tanh_derivative(z):
    t = np.tanh(SQRT_2_OVER_PI * (z + GELU_KAPPA * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * z**2)


def _mish_derivative(z):
    with np.errstate(over="ignore"):
        t = np.tanh(np.log1p(np.exp(z)))
    return t + z * logistic(z) * (1 - t**2)


DERIVATIVES_Z = {
    "softplus": lambda z: np.where(z > SOFTPLUS_THRESHOLD, 1, logistic(z)),
    "gelu": lambda z: 0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi),
    "gelu_tanh": _gelu_tanh_derivative,
    "silu": lambda z: logistic(z) * (1 + z * (1 - logistic(z))),
    "mish": _mish_derivative,
}


def derivative(activation, z, a):
    """f'(z), from a = f(z) for the activations of DERIVATIVES, from z for the others."""
    if activation in DERIVATIVES:
        return DERIVATIVES[activation](a)
    return DERIVATIVES_Z[activation](z).astype(z.dtype, copy=False)


# --- dropout masks: a counter-based generator (the core's `_masks.pxd`, bit for bit) ----------------------

def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _fmix32(h):
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def dropout_mask(seed, step, layer, n_rows, n_units, rate, dtype):
    """The (n_rows, n_units) factor of inverted dropout at `rate`: 1 / (1 - rate) where a unit is kept, 0 where it
    is dropped; whether unit j of row r is kept is a pure function of (seed, step, layer, r, j)."""
    with np.errstate(over="ignore"):
        key = _splitmix64(_splitmix64(_splitmix64(np.array([seed], np.uint64)) ^ np.uint64(step)) ^ np.uint64(layer))
        rows = _splitmix64(key ^ np.arange(n_rows, dtype=np.uint64))[:, None]
        low, high = rows.astype(np.uint32), (rows >> np.uint64(32)).astype(np.uint32)
        units = np.arange(n_units, dtype=np.uint32)[None, :] * np.uint32(0x9E3779B9)
        bits = _fmix32(_fmix32(low ^ units) ^ high)
    keep = bits.astype(np.uint64) < np.uint64((1.0 - rate) * 4294967296.0)
    return np.where(keep, 1.0 / (1.0 - rate), 0.0)


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


@dataclass(frozen=True)
class Spec:
    """What a network computes besides its weights: each hidden layer's activation, the output, its loss
    ("natural": the output's own; "huber" or "absolute_error" for an identity output), Huber's delta, the
    label smoothing of logistic and softmax outputs, and each hidden layer's dropout rate."""

    activations: tuple
    output: str
    loss: str = "natural"
    huber_delta: float = 1.0
    label_smoothing: float = 0.0
    dropout: tuple = ()


def targets(spec, Y):
    """The targets the loss compares with: Y, or with label smoothing y (1 - e) + e / 2 for logistic outputs and
    y (1 - e) + e / K for a softmax of K classes (PyTorch's smoothing)."""
    e = spec.label_smoothing
    if e == 0:
        return Y
    share = 0.5 if spec.output == "logistic" else 1.0 / Y.shape[1]
    return Y * (1 - e) + e * share


def sample_losses(spec, z, y):
    """Loss L_i of every sample, shape (n_samples,), from the logits z and targets y (n_samples, n_outputs)."""
    y = targets(spec, y)
    if spec.output == "logistic":  # binary cross-entropy -[y log y_hat + (1 - y) log(1 - y_hat)]
        per_output = softplus(z) - y * z
    elif spec.output == "softmax":  # cross-entropy -sum_k y_k log y_hat_k
        per_output = y * (logsumexp(z) - z)
    elif spec.output == "exp":  # half Poisson deviance y log(y / y_hat) - y + y_hat
        per_output = np.exp(z) - y * z + xlogy(y, y) - y
    elif spec.loss == "huber":  # 1/2 d^2 within delta of the target, delta (|d| - delta / 2) beyond
        d, h = np.abs(z - y), spec.huber_delta
        per_output = np.where(d <= h, 0.5 * d**2, h * (d - 0.5 * h))
    elif spec.loss == "absolute_error":
        per_output = np.abs(z - y)
    else:  # squared error
        per_output = 0.5 * (y - z) ** 2
    return per_output.sum(axis=1)


def output_gradient(spec, z, y):
    """dL_i/dz of every sample and output: y_hat - y for the natural losses, their own for the others."""
    if spec.output == "identity" and spec.loss == "huber":
        d = z - y
        return np.where(np.abs(d) <= spec.huber_delta, d, spec.huber_delta * np.sign(d))
    if spec.output == "identity" and spec.loss == "absolute_error":
        return np.sign(z - y)
    return OUTPUTS[spec.output](z) - targets(spec, y)


# --- the objective's weights ----------------------------------------------------------------------------------


def sample_weights(X, sample_weight, weight_sum=None):
    """(w, S): the weights (ones when None) and S, their sum unless `weight_sum` gives a larger total (every
    rank's rows, in data-parallel training)."""
    w = np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None else sample_weight
    return w, float(w.sum(dtype=np.float64)) if weight_sum is None else float(weight_sum)


# --- optimizers: scikit-learn's (SGD, Adam) and PyTorch's (AdamW, RMSprop, Adagrad) update formulas ------------


def decay(params, decayed, learning_rate, weight_decay):
    """Decoupled weight decay: params[start:stop] *= 1 - lr * weight_decay for each span (start, stop) of
    `decayed` (the blocks whose policy is decayed: the weights)."""
    if weight_decay:
        for start, stop in decayed:
            params[start:stop] *= params.dtype.type(1 - learning_rate * weight_decay)


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


def adamw_step(params, grad, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """AdamW's t-th step after its weight decay: bias corrections on m and on sqrt(v), epsilon added after."""
    m[...] = m + (1 - beta_1) * (grad - m)
    v[...] = beta_2 * v + (1 - beta_2) * grad**2
    denominator = np.sqrt(v) / np.sqrt(1 - beta_2**t) + epsilon
    params -= learning_rate / (1 - beta_1**t) * m / denominator


def rmsprop_step(params, grad, state, learning_rate, rho, epsilon, momentum, centered):
    """RMSprop: the squared gradient's running mean (minus the gradient's, centered) divides the step."""
    square_avg, buf, grad_avg = state["square_avg"], state["momentum_buffer"], state["grad_avg"]
    square_avg[...] = rho * square_avg + (1 - rho) * grad**2
    if centered:
        grad_avg[...] = grad_avg + (1 - rho) * (grad - grad_avg)
        denominator = np.sqrt(square_avg - grad_avg**2) + epsilon
    else:
        denominator = np.sqrt(square_avg) + epsilon
    if momentum > 0:
        buf[...] = momentum * buf + grad / denominator
        params -= learning_rate * buf
    else:
        params -= learning_rate * grad / denominator


def adagrad_step(params, grad, total, learning_rate, epsilon):
    """Adagrad: the running sum of squared gradients divides the step."""
    total += grad**2
    params -= learning_rate * grad / (np.sqrt(total) + epsilon)


def optimizer_step(name, settings, params, grad, state, learning_rate, t, decayed):
    """Step number t of the optimizer `name` (with its `settings`) on the flat buffers, its state a dict of
    buffers; weight decay, where the optimizer has it, applies to the spans `decayed` (see `decay`)."""
    s = settings
    decay(params, decayed, learning_rate, s.get("weight_decay", 0.0))
    if name == "SGD":
        sgd_step(params, grad, state["velocity"], learning_rate, s["momentum"], s["nesterov"])
    elif name == "Adam":
        adam_step(params, grad, state["m"], state["v"], t, learning_rate, s["beta_1"], s["beta_2"], s["epsilon"])
    elif name == "AdamW":
        adamw_step(params, grad, state["m"], state["v"], t, learning_rate, s["beta_1"], s["beta_2"], s["epsilon"])
    elif name == "RMSprop":
        rmsprop_step(params, grad, state, learning_rate, s["rho"], s["epsilon"], s["momentum"], s["centered"])
    else:
        adagrad_step(params, grad, state["sum"], learning_rate, s["epsilon"])


def clip(grad, clip_norm):
    """Scale grad in place to L2 norm clip_norm when it is larger: by clip_norm / (norm + 1e-6), as
    torch.nn.utils.clip_grad_norm_ does. Returns the norm before."""
    norm = float(np.sqrt(np.sum(grad.astype(np.float64) ** 2)))
    coefficient = clip_norm / (norm + 1e-6)
    if coefficient < 1:
        grad *= grad.dtype.type(coefficient)
    return norm
