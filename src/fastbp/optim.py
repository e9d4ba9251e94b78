"""Optimizers that update a model's flat parameter buffer in place, with state on flat buffers too.

The updates run in the compiled core (`fastbp._core._optim`, whose table lists each kind's state): SGD and
Adam with scikit-learn's exact arithmetic (SGD in its velocity form of momentum and Nesterov momentum, Adam
with the bias correction folded into the step size), AdamW, RMSprop and Adagrad with PyTorch's; the NumPy
reference has its own copy (`fastbp.reference`), which its backend steps with. `step` takes the learning
rate to use, so a schedule (per epoch, or `fastbp.schedules` per step) lives with whoever drives the
training. `state_dict` and `from_state_dict` give an optimizer as plain values (persistence, pickles, MPI).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fastbp import _validation as v
from fastbp._core import _optim
from fastbp._transaction import keeping
from fastbp.layout import Layout


def _check_buffers(params, grad):
    if not isinstance(params, np.ndarray) or params.ndim != 1 or not params.flags.c_contiguous \
            or not params.flags.writeable or params.dtype not in v.DTYPES:
        raise TypeError("params must be a writeable, C-contiguous 1-D float32 or float64 array (a model's params)")
    if not isinstance(grad, np.ndarray) or grad.shape != params.shape or grad.dtype != params.dtype:
        raise ValueError(f"grad must be an array of shape {params.shape} and dtype {params.dtype}, "
                         f"like params; got {getattr(grad, 'shape', None)} {getattr(grad, 'dtype', None)}")
    return np.ascontiguousarray(grad)


class Optimizer:
    """Base class of the optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`). State lives on flat buffers
    shaped like one model's params, made at the first step for that model.

    An optimizer holds the state of one model: reuse it to continue training that model, not another one.
    Its kind (`name`) is a row of the core's optimizer table: the table gives its state
    buffers (`state_names`), and the backends run its update.
    """

    name: str  # the kind, as the core's optimizer table names it
    learning_rate: float
    setting_names: tuple  # the hyperparameters, in the constructor's order
    _state = None
    t = 0  # steps taken since the state was made (Adam's bias correction uses it)


    @property
    def state_names(self) -> tuple[str, ...]:
        """The names of the state buffers, in the core's order."""
        return _optim.STATE_NAMES[self.name]

    def state_for(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The state buffers for params, made as zeros (with the step count at 0) before the first step. State of
        another shape or dtype (another model's, or loaded for one) is refused: a ValueError, nothing changed."""
        state = self._state
        if state is None:
            self.t = 0
            self._state = {name: np.zeros_like(params) for name in self.state_names}
            return self._state
        first = state[self.state_names[0]]
        if first.shape != params.shape or first.dtype != params.dtype:
            raise ValueError(f"{self.name} holds state for {first.shape[0]} parameters of {first.dtype}, not this "
                             f"model's {params.shape[0]} of {params.dtype}: an optimizer continues the model it "
                             "trained; call reset() (or use a new optimizer) to start over with another")
        return state

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count)."""
        self._state = None
        self.t = 0

    def settings(self) -> dict[str, Any]:
        """The hyperparameters, as the constructor takes them (a dict)."""
        return {name: getattr(self, name) for name in self.setting_names}

    def check_settings(self) -> dict[str, Any]:
        """The settings, checked as the constructor of this kind checks them (an attribute assigned since
        construction is checked too): what the compiled core is given."""
        OPTIMIZERS[self.name](**self.settings())
        return self.settings()

    def state_dict(self) -> dict[str, Any]:
        """Everything this optimizer holds, in plain values: {"name": its kind, "settings": see `settings`, "t":
        the step count, "state": {buffer name: array (n_params,)}, empty before the first step}. The arrays
        are the optimizer's own, not copies."""
        return {"name": self.name, "settings": self.settings(), "t": self.t,
                "state": dict(self._state) if self._state is not None else {}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take the step count and state buffers (copied) of a `state_dict` of this kind of optimizer; its
        settings are not changed. Everything is checked first (the kind, the buffers' names, that they are
        finite 1-D float32 or float64 arrays of one shape, a step count >= 0): a refused state changes nothing.
        The next fit checks the buffers against its model's parameters."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping (a state_dict), got {type(state).__name__}")
        if state.get("name") != self.name:
            raise ValueError(f"the state of {state.get('name')!r} cannot be loaded into {self.name}")
        buffers = state.get("state")
        if not isinstance(buffers, Mapping):
            raise ValueError(f"state['state'] must be a mapping of {self.name}'s buffers {self.state_names}, "
                             f"got {buffers!r}")
        if buffers and set(buffers) != set(self.state_names):
            raise ValueError(f"{self.name} keeps the state {self.state_names}, got {tuple(buffers)}")
        t = v.check_int("state['t']", state.get("t"), minimum=0) if buffers else 0
        loaded = {name: np.array(buffers[name], copy=True) for name in self.state_names} if buffers else None
        if loaded is not None:
            first = loaded[self.state_names[0]]
            for name, buffer in loaded.items():
                if buffer.ndim != 1 or buffer.dtype not in v.DTYPES or buffer.shape != first.shape \
                        or buffer.dtype != first.dtype:
                    raise ValueError(f"state['state'][{name!r}] must be a 1-D float32 or float64 array shaped like "
                                     f"the others ({first.shape} {first.dtype}); got {buffer.shape} {buffer.dtype}")
                if not np.isfinite(buffer).all():
                    raise ValueError(f"state['state'][{name!r}] contains NaN or infinity")
        self._state, self.t = loaded, t

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the optimizer's state and step count back as they are now (see
        ``fastbp._transaction``)."""
        return keeping(self, [] if self._state is None else list(self._state.values()))

    def step(self, params: np.ndarray, grad: np.ndarray, learning_rate: float | None = None,
             n_coefs: int | None = None, *, layout: Layout | None = None) -> None:
        """Update params (n_params,) in place from grad (n_params,); learning_rate overrides the default.
        Weight decay, for the optimizers that have it, applies to params[:n_coefs] (a plain model's
        `MLP.n_coefs`: its coefficients, not its intercepts), or to the blocks that `layout` (a model's
        `MLP.layout`) marks decayed (an ensemble's weights and scalings, not its biases); with neither, to
        every entry."""
        grad = _check_buffers(params, grad)
        settings = self.check_settings()
        lr = self.learning_rate if learning_rate is None else v.check_float("learning_rate", learning_rate, 0.0)
        n_decayed = params.shape[0] if n_coefs is None else v.check_int("n_coefs", n_coefs, minimum=0)
        if layout is not None:
            if n_coefs is not None:
                raise TypeError("step takes n_coefs or layout, not both")
            if not isinstance(layout, Layout) or layout.n_params != params.shape[0]:
                raise ValueError(f"layout must be the fastbp.layout.Layout of a model of {params.shape[0]} "
                                 f"parameters (its MLP.layout), got {layout!r:.80}")
        state = self.state_for(params)
        decayed = layout.spans("decayed") if layout is not None else np.array(
            [[0, min(n_decayed, params.shape[0])]], dtype=np.intp)
        _optim.step(self.name, settings, params, grad, state, lr, self.t + 1, decayed)
        self.t += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={value!r}' for k, value in self.settings().items())})"


def _check_decay(name, value):
    """A decay rate in [0, 1)."""
    value = v.check_float(name, value, 0.0)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as scikit-learn's MLP does it, and decoupled weight decay.

    ``params *= 1 - lr * weight_decay`` (coefficients only); then ``velocity <- momentum * velocity - lr * grad``
    and ``params += velocity``, or with Nesterov ``params += momentum * velocity - lr * grad``.

    Parameters
    ----------
    learning_rate : float > 0, default=0.1
        The step size, unless the trainer's schedule sets it.
    momentum : float in [0, 1], default=0.9
    nesterov : bool, default=True
    weight_decay : float >= 0, default=0.0
        Decoupled weight decay (Loshchilov and Hutter 2019) of the coefficients, not the intercepts.

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

    name = "SGD"
    setting_names = ("learning_rate", "momentum", "nesterov", "weight_decay")

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.9, nesterov: bool = True,
                 weight_decay: float = 0.0) -> None:
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.momentum = v.check_float("momentum", momentum, 0.0)
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum}")
        self.nesterov = v.check_bool("nesterov", nesterov)
        self.weight_decay = v.check_float("weight_decay", weight_decay, minimum=0.0)

    def __repr__(self) -> str:
        decay = f", weight_decay={self.weight_decay}" if self.weight_decay else ""
        return f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum}, nesterov={self.nesterov}{decay})"


class Adam(Optimizer):
    """Adam, as scikit-learn's MLP does it.

    m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; t += 1;
    params += -lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
        The step size, unless the trainer's schedule sets it.
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

    name = "Adam"
    setting_names = ("learning_rate", "beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8) -> None:
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.beta_1 = _check_decay("beta_1", beta_1)
        self.beta_2 = _check_decay("beta_2", beta_2)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)


class AdamW(Optimizer):
    """AdamW, PyTorch's ``torch.optim.AdamW`` (no amsgrad): Adam with decoupled weight decay.

    ``params *= 1 - lr * weight_decay`` (coefficients only); ``m <- lerp(m, g, 1 - b1)``;
    ``v <- b2 v + (1 - b2) g^2``; ``params -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon)``.

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
    epsilon : float > 0, default=1e-8
    weight_decay : float >= 0, default=0.01
        Of the coefficients, not the intercepts (PyTorch decays every parameter unless told otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(200, 4)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(float)
    >>> net = fastbp.MLP([4, 16, 1], activation="gelu", random_state=0)
    >>> history = fastbp.Trainer(net, fastbp.AdamW(0.01), max_epochs=50, random_state=0).fit(X, y)
    >>> history.loss[-1] < 0.5 * history.loss[0]
    True
    """

    name = "AdamW"
    setting_names = ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay")

    def __init__(self, learning_rate: float = 1e-3, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.beta_1 = _check_decay("beta_1", beta_1)
        self.beta_2 = _check_decay("beta_2", beta_2)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)
        self.weight_decay = v.check_float("weight_decay", weight_decay, minimum=0.0)


class RMSprop(Optimizer):
    """RMSprop, PyTorch's ``torch.optim.RMSprop`` (its ``alpha`` is `rho` here).

    s <- rho s + (1 - rho) g^2; with `centered`, a <- lerp(a, g, 1 - rho) and d = sqrt(s - a^2) + epsilon, else
    d = sqrt(s) + epsilon; with momentum, b <- momentum b + g / d and params -= lr b, else params -= lr g / d.

    Parameters
    ----------
    learning_rate : float > 0, default=0.01
    rho : float in [0, 1), default=0.99
    epsilon : float > 0, default=1e-8
    momentum : float in [0, 1), default=0.0
    centered : bool, default=False

    Examples
    --------
    >>> import fastbp
    >>> fastbp.RMSprop(momentum=0.9).state_names
    ('square_avg', 'momentum_buffer', 'grad_avg')
    """

    name = "RMSprop"
    setting_names = ("learning_rate", "rho", "epsilon", "momentum", "centered")

    def __init__(self, learning_rate: float = 1e-2, rho: float = 0.99, epsilon: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False) -> None:
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.rho = _check_decay("rho", rho)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)
        self.momentum = _check_decay("momentum", momentum)
        self.centered = v.check_bool("centered", centered)


class Adagrad(Optimizer):
    """Adagrad, PyTorch's ``torch.optim.Adagrad`` (no learning-rate decay, a zero initial accumulator).

    s <- s + g^2; params -= lr g / (sqrt(s) + epsilon).

    Parameters
    ----------
    learning_rate : float > 0, default=0.01
    epsilon : float > 0, default=1e-10

    Examples
    --------
    >>> import fastbp
    >>> fastbp.Adagrad()
    Adagrad(learning_rate=0.01, epsilon=1e-10)
    """

    name = "Adagrad"
    setting_names = ("learning_rate", "epsilon")

    def __init__(self, learning_rate: float = 1e-2, epsilon: float = 1e-10) -> None:
        self.learning_rate = v.check_float("learning_rate", learning_rate, 0.0, inclusive=False)
        self.epsilon = v.check_float("epsilon", epsilon, 0.0, inclusive=False)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def from_state_dict(state: Mapping[str, Any]) -> Optimizer:
    """The optimizer a `state_dict` describes: its class and settings, with its step count and state."""
    if state.get("name") not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {state.get('name')!r}; expected one of {sorted(OPTIMIZERS)}")
    optimizer = OPTIMIZERS[state["name"]](**state["settings"])
    optimizer.load_state_dict(state)
    return optimizer
