"""Optimizers that update a model's flat parameter buffer in place, with state on flat buffers too.

The updates run in the compiled core (`fastbp._core._optim`) with scikit-learn's exact arithmetic:
SGD in its velocity form of momentum and Nesterov momentum, Adam with the bias correction folded into the
step size. `step` takes the learning rate to use, so a schedule (constant, invscaling, adaptive, or any
callable) lives with whoever drives the training.
"""

import numpy as np

from fastbp import _validation as v
from fastbp._core import _optim


def _check_buffers(params, grad):
    if not isinstance(params, np.ndarray) or params.ndim != 1 or not params.flags.c_contiguous \
            or not params.flags.writeable or params.dtype not in v.DTYPES:
        raise TypeError("params must be a writeable, C-contiguous 1-D float32 or float64 array (a model's params)")
    if not isinstance(grad, np.ndarray) or grad.shape != params.shape or grad.dtype != params.dtype:
        raise ValueError(f"grad must be an array of shape {params.shape} and dtype {params.dtype}, "
                         f"like params; got {getattr(grad, 'shape', None)} {getattr(grad, 'dtype', None)}")
    return np.ascontiguousarray(grad)


class _Optimizer:
    learning_rate: float
    _state = None  # dict of flat buffers shaped like the params, made on the first step

    def _state_for(self, params, names):
        """(state buffers shaped like params, whether they were just created)."""
        state = self._state
        if state is None or state[names[0]].shape != params.shape or state[names[0]].dtype != params.dtype:
            self._state = {name: np.zeros_like(params) for name in names}
            return self._state, True
        return state, False

    def reset(self):
        """Forget the state (velocities, moments, step count)."""
        self._state = None

    def _learning_rate(self, override):
        return self.learning_rate if override is None else v.check_float("learning_rate", override, 0.0)


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum, as scikit-learn's MLP does it.

    velocity <- momentum * velocity - lr * grad; params += velocity, or with Nesterov
    params += momentum * velocity - lr * grad.

    Parameters
    ----------
    learning_rate : float > 0, default=0.1
    momentum : float in [0, 1], default=0.9
    nesterov : bool, default=True
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, nesterov=True):
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.momentum = v.check_float("momentum", momentum, 0.0)
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def __repr__(self):
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum}, nesterov={self.nesterov})"

    def step(self, params, grad, learning_rate=None):
        """Update params (n_params,) in place from grad (n_params,); learning_rate overrides the default."""
        grad = _check_buffers(params, grad)
        lr = self._learning_rate(learning_rate)
        state, _ = self._state_for(params, ("velocity",))
        _optim.sgd_update(params, grad, state["velocity"], lr, self.momentum, self.nesterov)


class Adam(_Optimizer):
    """Adam, as scikit-learn's MLP does it.

    m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; t += 1;
    params += -lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
    epsilon : float > 0, default=1e-8
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            value = v.check_float(name, beta, 0.0)
            if value >= 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
            setattr(self, name, value)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)
        self.t = 0

    def __repr__(self):
        return (f"Adam(learning_rate={self.learning_rate}, beta_1={self.beta_1}, beta_2={self.beta_2}, "
                f"epsilon={self.epsilon})")

    def reset(self):
        super().reset()
        self.t = 0

    def step(self, params, grad, learning_rate=None):
        """Update params (n_params,) in place from grad (n_params,); learning_rate overrides the default."""
        grad = _check_buffers(params, grad)
        lr = self._learning_rate(learning_rate)
        state, created = self._state_for(params, ("m", "v"))
        self.t = 1 if created else self.t + 1
        step_size = lr * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        _optim.adam_update(params, grad, state["m"], state["v"], float(step_size), self.beta_1, self.beta_2,
                           self.epsilon)
