"""Optimizers that update a model's flat parameter buffer in place, with state on flat buffers too.

The updates run in the compiled core (`fastbp._core._optim`) with scikit-learn's exact arithmetic:
SGD in its velocity form of momentum and Nesterov momentum, Adam with the bias correction folded into the
step size. `step` takes the learning rate to use, so a schedule (constant, invscaling, adaptive, or any
callable) lives with whoever drives the training.
"""

import numpy as np

from fastbp import _validation as v
from fastbp import reference
from fastbp._core import _epoch, _optim


def _check_buffers(params, grad):
    if not isinstance(params, np.ndarray) or params.ndim != 1 or not params.flags.c_contiguous \
            or not params.flags.writeable or params.dtype not in v.DTYPES:
        raise TypeError("params must be a writeable, C-contiguous 1-D float32 or float64 array (a model's params)")
    if not isinstance(grad, np.ndarray) or grad.shape != params.shape or grad.dtype != params.dtype:
        raise ValueError(f"grad must be an array of shape {params.shape} and dtype {params.dtype}, "
                         f"like params; got {getattr(grad, 'shape', None)} {getattr(grad, 'dtype', None)}")
    return np.ascontiguousarray(grad)


class Optimizer:
    """Base class of `SGD` and `Adam`. State lives on flat buffers shaped like one model's params, made at the first step for that model.

    An optimizer holds the state of one model: reuse it to continue training that model, not another one.
    """

    learning_rate: float
    state_names: tuple  # names of the state buffers, in the order the compiled epoch takes them
    setting_names: tuple  # the hyperparameters, in the constructor's order
    _state = None
    t = 0  # steps taken since the state was made (Adam's bias correction uses it)

    def state_for(self, params):
        """The state buffers for params, created as zeros (and the step count reset) if they do not match."""
        state = self._state
        first = self.state_names[0]
        if state is None or state[first].shape != params.shape or state[first].dtype != params.dtype:
            self.reset()
            self._state = {name: np.zeros_like(params) for name in self.state_names}
        return self._state

    def reset(self):
        """Forget the state (velocities, moments, step count)."""
        self._state = None
        self.t = 0

    def settings(self):
        """The hyperparameters, as the constructor takes them (a dict)."""
        return {name: getattr(self, name) for name in self.setting_names}

    def state_dict(self):
        """Everything this optimizer holds, in plain values: {"name": the class name, "settings": see
        `settings`, "t": the step count, "state": {buffer name: array (n_params,)}, empty before the first
        step}. The arrays are the optimizer's own, not copies."""
        return {"name": type(self).__name__, "settings": self.settings(), "t": self.t,
                "state": dict(self._state) if self._state is not None else {}}

    def load_state_dict(self, state):
        """Take the step count and state buffers (copied) of a `state_dict` of this kind of optimizer; its
        settings are not changed."""
        if state.get("name") != type(self).__name__:
            raise ValueError(f"the state of {state.get('name')!r} cannot be loaded into {type(self).__name__}")
        buffers = state["state"]
        if buffers and set(buffers) != set(self.state_names):
            raise ValueError(f"{type(self).__name__} keeps the state {self.state_names}, got {tuple(buffers)}")
        self.reset()
        if buffers:
            self._state = {name: np.array(buffers[name], copy=True) for name in self.state_names}
            self.t = int(state["t"])

    def _learning_rate(self, override):
        return self.learning_rate if override is None else v.check_float("learning_rate", override, 0.0)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as scikit-learn's MLP does it.

    velocity <- momentum * velocity - lr * grad; params += velocity, or with Nesterov
    params += momentum * velocity - lr * grad.

    Parameters
    ----------
    learning_rate : float > 0, default=0.1
        The step size, unless the trainer's schedule sets it per epoch.
    momentum : float in [0, 1], default=0.9
    nesterov : bool, default=True

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> net = fastbp.MLP([3, 2, 1], random_state=0)
    >>> X, y = np.array([[1.0, 2.0, -1.5]]), np.array([[1.0]])
    >>> sgd = fastbp.SGD(learning_rate=0.5, momentum=0.0)
    >>> loss, grad = net.loss_and_grad(X, y)
    >>> before = net.params.copy()
    >>> sgd.step(net.params, grad)  # params <- params - 0.5 * grad, in place
    >>> bool(np.allclose(net.params, before - 0.5 * grad))
    True
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, nesterov=True):
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.momentum = v.check_float("momentum", momentum, 0.0)
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        self.nesterov = bool(nesterov)

    state_names = ("velocity",)
    setting_names = ("learning_rate", "momentum", "nesterov")

    def __repr__(self):
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum}, nesterov={self.nesterov})"

    def step(self, params, grad, learning_rate=None):
        """Update params (n_params,) in place from grad (n_params,); learning_rate overrides the default."""
        grad = _check_buffers(params, grad)
        lr = self._learning_rate(learning_rate)
        velocity = self.state_for(params)["velocity"]
        self.t += 1
        _optim.sgd_update(params, grad, velocity, lr, self.momentum, self.nesterov)

    def _reference_step(self, params, grad, learning_rate):
        velocity = self.state_for(params)["velocity"]
        self.t += 1
        reference.sgd_step(params, grad, velocity, learning_rate, self.momentum, self.nesterov)

    def _epoch_settings(self):
        return dict(optimizer=_epoch.SGD, momentum=self.momentum, nesterov=self.nesterov, beta_1=0.0,
                    beta_2=0.0, epsilon=0.0)


class Adam(Optimizer):
    """Adam, as scikit-learn's MLP does it.

    m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; t += 1;
    params += -lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
        The step size, unless the trainer's schedule sets it per epoch.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Decay rates of the moments' running averages.
    epsilon : float > 0, default=1e-8

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(200, 4)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(float)
    >>> net = fastbp.MLP([4, 16, 1], activation="tanh", random_state=0)
    >>> trainer = fastbp.Trainer(net, fastbp.Adam(learning_rate=0.01),
    ...                          max_epochs=50, random_state=0)
    >>> history = trainer.fit(X, y)
    >>> history.loss[-1] < 0.5 * history.loss[0]
    True
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            value = v.check_float(name, beta, 0.0)
            if value >= 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
            setattr(self, name, value)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)

    state_names = ("m", "v")
    setting_names = ("learning_rate", "beta_1", "beta_2", "epsilon")

    def __repr__(self):
        return (f"Adam(learning_rate={self.learning_rate}, beta_1={self.beta_1}, beta_2={self.beta_2}, "
                f"epsilon={self.epsilon})")

    def step(self, params, grad, learning_rate=None):
        """Update params (n_params,) in place from grad (n_params,); learning_rate overrides the default."""
        grad = _check_buffers(params, grad)
        lr = self._learning_rate(learning_rate)
        state = self.state_for(params)
        self.t += 1
        _optim.adam_update(params, grad, state["m"], state["v"], lr, self.t, self.beta_1, self.beta_2,
                           self.epsilon)

    def _reference_step(self, params, grad, learning_rate):
        state = self.state_for(params)
        self.t += 1
        reference.adam_step(params, grad, state["m"], state["v"], self.t, learning_rate, self.beta_1,
                            self.beta_2, self.epsilon)

    def _epoch_settings(self):
        return dict(optimizer=_epoch.ADAM, momentum=0.0, nesterov=False, beta_1=self.beta_1,
                    beta_2=self.beta_2, epsilon=self.epsilon)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adam)}


def from_state_dict(state):
    """The optimizer a `state_dict` describes: its class and settings, with its step count and state."""
    if state.get("name") not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {state.get('name')!r}; expected one of {sorted(OPTIMIZERS)}")
    optimizer = OPTIMIZERS[state["name"]](**state["settings"])
    optimizer.load_state_dict(state)
    return optimizer
