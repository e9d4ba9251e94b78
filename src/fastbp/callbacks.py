"""Callbacks: code the Trainer runs around epochs, and the common ones built in.

The protocol is three optional methods; any object with at least one of them is a callback:

- ``on_train_begin(trainer)``: at the start of every ``fit``;
- ``on_epoch_end(trainer, epoch, logs)``: after each epoch is complete and recorded in the history
  (``epoch`` counts from 0 over the trainer's life; ``logs`` is that epoch's history record). Returning True
  stops training after this epoch;
- ``on_train_end(trainer)``: when ``fit`` ends by running out of epochs, by a stop, or by an interruption
  (not when it raises).

Built in: `EarlyStopping`, `Checkpoint` (best weights to disk) and `ProgressBar` (what ``verbose`` shows).
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import numpy as np

from fastbp import _validation as v
from fastbp._transaction import keeping
from fastbp._typing import PathLike
from fastbp.persistence import check_path, save_training

# Quantities a callback can monitor, and whether higher is better.
MONITORS = {"loss": False, "val_loss": False, "val_score": True}
METHODS = ("on_train_begin", "on_epoch_end", "on_train_end")


def check_callbacks(callbacks):
    if callbacks is None:
        return ()
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list or tuple of callbacks, got {type(callbacks).__name__}")
    for i, callback in enumerate(callbacks):
        if not any(callable(getattr(callback, name, None)) for name in METHODS):
            raise TypeError(f"callbacks[{i}] ({callback!r}) has none of the methods {', '.join(METHODS)}")
    return tuple(callbacks)


def call(callback, name, *args):
    method = getattr(callback, name, None)
    return method(*args) if callable(method) else None


class Callback:
    """Optional base class of callbacks; override the methods you need.

    Any object with at least one of the three methods is a callback; this class only supplies the ones you
    leave out.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> class StopBelow(fastbp.Callback):
    ...     def __init__(self, target):
    ...         self.target = target
    ...     def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> bool:
    ...         return logs["loss"] < self.target  # True stops training
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> y = (X[:, 0] > 0).astype(float)
    >>> net = fastbp.MLP([4, 8, 1], random_state=0)
    >>> trainer = fastbp.Trainer(net, fastbp.Adam(0.05), max_epochs=100,
    ...                          random_state=0, callbacks=[StopBelow(0.2)])
    >>> history = trainer.fit(X, y)
    >>> trainer.stop_reason, history.loss[-1] < 0.2
    ('callback', True)
    """

    def on_train_begin(self, trainer: Any) -> None:
        """Called at the start of every ``fit`` of the trainer."""

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> bool:
        """Called after each epoch, once it is recorded in the history.

        `epoch` counts from 0 over the trainer's life and `logs` is the epoch's history record (a dict with
        "epoch", "loss", "learning_rate", "time", and with validation data "val_loss" and "val_score").
        Return True to stop training after this epoch.
        """
        return False

    def on_train_end(self, trainer: Any) -> None:
        """Called when ``fit`` ends: by running out of epochs, by a stop or by an interruption (not when it
        raises)."""


def _check_monitor(monitor):
    return v.check_choice("monitor", monitor, ("auto", *MONITORS))


def _resolve_monitor(monitor, trainer, owner):
    """'auto' is the validation score when the fit has validation data, the training loss otherwise."""
    has_validation = trainer.has_validation
    if monitor == "auto":
        return "val_score" if has_validation else "loss"
    if monitor.startswith("val_") and not has_validation:
        raise ValueError(f"{owner} monitors {monitor!r}, which needs validation data: pass validation_data "
                         "to fit or set the Trainer's validation_fraction")
    return monitor


class _BestTracker:
    """The best value of a monitored quantity so far."""

    def _start(self, trainer, owner):
        self.monitor_ = _resolve_monitor(self.monitor, trainer, owner)
        self.higher_is_better = MONITORS[self.monitor_]
        if self.best is None:
            self.best = -np.inf if self.higher_is_better else np.inf

    def _is_better(self, value):
        return value > self.best if self.higher_is_better else value < self.best


class EarlyStopping(Callback, _BestTracker):
    """Stop when the monitored quantity stops improving; scikit-learn's rule, exactly.

    An epoch counts as no improvement when its value is not better than the best so far by more than
    `tol` (loss > best - tol; score < best + tol). Training stops when more than `n_iter_no_change`
    consecutive epochs show no improvement, i.e. at the (n_iter_no_change + 1)-th. The counters survive
    successive fits of one trainer, so a continued fit goes on from where the last stopped.

    Parameters
    ----------
    monitor : {"auto", "loss", "val_loss", "val_score"}, default="auto"
        "auto" monitors the validation score when there is validation data, the training loss otherwise.
        The training loss is the epoch's mean minibatch objective, taken while the weights change.
    n_iter_no_change : int >= 1, default=10
        Stop at the (n_iter_no_change + 1)-th consecutive epoch without an improvement.
    tol : float >= 0, default=1e-4
        The improvement an epoch must make over the best value so far.
    restore_best_weights : bool, default=False
        When training ends (not when it raises), put back the weights of the best epoch. With
        monitor="val_score" the initial weights count as the best until an epoch beats them, as in
        scikit-learn.

    Attributes
    ----------
    best : float or None
        The best value of the monitored quantity so far.
    best_epoch : int or None
        The epoch that reached it.
    n_no_improvement : int
        Consecutive epochs without an improvement.
    stopped : bool
        Whether it stopped the last fit.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> rng = np.random.RandomState(0)
    >>> X, X_val = rng.randn(200, 5), rng.randn(100, 5)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(float)
    >>> y_val = (X_val[:, 0] + X_val[:, 1] > 0).astype(float)
    >>> stopper = fastbp.EarlyStopping(monitor="val_loss", n_iter_no_change=5,
    ...                                restore_best_weights=True)
    >>> net = fastbp.MLP([5, 32, 1], random_state=0)
    >>> trainer = fastbp.Trainer(net, fastbp.Adam(0.05), max_epochs=500,
    ...                          random_state=0, early_stopping=stopper)
    >>> history = trainer.fit(X, y, validation_data=(X_val, y_val))
    >>> trainer.stop_reason, len(history) < 500
    ('early_stopping', True)
    >>> stopper.best == min(history.val_loss)
    True
    """

    def __init__(self, monitor: str = "auto", n_iter_no_change: int = 10, tol: float = 1e-4,
                 restore_best_weights: bool = False) -> None:
        self.monitor = _check_monitor(monitor)
        self.n_iter_no_change = v.check_int("n_iter_no_change", n_iter_no_change, minimum=1)
        self.tol = v.check_float("tol", tol, minimum=0.0)
        self.restore_best_weights = v.check_bool("restore_best_weights", restore_best_weights)
        self.reset()

    def reset(self) -> None:
        """Forget the best value, the saved weights and the no-improvement count."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: np.ndarray | None = None
        self.n_no_improvement = 0
        self.stopped = False

    def resume(self, best: float | None = None, n_no_improvement: int = 0,
               best_params: np.ndarray | None = None) -> None:
        """Count on from an earlier training: its best value so far (None: none yet), its number of consecutive
        epochs without an improvement, and the weights of its best epoch (for ``restore_best_weights``; None
        takes the weights at the start of the next fit)."""
        if best is not None and (isinstance(best, (bool, np.bool_)) or not isinstance(best, numbers.Real)):
            raise TypeError(f"best must be None or a number, got {best!r}")
        n_no_improvement = v.check_int("n_no_improvement", n_no_improvement, minimum=0)
        if best_params is not None and (not isinstance(best_params, np.ndarray) or best_params.ndim != 1
                                        or best_params.dtype not in v.DTYPES):
            raise TypeError("best_params must be None or a model's flat params (a 1-D float32 or float64 array), got "
                            f"{type(best_params).__name__}")
        self.best, self.n_no_improvement, self.best_params = best, n_no_improvement, best_params

    _SETTINGS = ("monitor", "n_iter_no_change", "tol", "restore_best_weights")
    _PROGRESS = ("best", "best_epoch", "best_params", "n_no_improvement", "stopped")
    _STARTED = ("monitor_", "higher_is_better")  # set by the first fit

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments, as the stopper holds them now."""
        return {name: getattr(self, name) for name in self._SETTINGS}

    def state_dict(self) -> dict[str, Any]:
        """The settings and the progress (best value, its epoch and weights, the no-improvement count, and once
        a fit has started, the quantity it resolved `monitor` to), as plain values; `from_state_dict` makes the
        stopper back, equal field by field."""
        names = self._SETTINGS + self._PROGRESS + tuple(name for name in self._STARTED if name in vars(self))
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> EarlyStopping:
        """The stopper of a `state_dict`."""
        stopper = cls(**{name: state[name] for name in cls._SETTINGS})
        for name in cls._PROGRESS + tuple(name for name in cls._STARTED if name in state):
            setattr(stopper, name, state[name])
        if stopper.best_params is not None:  # its own copy: training one stopper must not move the other's
            stopper.best_params = np.array(stopper.best_params, copy=True)
        return stopper

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the stopper back as it is now, the best weights' values included (see
        ``fastbp._transaction``)."""
        return keeping(self, [] if self.best_params is None else [self.best_params])

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, n_iter_no_change={self.n_iter_no_change}, "
                f"tol={self.tol}, restore_best_weights={self.restore_best_weights})")

    def on_train_begin(self, trainer: Any) -> None:
        self._start(trainer, "EarlyStopping")
        self.stopped = False
        if self.restore_best_weights and self.best_params is None:
            self.best_params = trainer.net.params.copy()

    def plateau(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> bool:
        """Record this epoch's value; True when the no-improvement count exceeds n_iter_no_change."""
        value = logs[self.monitor_]
        if self.higher_is_better:
            no_improvement = value < self.best + self.tol
        else:
            no_improvement = value > self.best - self.tol
        self.n_no_improvement = self.n_no_improvement + 1 if no_improvement else 0
        if self._is_better(value):
            self.best = value
            self.best_epoch = epoch
            if self.restore_best_weights and self.best_params is not None:  # made at the start of the fit
                self.best_params[...] = trainer.net.params
        return self.n_no_improvement > self.n_iter_no_change

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> bool:
        self.stopped = self.plateau(trainer, epoch, logs)
        return self.stopped

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self.best_params is not None:
            trainer.net.params[...] = self.best_params


class Checkpoint(Callback, _BestTracker):
    """Save a point to resume training from whenever the monitored quantity improves.

    The file (see `fastbp.persistence`) is what `Trainer.save` writes at the end of the improving epoch:
    the model's weights, the optimizer's settings, step count and state, and the trainer's counters
    (epochs, samples seen, the next epoch's learning rate). ``fastbp.load(path)`` reads the model back;
    `Trainer.restore` on a trainer with the same settings continues training from that epoch exactly as
    the checkpointed one went on from it. The history and early stopping's counters are not in the file.

    Parameters
    ----------
    path : path-like
        The .npz file to write; its directory must exist.
    monitor : {"auto", "loss", "val_loss", "val_score"}, default="auto"
        As for `EarlyStopping`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> y = (X[:, 0] > 0).astype(float)
    >>> path = os.path.join(tempfile.mkdtemp(), "best.npz")
    >>> checkpoint = fastbp.Checkpoint(path, monitor="loss")
    >>> net = fastbp.MLP([4, 8, 1], random_state=0)
    >>> trainer = fastbp.Trainer(net, max_epochs=20, random_state=0,
    ...                          callbacks=[checkpoint])
    >>> history = trainer.fit(X, y)
    >>> best = fastbp.load(path)
    >>> checkpoint.best == min(history.loss), best.layer_sizes
    (True, (4, 8, 1))
    >>> resumed = fastbp.Trainer(fastbp.MLP([4, 8, 1]), max_epochs=5, random_state=0)
    >>> resumed.restore(path)           # continue from the best epoch
    >>> resumed.epoch == checkpoint.best_epoch + 1
    True
    """

    def __init__(self, path: PathLike, monitor: str = "auto") -> None:
        self.path = check_path("path", path)
        self.monitor = _check_monitor(monitor)
        self.best: float | None = None
        self.best_epoch: int | None = None

    def __repr__(self) -> str:
        return f"Checkpoint({self.path!r}, monitor={self.monitor!r})"

    def on_train_begin(self, trainer: Any) -> None:
        self._start(trainer, "Checkpoint")

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> bool:
        value = logs[self.monitor_]
        if self._is_better(value):
            self.best = value
            self.best_epoch = epoch
            save_training(trainer, self.path)
        return False


def _format_losses(logs):
    """The epoch's losses and score, short enough for a progress bar on an 80-column terminal."""
    return "  ".join(f"{key} {logs[key]:.4g}" for key in ("loss", "val_loss", "val_score") if key in logs)


def _format_logs(logs):
    parts = [f"loss {logs['loss']:.6f}"]
    for key in ("val_loss", "val_score"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.6f}")
    parts.append(f"lr {logs['learning_rate']:.3g}")
    parts.append(f"{logs['time'] * 1e3:.2f} ms")
    return "  ".join(parts)


class ProgressBar(Callback):
    """Per-epoch progress: a tqdm bar, or with ``plain=True`` one line per epoch.

    The Trainer adds one when ``verbose >= 1``; ``verbose >= 2`` asks for plain lines. The bar shows the
    last epoch's training loss, and with validation data its validation loss and score; each line also
    shows the learning rate and the epoch's time.

    Parameters
    ----------
    plain : bool, default=False
        Print one line per epoch instead of drawing a bar (also when tqdm cannot be imported).
    file : file-like or None, default=None
        Where to write: None means tqdm's default (standard error) for the bar, standard output for lines.
    desc : str or None, default=None
        A label in front of the bar or of each line.

    Examples
    --------
    >>> import sys
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> y = (X[:, 0] > 0).astype(float)
    >>> progress = fastbp.ProgressBar(plain=True, file=sys.stdout, desc="demo")
    >>> trainer = fastbp.Trainer(fastbp.MLP([4, 8, 1], random_state=0), max_epochs=2,
    ...                          random_state=0, callbacks=[progress])
    >>> history = trainer.fit(X, y)
    demo: epoch 1 (1/2)  loss 0.731390  lr 0.1  ... ms
    demo: epoch 2 (2/2)  loss 0.704762  lr 0.1  ... ms
    """

    def __init__(self, plain: bool = False, file: TextIO | None = None, desc: str | None = None) -> None:
        self.plain = bool(plain)
        self.file = file
        self.desc = desc
        self._bar = None

    def on_train_begin(self, trainer: Any) -> None:
        self._total = trainer.max_epochs
        self._done = 0
        if not self.plain:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.plain = True
            else:
                self._bar = tqdm(total=self._total, unit="epoch", file=self.file, leave=True, desc=self.desc)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> bool:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(_format_losses(logs), refresh=False)
            self._bar.update(1)
        else:
            width = len(str(self._total))
            label = f"{self.desc}: " if self.desc else ""
            print(f"{label}epoch {epoch + 1:{width}d} ({self._done}/{self._total})  {_format_logs(logs)}",
                  file=self.file or sys.stdout, flush=True)
        return False

    def on_train_end(self, trainer: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
