"""A Trainer's settings, checked at its construction and again at each fit.

An attribute of a Trainer assigned after construction (``trainer.batch_size = 64``), or a setting of its
optimizer, schedule or early-stopping rule (``trainer.optimizer.learning_rate = 0.01``), takes effect at the
next fit, which checks it as the constructor checks it: nothing unchecked reaches the compiled core. The core
runs fastbp's optimizers and per-step schedules from their settings, never Python methods, so a subclass that
overrides what it computes (an optimizer's ``step``, a schedule's ``rate``) is refused with what to do instead:
on the NumPy backend it would train another model than on the compiled one.
"""

from typing import Any

import numpy as np

from fastbp import _validation as v
from fastbp import schedules
from fastbp.callbacks import EarlyStopping, check_callbacks
from fastbp.history import History
from fastbp.network import MLP
from fastbp.optim import OPTIMIZERS, Optimizer
from fastbp.schedules import Schedule

# The per-epoch schedules by name, and what a divergence does.
SCHEDULES = ("constant", "invscaling", "adaptive")
DIVERGENCE = ("raise", "stop")
SETTINGS = ("net", "optimizer", "batch_size", "max_epochs", "shuffle", "random_state", "alpha", "schedule", "power_t",
            "early_stopping", "validation_fraction", "callbacks", "verbose", "comm", "on_divergence", "clip_norm")


def check_schedule(schedule: Any) -> Any:
    """A Trainer's `schedule`: a name of SCHEDULES, a function of the epoch, or a checked per-step `Schedule`."""
    if isinstance(schedule, type):
        raise TypeError(f"schedule must be a name, a function of the epoch or a Schedule instance; got the class "
                        f"{schedule.__name__}: pass an instance, such as {schedule.__name__}(...) with its settings")
    if isinstance(schedule, Schedule):
        return schedules.check(schedule)
    return schedule if callable(schedule) else v.check_choice("schedule", schedule, SCHEDULES)


def check_optimizer(optimizer: Any) -> Optimizer:
    """One of fastbp's optimizers (or a subclass that keeps its `step`), its settings checked as its constructor
    checks them."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError("optimizer must be a fastbp optimizer (SGD, Adam, AdamW, RMSprop or Adagrad), got "
                        f"{type(optimizer).__name__}")
    kind = OPTIMIZERS.get(optimizer.name)
    if kind is None or not isinstance(optimizer, kind) or type(optimizer).step is not Optimizer.step:
        raise TypeError(f"optimizer {optimizer!r} is not one the compiled core runs: it updates the weights of "
                        f"fastbp's optimizers ({', '.join(OPTIMIZERS)}) from their settings, not with a step() of a "
                        "subclass; train with one of them, or step an optimizer of your own on MLP.loss_and_grad")
    optimizer.check_settings()
    return optimizer


def check_early_stopping(early_stopping: Any) -> EarlyStopping | None:
    """True (a default `EarlyStopping`), False or None (none), or an `EarlyStopping` whose settings are valid."""
    if isinstance(early_stopping, (bool, np.bool_)):
        return EarlyStopping() if early_stopping else None
    if early_stopping is None:
        return None
    if not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be a bool or a fastbp.EarlyStopping, got {early_stopping!r}")
    EarlyStopping(**early_stopping.settings())
    return early_stopping


def check_settings(**settings: Any) -> dict[str, Any]:
    """The settings (every name of SETTINGS), checked, as the Trainer keeps them; errors name them."""
    if not isinstance(settings["net"], MLP):
        raise TypeError(f"net must be a fastbp.MLP, got {type(settings['net']).__name__}")
    check_optimizer(settings["optimizer"])
    v.check_random_state(settings["random_state"])  # fail now on a bad value; a fresh generator is drawn per fit
    schedule = check_schedule(settings["schedule"])
    stopper = check_early_stopping(settings["early_stopping"])
    if schedule == "adaptive" and stopper is None:
        raise ValueError("schedule='adaptive' lowers the learning rate when early stopping finds a plateau; "
                         "pass early_stopping=True or an EarlyStopping")
    validation_fraction = settings["validation_fraction"]
    if validation_fraction is not None:
        validation_fraction = v.check_float("validation_fraction", validation_fraction, 0.0, inclusive=False)
        if validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    comm = settings["comm"]
    if comm is not None:
        from fastbp.distributed import check_comm

        comm = check_comm(comm)
    clip_norm = settings["clip_norm"]
    return {**settings, "schedule": schedule, "early_stopping": stopper, "validation_fraction": validation_fraction,
            "comm": comm, "batch_size": v.check_int("batch_size", settings["batch_size"], minimum=1),
            "max_epochs": v.check_int("max_epochs", settings["max_epochs"], minimum=1),
            "shuffle": v.check_bool("shuffle", settings["shuffle"]),
            "alpha": v.check_float("alpha", settings["alpha"], minimum=0.0),
            "power_t": v.check_float("power_t", settings["power_t"], minimum=0.0),
            "callbacks": check_callbacks(settings["callbacks"]),
            "verbose": v.check_int("verbose", settings["verbose"], minimum=0),
            "on_divergence": v.check_choice("on_divergence", settings["on_divergence"], DIVERGENCE),
            "clip_norm": None if clip_norm is None else v.check_float("clip_norm", clip_norm, 0.0, inclusive=False)}


def check_counters(history: Any, epoch: Any, t: Any, learning_rate: Any) -> tuple[int, int, float]:
    """A Trainer's counters (assignable, as `Trainer.resume` and `Trainer.restore` set them): its `History`,
    epochs completed and samples seen (integers >= 0) and the next epoch's learning rate (> 0); returns
    (epoch, t, learning_rate) as int, int and float."""
    if not isinstance(history, History):
        raise TypeError(f"history must be a fastbp.History, got {type(history).__name__}")
    return (v.check_int("epoch", epoch, minimum=0), v.check_int("t", t, minimum=0),
            v.check_float("learning_rate", learning_rate, 0.0, inclusive=False))
