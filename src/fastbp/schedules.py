"""Per-step learning-rate schedules: the rate of every minibatch step, evaluated in the compiled core.

A schedule maps an optimizer's step count t (0 for the first step of a model's training, counting on over
fits) to the learning rate of step t, as PyTorch's schedulers do when ``scheduler.step()`` follows every
``optimizer.step()``: the rate of step t is the scheduler's rate after t scheduler steps. Give one to
``Trainer(..., schedule=...)``. The core evaluates the same closed forms (``fastbp._core._optim``); `rate`
is the plain Python statement of each, which the NumPy backend and the data-parallel loop use.

- `Constant`: the optimizer's ``learning_rate`` at every step.
- `Exponential(gamma)`: ``learning_rate * gamma ** t`` (``torch.optim.lr_scheduler.ExponentialLR``, stepped per
  minibatch).
- `WarmupCosine(warmup_steps, total_steps, min_lr)`: ``learning_rate * (t + 1) / warmup_steps`` during the
  warmup, then a cosine from ``learning_rate`` down to ``min_lr`` at ``total_steps``, and ``min_lr`` after
  (PyTorch's ``SequentialLR`` of ``LinearLR(start_factor=1 / warmup_steps, total_iters=warmup_steps - 1)`` and
  ``CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min=min_lr)``).
- `OneCycle(max_lr, total_steps, pct_start)`: ``torch.optim.lr_scheduler.OneCycleLR``'s cosine form
  (``anneal_strategy="cos"``, ``div_factor=25``, ``final_div_factor=1e4``, two phases), without its momentum
  cycling; it sets the rates itself, whatever the optimizer's ``learning_rate``.

Examples
--------
>>> import numpy as np
>>> import fastbp
>>> X = np.random.RandomState(0).randn(256, 4)
>>> y = (X[:, 0] * X[:, 1] > 0).astype(float)
>>> net = fastbp.MLP([4, 32, 1], activation="gelu", random_state=0)
>>> schedule = fastbp.schedules.WarmupCosine(warmup_steps=40, total_steps=400)
>>> trainer = fastbp.Trainer(net, fastbp.AdamW(0.01), batch_size=32, max_epochs=50,
...                          schedule=schedule, random_state=0)
>>> history = trainer.fit(X, y)  # 8 steps an epoch: 400 steps in all
>>> round(history.learning_rate[4], 4), round(history.learning_rate[-1], 6)
(0.01, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

from fastbp import _validation as v


class Schedule:
    """Base class of the per-step schedules: `rate(t, learning_rate)` and the settings the core reads."""

    name: str  # the kind, as the core's schedule table names it
    setting_names: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """The schedule's parameters, as its constructor takes them."""
        return {name: getattr(self, name) for name in self.setting_names}

    def rate(self, t: int, learning_rate: float) -> float:
        """The rate of step t (from 0) for an optimizer whose ``learning_rate`` is `learning_rate`."""
        raise NotImplementedError

    def ended(self, t: int) -> bool:
        """Whether every step from t on has rate 0, so that training from step t would change no weight."""
        return False

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.settings().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and type(other) is type(self) and other.settings() == self.settings()


class Constant(Schedule):
    """The optimizer's learning rate at every step.

    Examples
    --------
    >>> import fastbp
    >>> fastbp.schedules.Constant().rate(100, 0.01)
    0.01
    """

    name = "constant"

    def rate(self, t: int, learning_rate: float) -> float:
        return learning_rate


class Exponential(Schedule):
    """``learning_rate * gamma ** t``: the rate shrinks by `gamma` at every step.

    Parameters
    ----------
    gamma : float in (0, 1]
        The factor per step.

    Examples
    --------
    >>> import fastbp
    >>> round(fastbp.schedules.Exponential(0.5).rate(3, 1.0), 6)
    0.125
    """

    name = "exponential"
    setting_names = ("gamma",)

    def __init__(self, gamma: float) -> None:
        self.gamma = v.check_float("gamma", gamma, 0.0, inclusive=False)
        if self.gamma > 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")

    def rate(self, t: int, learning_rate: float) -> float:
        return learning_rate * self.gamma**t


class WarmupCosine(Schedule):
    """A linear warmup to the optimizer's learning rate, then a cosine decay to `min_lr`.

    Parameters
    ----------
    warmup_steps : int >= 0
        Steps of warmup: step t < warmup_steps has ``learning_rate * (t + 1) / warmup_steps``.
    total_steps : int > warmup_steps
        The step at which the cosine reaches `min_lr`; later steps stay there.
    min_lr : float >= 0, default=0.0
        The rate at the end.

    Examples
    --------
    >>> import fastbp
    >>> schedule = fastbp.schedules.WarmupCosine(warmup_steps=2, total_steps=6)
    >>> [round(schedule.rate(t, 1.0), 3) for t in range(8)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    name = "warmup_cosine"
    setting_names = ("warmup_steps", "total_steps", "min_lr")

    def __init__(self, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> None:
        self.warmup_steps = v.check_int("warmup_steps", warmup_steps, minimum=0)
        self.total_steps = v.check_int("total_steps", total_steps, minimum=self.warmup_steps + 1)
        self.min_lr = v.check_float("min_lr", min_lr, minimum=0.0)

    def ended(self, t: int) -> bool:
        return t >= self.total_steps and self.min_lr == 0

    def rate(self, t: int, learning_rate: float) -> float:
        if t < self.warmup_steps:
            return learning_rate * (t + 1) / self.warmup_steps
        if t >= self.total_steps:
            return self.min_lr
        progress = (t - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.min_lr + (learning_rate - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class OneCycle(Schedule):
    """PyTorch's one-cycle policy (cosine form): from ``max_lr / 25`` up to `max_lr` over the first `pct_start` of
    the steps, then down to ``max_lr / 25 / 1e4`` at the last.

    Parameters
    ----------
    max_lr : float > 0
        The peak rate (the optimizer's learning_rate is not used).
    total_steps : int >= 2
        Steps of the cycle; later steps keep its last rate.
    pct_start : float in (0, 1), default=0.3
        The share of the steps that go up.

    Examples
    --------
    >>> import fastbp
    >>> schedule = fastbp.schedules.OneCycle(max_lr=1.0, total_steps=10)
    >>> round(schedule.rate(0, None), 4), round(schedule.rate(2, None), 4), schedule.rate(9, None)
    (0.04, 1.0, 4e-06)
    """

    name = "one_cycle"
    setting_names = ("max_lr", "total_steps", "pct_start")
    DIV_FACTOR, FINAL_DIV_FACTOR = 25.0, 1e4

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3) -> None:
        self.max_lr = v.check_float("max_lr", max_lr, 0.0, inclusive=False)
        self.total_steps = v.check_int("total_steps", total_steps, minimum=2)
        self.pct_start = v.check_float("pct_start", pct_start, 0.0, inclusive=False)
        if self.pct_start >= 1:
            raise ValueError(f"pct_start must be in (0, 1), got {self.pct_start}")
        if float(self.pct_start * self.total_steps) - 1 <= 0:
            raise ValueError("pct_start * total_steps must be more than 1 step, got "
                             f"{self.pct_start * self.total_steps}")

    def rate(self, t: int, learning_rate: float | None = None) -> float:
        initial = self.max_lr / self.DIV_FACTOR
        final = initial / self.FINAL_DIV_FACTOR
        up_end = float(self.pct_start * self.total_steps) - 1
        down_end = float(self.total_steps - 1)
        t = min(t, self.total_steps - 1)
        if t <= up_end:
            start, end, pct = initial, self.max_lr, t / up_end
        else:
            start, end, pct = self.max_lr, final, (t - up_end) / (down_end - up_end)
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


SCHEDULES = {cls.name: cls for cls in (Constant, Exponential, WarmupCosine, OneCycle)}


def check(schedule: Schedule) -> Schedule:
    """`schedule`, when both backends compute what its `rate` says: an instance of one of this module's classes
    (or of a subclass that keeps its `rate`) whose settings are valid. Anything else is a TypeError that says
    what to do instead: the compiled core evaluates these closed forms from the settings, never Python's `rate`,
    so a `rate` of one's own would train one model on the NumPy backend and another on the compiled one."""
    kind = SCHEDULES.get(str(getattr(schedule, "name", "")))
    if kind is None or not isinstance(schedule, kind) or type(schedule).rate is not kind.rate:
        raise TypeError(f"schedule {schedule!r} is not one the compiled core computes: it evaluates fastbp's own "
                        f"per-step schedules ({', '.join(cls.__name__ for cls in SCHEDULES.values())}) from their "
                        "settings, not a rate() of a subclass. For a rule of your own, give the Trainer a function "
                        "of the epoch (schedule=lambda epoch: rate), which it calls before each epoch")
    kind(**schedule.settings())  # settings assigned since construction are checked as the constructor checks them
    return schedule

