"""The stochastic solvers of the drop-ins (sgd, adam, adamw, rmsprop, adagrad): a `fastbp.Trainer` per fit,
continuing the estimator's history, optimizer and early-stopping counts as scikit-learn's MLP continues its
own."""

import math
import sys

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastbp import distributed, optim, schedules
from fastbp.callbacks import Callback, EarlyStopping, ProgressBar
from fastbp.epochs import DivergenceError
from fastbp.estimators._sklearn import warn
from fastbp.estimators.params import NON_FINITE_WEIGHTS
from fastbp.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from fastbp.trainer import Trainer


class Report(Callback):
    """What `verbose` prints, in scikit-learn's words: a line per epoch and why training stopped."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.n_iter = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.n_iter += 1
        print("Iteration %d, loss = %.8f" % (self.n_iter, logs["loss"]))
        if "val_score" in logs:
            print("Validation score: %f" % logs["val_score"])
        return False

    def on_train_end(self, trainer):
        est = self.estimator
        watched = "Validation score" if est.early_stopping else "Training loss"
        if trainer.stop_reason in ("early_stopping", "learning_rate"):
            detail = " Learning rate too small." if trainer.stop_reason == "learning_rate" else ""
            print(f"{watched} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} consecutive "
                  f"epochs.{detail} Stopping.")


class Solver:
    """What a stochastic fit leaves for the next one, kept as scikit-learn keeps it in ``_optimizer``: fastbp's
    optimizer (settings, velocities or moments, step count) and the schedule's learning rate for the next
    epoch."""

    def __init__(self, optimizer, rate):
        self.optimizer = optimizer
        self.rate = rate

    def __repr__(self):
        return f"Solver({self.optimizer!r}, rate={self.rate!r})"

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict(), "rate": self.rate}

    def snapshot(self):
        """A function that puts the optimizer and the rate back as they are now (see ``fastbp._transaction``)."""
        optimizer, rate, restore_optimizer = self.optimizer, self.rate, self.optimizer.snapshot()

        def restore():
            restore_optimizer()
            self.optimizer, self.rate = optimizer, rate

        return restore

    @classmethod
    def from_state_dict(cls, state):
        return cls(optim.from_state_dict(state["optimizer"]), state["rate"])

    @property
    def learning_rate_init(self):
        return self.optimizer.learning_rate

    @property
    def learning_rate(self):
        """scikit-learn's ``_optimizer.learning_rate``: for sgd the rate in force now (after invscaling or
        adaptive); for adam the bias-corrected step size of the last update."""
        opt = self.optimizer
        if isinstance(opt, Adam) and opt.t:
            return float(self.rate * np.sqrt(1 - opt.beta_2**opt.t) / (1 - opt.beta_1**opt.t))
        return self.rate


def make_optimizer(est):
    """The fastbp optimizer of the estimator's `solver`, with its settings."""
    decay = est.weight_decay
    rate = est.learning_rate_init
    if est.solver == "sgd":
        return SGD(rate, est.momentum, est.nesterovs_momentum, weight_decay=decay or 0.0)
    if est.solver == "adam":
        return Adam(rate, est.beta_1, est.beta_2, est.epsilon)
    if est.solver == "adamw":
        return AdamW(rate, est.beta_1, est.beta_2, est.epsilon, weight_decay=0.01 if decay is None else decay)
    if est.solver == "rmsprop":
        return RMSprop(rate, epsilon=est.epsilon)
    return Adagrad(rate, epsilon=est.epsilon)


def make_schedule(est, steps_per_epoch):
    """The trainer's `schedule` for the estimator's `learning_rate`: scikit-learn's per-epoch names for sgd
    ("constant" for the other solvers), or fastbp's per-step schedule over max_iter epochs of steps."""
    total = est.max_iter * steps_per_epoch
    if est.learning_rate == "warmup_cosine":
        fraction = 0.1 if est.warmup_fraction is None else est.warmup_fraction
        return schedules.WarmupCosine(min(round(fraction * total), total - 1), total)
    if est.learning_rate == "one_cycle":
        fraction = 0.3 if est.warmup_fraction is None else est.warmup_fraction
        if fraction * total <= 1:
            raise ValueError(f"learning_rate='one_cycle' needs more than one step of warmup: warmup_fraction="
                             f"{fraction} of {total} steps (max_iter={est.max_iter} epochs of {steps_per_epoch}) "
                             "is not; raise warmup_fraction or max_iter")
        return schedules.OneCycle(est.learning_rate_init, total, pct_start=fraction)
    return est.learning_rate if est.solver == "sgd" else "constant"


class StochasticFit:
    """The stochastic solvers' fits of `fastbp.estimators.base.BaseMLP`."""

    def _early_stopping(self):
        """The no-improvement rule of this fit (scikit-learn's, on the validation score or the training loss).
        Its best value and count continue from the fitted attributes, as scikit-learn's do, and so do the best
        weights of the last fit that watched the same quantity."""
        monitor = "val_score" if self.early_stopping else "loss"
        previous = self._stopper if self._stopper is not None and self._stopper.monitor == monitor else None
        stopper = EarlyStopping(
            monitor, n_iter_no_change=sys.maxsize if self.n_iter_no_change == np.inf else int(self.n_iter_no_change),
            tol=float(self.tol), restore_best_weights=bool(self.early_stopping))
        stopper.resume(best=getattr(self, "best_validation_score_" if self.early_stopping else "best_loss_", None),
                       n_no_improvement=getattr(self, "_no_improvement_count", 0),
                       best_params=None if previous is None else previous.best_params)
        self._stopper = stopper
        return stopper

    def _fit_stochastic(self, X, Y, sample_weight, rng, incremental, epochs):
        if not incremental or self._optimizer is None:
            # fit starts a new optimizer (state, step count, learning rate); partial_fit continues the last one.
            self._optimizer = Solver(make_optimizer(self), float(self.learning_rate_init))
        stopper = self._early_stopping()

        n_train = X.shape[0] - (math.ceil(self.validation_fraction * X.shape[0]) if self.early_stopping else 0)
        n_train = distributed.total(self.comm, n_train)  # every rank's training rows
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", UserWarning,
                     "fastbp.estimators")
            batch_size = self.batch_size
        steps_per_epoch = -(-n_train // min(batch_size, n_train))
        callbacks = list(self.callbacks or ())
        if self.comm is None or self.comm.rank == 0:
            callbacks += [Report(self)] if self.verbose else []
            callbacks += [ProgressBar()] if self.progress_bar else []
        # With early stopping a diverged epoch ends the fit as scikit-learn records it (NaN scores, the best
        # weights); without, it raises scikit-learn's error.
        trainer = Trainer(
            self._net, self._optimizer.optimizer, batch_size=batch_size,
            max_epochs=epochs if incremental else self.max_iter, shuffle=self.shuffle, random_state=rng,
            alpha=self.alpha, schedule=make_schedule(self, steps_per_epoch), clip_norm=self.clip_norm,
            power_t=self.power_t, early_stopping=stopper,
            validation_fraction=self.validation_fraction if self.early_stopping else None, n_threads=self.n_threads,
            callbacks=callbacks, comm=self.comm, on_divergence="stop" if self.early_stopping else "raise")
        trainer.resume(self._history, self.t_, self._optimizer.rate)
        epochs_before = len(self._history)
        try:
            trainer.fit(X, Y, sample_weight)
        except DivergenceError as exc:
            raise DivergenceError(
                f"{NON_FINITE_WEIGHTS} Training diverged in epoch {exc.epoch + 1} (learning rate "
                f"{exc.learning_rate:g}): its loss or weights became NaN or infinite. The estimator is as it was "
                "before this call; try a smaller learning_rate_init.") from exc
        self._record(trainer, epochs_before)
        if trainer.stop_reason == "diverged":
            epoch = trainer.epoch
            warn(f"Training diverged in epoch {epoch + 1} (learning rate {trainer.learning_rate:g}): its loss or "
                 "weights became NaN or infinite. As scikit-learn does with early_stopping=True, the epoch is "
                 "recorded with a NaN validation score and the model keeps the weights of the best validation "
                 f"score ({self._stopper.best:g}). Try a smaller learning_rate_init.", ConvergenceWarning,
                 "fastbp.estimators")
        if trainer.stop_reason == "max_epochs" and not incremental:
            warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                 "hasn't converged yet.", ConvergenceWarning, "fastbp.estimators")

    def _record(self, trainer, epochs_before):
        """The fitted attributes of the stochastic solvers, from the trainer's history and stopper."""
        history = self._history
        self.n_iter_ = len(history) - epochs_before
        self.t_ = trainer.t
        self._optimizer.rate = trainer.learning_rate
        self._no_improvement_count = self._stopper.n_no_improvement
        self.loss_curve_ = history["loss"]
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]
        if self.early_stopping:
            self.validation_scores_ = history["val_score"] if len(history) else []
            self.validation_loss_curve_ = history["val_loss"] if len(history) else []
            self.best_validation_score_ = self._stopper.best
            self.best_loss_ = None
        else:
            self.best_loss_ = self._stopper.best
            self.validation_scores_ = self.best_validation_score_ = self.validation_loss_curve_ = None
