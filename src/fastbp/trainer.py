"""`Trainer`: minibatch training of an `MLP`, one compiled call per epoch.

Python does what happens once per epoch: pick the learning rate, evaluate validation data, record the
history and run callbacks; the per-fit loop (`fastbp.epochs.FitLoop`) draws the shuffle and keeps the
snapshot to fall back on. On the Cython backend each epoch (every minibatch's gather, forward, backward
and optimizer update) is one call into `fastbp._core._epoch` with the GIL released; on the NumPy backend it
is the same protocol in a plain Python loop (`fastbp.steps`). The thread count and mode are resolved once per fit
(`fastbp._threads.plan`) and passed down.

scikit-learn's MLP is the specification for everything it also does: its shuffling order, epoch loss,
learning-rate schedules and no-improvement rule, so the drop-in estimators can follow its trajectories.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse

from fastbp import _validation as v
from fastbp import persistence
from fastbp._interrupt import StopOnInterrupt
from fastbp._locks import exclusive
from fastbp._threads import plan, single_threaded_blas
from fastbp._trainer_settings import SETTINGS, check_counters, check_settings
from fastbp._transaction import atomic
from fastbp._typing import Data, PathLike, Seed
from fastbp.backends import Batch, Training
from fastbp.callbacks import EarlyStopping, ProgressBar, call
from fastbp.epochs import DivergenceError, FitLoop
from fastbp.history import History
from fastbp.loading import build
from fastbp.network import MLP
from fastbp.optim import SGD, Optimizer
from fastbp.schedules import Schedule

__all__ = ["History", "Trainer"]

# scikit-learn's adaptive schedule stops instead of dividing once the rate is this small.
MIN_ADAPTIVE_LEARNING_RATE = 1e-6


class Trainer:
    """Minibatch training of an `MLP` with any of fastbp's optimizers.

    Parameters
    ----------
    net : MLP
        The model; trained in place.
    optimizer : SGD, Adam, AdamW, RMSprop or Adagrad, default=None (``SGD()``)
        Holds its state (velocity, moments) between fits: a second ``fit`` continues where the first ended.
    batch_size : int >= 1, default=32
        Rows per minibatch; larger than the data means full batches. The last minibatch may be smaller.
    max_epochs : int >= 1, default=200
        Epochs per call to ``fit``.
    shuffle : bool, default=True
        Reshuffle the rows every epoch, as scikit-learn does: the order is a running permutation that starts
        from the identity at each ``fit`` and is permuted again each epoch by ``random_state.shuffle``.
    random_state : None, int or numpy.random.RandomState, default=None
        Draws the ``validation_fraction`` split, then (for a model with dropout) the seed of the fit's dropout
        masks, then the shuffles. An int seeds a new generator at each ``fit``, as scikit-learn does; a
        RandomState continues its stream.
    alpha : float >= 0, default=0.0
        L2 penalty (the objective on the user guide's backpropagation page).
    schedule : {"constant", "invscaling", "adaptive"}, callable or fastbp.schedules.Schedule, default="constant"
        The learning rate, starting from the optimizer's ``learning_rate`` (lr0). Per epoch:
        "invscaling" uses lr0 / (t + 1) ** power_t after each epoch, t the number of samples seen;
        "adaptive" divides the rate by 5 whenever early stopping finds a plateau, and stops once it is
        at most 1e-6 (it needs ``early_stopping``); a callable is called as ``schedule(epoch)``
        (epoch from 0) and returns the rate. Per minibatch step: a `fastbp.schedules.Schedule` (such as
        ``WarmupCosine``), evaluated inside the compiled epoch at every step from the optimizer's step
        count; the history records the rate of each epoch's last step.
    power_t : float >= 0, default=0.5
    early_stopping : bool or EarlyStopping, default=False
        True means ``EarlyStopping()`` (validation score when there is validation data, else training loss).
    validation_fraction : float in (0, 1) or None, default=None
        Hold out this fraction of the training data for validation (stratified for a single logistic
        output, as scikit-learn does), unless ``fit`` gets ``validation_data``. With sample weights, a
        split that leaves either part without positive weight is a ValueError.
    n_threads : int >= 1 or None, default=None
        OpenMP threads; None uses the model's ``n_threads``, else all cores as OpenMP reports them (so
        OMP_NUM_THREADS and threadpoolctl limits apply). Larger values are lowered to 4 per core this
        process may use, also when the attribute is assigned. BLAS runs single-threaded inside the core's
        blocks, and is limited to one thread for the whole fit, callbacks included. Results are bitwise
        reproducible for a given thread count, and for any thread count when the model has
        ``thread_invariant=True``.
    callbacks : sequence of callbacks, default=() (see `fastbp.callbacks`)
    verbose : int >= 0, default=0
        1 shows a progress bar (tqdm's); 2 prints a line per epoch.
    comm : mpi4py intracommunicator or None, default=None
        Train data-parallel over the ranks of `comm` (see `fastbp.distributed`): call ``fit`` on every rank
        with that rank's shard of the data. ``batch_size`` is then the global minibatch, split over the
        ranks; losses, validation scores and ``t`` count every rank's rows; n_threads defaults to the cores
        divided by the ranks on the node. Needs mpi4py (``pip install 'fastbp[mpi]'``).
    clip_norm : float > 0 or None, default=None
        Scale each minibatch gradient to this global L2 norm (over every parameter) when it is larger, as
        ``torch.nn.utils.clip_grad_norm_`` does, before the optimizer's step. None: no clipping.
    on_divergence : {"raise", "stop"}, default="raise"
        What an epoch whose loss or weights become non-finite does: "raise" a `DivergenceError`, the fit then
        changing nothing (see `fit`); or "stop", as scikit-learn's MLP does with early stopping: roll the epoch
        back, keep the ones before it, record the epoch
        with NaN losses and scores, let early stopping and the callbacks see it, and end the fit normally
        with ``stop_reason="diverged"`` (so ``restore_best_weights`` applies).

    Attributes
    ----------
    history : History
        Every epoch this trainer has run.
    epoch : int
        Epochs completed over all fits.
    t : int
        Samples trained on over all fits (scikit-learn's ``t_``).
    learning_rate : float
        The rate the next epoch uses (for the built-in schedules).
    stop_reason : str or None
        Why the last fit ended: "max_epochs", "early_stopping", "callback", "learning_rate" (adaptive rate
        too small), "interrupted", "diverged", or "another_rank" (with ``comm``: another rank stopped, say
        by its callback).

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = fastbp.MLP([30, 16, 1], random_state=0)
    >>> sgd = fastbp.SGD(learning_rate=0.1, momentum=0.9)
    >>> trainer = fastbp.Trainer(net, sgd, batch_size=32, max_epochs=200,
    ...                          random_state=0, validation_fraction=0.2,
    ...                          early_stopping=True)
    >>> history = trainer.fit(X, y)
    >>> trainer.stop_reason, history.val_score[-1] > 0.95
    ('early_stopping', True)
    """

    net: MLP
    optimizer: Optimizer
    batch_size: int
    max_epochs: int
    shuffle: bool
    random_state: Seed
    alpha: float
    schedule: Any
    power_t: float
    early_stopping: EarlyStopping | None
    validation_fraction: float | None
    callbacks: tuple
    verbose: int
    comm: Any
    on_divergence: str
    clip_norm: float | None

    def __init__(self, net: MLP, optimizer: Optimizer | None = None, batch_size: int = 32, max_epochs: int = 200,
                 shuffle: bool = True, random_state: Seed = None, alpha: float = 0.0,
                 schedule: str | Callable[[int], float] = "constant", power_t: float = 0.5,
                 early_stopping: bool | EarlyStopping = False, validation_fraction: float | None = None,
                 n_threads: int | None = None, callbacks: Sequence[Any] = (), verbose: int = 0, comm: Any = None,
                 on_divergence: str = "raise", clip_norm: float | None = None) -> None:
        self.__dict__.update(check_settings(
            net=net, optimizer=SGD() if optimizer is None else optimizer, batch_size=batch_size, max_epochs=max_epochs,
            shuffle=shuffle, random_state=random_state, alpha=alpha, schedule=schedule, power_t=power_t,
            early_stopping=early_stopping, validation_fraction=validation_fraction, callbacks=callbacks,
            verbose=verbose, comm=comm, on_divergence=on_divergence, clip_norm=clip_norm))
        self.n_threads = n_threads
        self._start_over()

    @property
    def n_threads(self) -> int | None:
        """OpenMP threads for training, or None for the model's; validated on assignment."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int | None) -> None:
        self._n_threads = v.check_n_threads(value)

    def _start_over(self):
        self.history = History()
        self.epoch = 0
        self.t = 0
        self.learning_rate = self.optimizer.learning_rate
        self.stop_reason = None
        self.has_validation = False

    def resume(self, history: History, t: int, learning_rate: float) -> None:
        """Count on from an earlier training: its `History` (this trainer appends to it, and counts epochs from
        its length), the samples it had seen, and the learning rate of its next epoch. The drop-in estimators
        continue their fits this way; `restore` does it from a file."""
        epoch, t, learning_rate = check_counters(history, len(history) if isinstance(history, History) else 0, t,
                                                 learning_rate)
        self.history, self.epoch, self.t, self.learning_rate = history, epoch, t, learning_rate

    def reset(self) -> None:
        """Forget the training so far: history, counters, schedule, early stopping and optimizer state."""
        self._start_over()
        self.optimizer.reset()
        if self.early_stopping is not None:
            self.early_stopping.reset()

    def save(self, path: PathLike) -> None:
        """Write the model, the optimizer's settings and state, and this trainer's counters (epochs, samples
        seen, learning rate) to `path` (.npz without pickle, see `fastbp.persistence`); see `restore`."""
        with exclusive(self.net):  # never a half-trained epoch
            persistence.save_training(self, path)

    def restore(self, path: PathLike) -> None:
        """Continue from a file written by `save`: its weights, optimizer state and counters, so that the next
        `fit` trains exactly as the saving trainer's next `fit` would have.

        The file must hold this trainer's architecture, dtype and kind of optimizer. This trainer's own
        settings (batch size, schedule, hyperparameters, random_state) are used; the history and
        early-stopping counters are not in the file.
        """
        saved = persistence.read(path)
        net, other = self.net, build(saved, path)
        if architecture(other) != architecture(net):
            raise ValueError(f"{path} holds {other!r}; this trainer trains {net!r}")
        kind = self.optimizer.name
        if saved.optimizer is None or saved.optimizer["name"] != kind or saved.trainer is None:
            found = "no optimizer" if saved.optimizer is None else saved.optimizer["name"]
            raise ValueError(f"{path} holds {found} state{'' if saved.trainer else ' and no trainer counters'}; "
                             f"this trainer needs the state of {kind} (write it with Trainer.save)")
        with exclusive(net):  # the optimizer checks its state before it takes it; the rest cannot fail
            self.optimizer.load_state_dict(saved.optimizer)
            net.params[...] = other.params
            self.epoch, self.t, self.learning_rate = saved.trainer

    def __repr__(self) -> str:
        return (f"Trainer({self.net!r}, optimizer={self.optimizer!r}, batch_size={self.batch_size}, "
                f"max_epochs={self.max_epochs}, schedule={self.schedule!r})")

    # --- data -------------------------------------------------------------------------------------------

    def _check_validation_data(self, validation_data):
        """The validation rows as a checked `Batch`, validated once per fit."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError("validation_data must be a tuple (X_val, Y_val) or (X_val, Y_val, sample_weight_val)")
        X, Y, *weights = validation_data
        names = ("validation_data[0] (X_val)", "validation_data[1] (Y_val)",
                 "validation_data[2] (sample_weight_val)")
        return self.net.check_batch(X, Y, weights[0] if weights else None, names)

    def _split(self, X, Y, sample_weight, rng):
        """Hold out validation_fraction of the rows as scikit-learn's MLP does (train_test_split)."""
        from sklearn.model_selection import train_test_split

        # scikit-learn stratifies on its boolean labels (its errors name the classes 'True' and 'False').
        stratify = Y > 0.5 if self.net.output == "logistic" and self.net.n_outputs == 1 else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        # train_test_split raises first, as in scikit-learn's MLP: an empty training set, a class too small
        # to stratify.
        parts = train_test_split(*arrays, test_size=self.validation_fraction, random_state=rng,
                                 stratify=stratify)
        n_val = parts[1].shape[0]
        if n_val < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                             f"dataset. (validation_fraction={self.validation_fraction} of {X.shape[0]} samples "
                             f"leaves {n_val} for validation; it needs at least 2.)")
        # The training part goes to the core unchecked: keep it C-contiguous (train_test_split's fancy
        # indexing already gives that, and CSR rows of a CSR X; no copy then). The validation part is
        # checked by the caller.
        train = tuple(a if scipy.sparse.issparse(a) else np.ascontiguousarray(a) for a in parts[0::2])
        val = parts[1::2]
        if sample_weight is None:
            return (*train, None), (*val, None)
        # Every minibatch of a training part without weight would be skipped (and a validation part without
        # weight scores nothing): refuse it as check_sample_weight refuses all-zero weights.
        for name, weights in (("training", train[2]), ("validation", val[2])):
            if not weights.sum(dtype=np.float64) > 0:
                raise ValueError(f"sample_weight has no positive weight in the {name} part of the "
                                 f"validation_fraction={self.validation_fraction} split; give more rows a "
                                 "positive weight, or change validation_fraction or random_state")
        return train, val

    # --- schedules --------------------------------------------------------------------------------------

    def _epoch_learning_rate(self):
        if not callable(self.schedule):
            return self.learning_rate
        rate = self.schedule(self.epoch)
        try:
            return v.check_float("learning rate", rate, 0.0, inclusive=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"schedule({self.epoch}) returned {rate!r}; a learning rate must be a finite "
                             "number > 0") from exc

    def _after_epoch_schedule(self):
        if self.schedule == "invscaling":
            self.learning_rate = self.optimizer.learning_rate / (self.t + 1) ** self.power_t

    # --- training ---------------------------------------------------------------------------------------

    def fit(self, X: Data, Y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
            validation_data: tuple | None = None) -> History:
        """Train for up to `max_epochs` epochs, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix or array of shape (n_samples, n_features)
            Sparse X trains as CSR, without a dense copy (see `MLP.loss_and_grad`); minibatches are read
            from its rows in place. ``validation_data`` may be sparse too.
        Y : array-like of shape (n_samples, n_outputs), or (n_samples,) for one output
        sample_weight : array-like of shape (n_samples,), non-negative, default=None
        validation_data : (X_val, Y_val) or (X_val, Y_val, sample_weight_val), default=None

        Returns
        -------
        History
            Every epoch this trainer has run.

        Raises
        ------
        DivergenceError
            When an epoch gives a non-finite loss or weights (with ``on_divergence="raise"``).
        RuntimeError
            When the model is already being trained (by another thread).

        Notes
        -----
        All or nothing: when ``fit`` raises (bad arguments, a divergence, a callback's exception), the model,
        the optimizer, the early-stopping rule and this trainer are exactly as they were before the call
        (what callbacks did is theirs: a `Checkpoint` file stays written). Everything that can be checked is
        checked before the first change. ``on_divergence="stop"`` keeps the epochs before a divergence.

        A KeyboardInterrupt (Ctrl-C) stops training after the current epoch with a warning; a second one
        aborts the epoch, putting back the weights of the last completed one, and keeps the epochs completed
        before it.
        """
        settings = check_settings(**{name: getattr(self, name) for name in SETTINGS})
        check_counters(self.history, self.epoch, self.t, self.learning_rate)
        with exclusive(settings["net"]), atomic(self):
            self.__dict__.update(settings)
            return self._fit(X, Y, sample_weight, validation_data)

    def _fit(self, X, Y, sample_weight, validation_data):
        comm = self.comm
        if comm is None:
            return self._train(*self._prepare(X, Y, sample_weight, validation_data))
        from fastbp import distributed

        with distributed.abort_on_error(comm):
            prepared = distributed.agree(comm, self._prepare, X, Y, sample_weight, validation_data)
            # Ranks that differ here would leave the collective calls of the epochs out of step.
            distributed.start(comm, self.net, {
                "optimizer": repr(self.optimizer), "batch_size": self.batch_size, "max_epochs": self.max_epochs,
                "shuffle": self.shuffle, "alpha": self.alpha, "power_t": self.power_t,
                "schedule": repr(self.schedule) if isinstance(self.schedule, Schedule)
                else "a callable" if callable(self.schedule) else self.schedule, "clip_norm": self.clip_norm,
                "early_stopping": repr(self.early_stopping), "validation data": prepared.validation is not None,
                "on_divergence": self.on_divergence})
            return self._train(*prepared)

    def _prepare(self, X, Y, sample_weight, validation_data):
        """The `Prepared` data of a fit: checked, with the validation part split off."""
        net = self.net
        data = net.check_batch(X, Y, sample_weight)
        X, Y, sample_weight = data.X, data.Y, data.sample_weight
        rng = v.check_random_state(self.random_state)
        if validation_data is not None:
            if self.validation_fraction is not None:
                raise ValueError("pass either validation_data to fit or validation_fraction to the Trainer, "
                                 "not both")
            validation = self._check_validation_data(validation_data)
        elif self.validation_fraction is not None:
            (X, Y, sample_weight), validation = self._split(X, Y, sample_weight, rng)
            data = Batch(X, Y, sample_weight, float(X.shape[0]) if sample_weight is None
                         else float(sample_weight.sum(dtype=np.float64)))
            validation = self._check_validation_data(validation)
        else:
            validation = None
        if isinstance(self.schedule, Schedule) and self.schedule.ended(self.optimizer.t):
            # Said, not refused: scikit-learn's checks call partial_fit after a fit, and expect it to run.
            warnings.warn(f"the learning-rate schedule {self.schedule!r} has ended: the optimizer has taken "
                          f"{self.optimizer.t} steps, and every step from there on has rate 0, so this fit changes "
                          "no weight. Start a new schedule (reset the optimizer, or fit a drop-in anew instead of "
                          "partial_fit), or give one that goes on.", UserWarning, stacklevel=4)
        return Prepared(data, validation, rng)

    def _train(self, data, validation, rng):
        net = self.net
        # The loop first: it checks the optimizer's state against the model and builds the epoch kernel, which can
        # refuse them, before any callback starts.
        options = dict(batch_size=self.batch_size, training=self._training(rng), shuffle=self.shuffle)
        if self.comm is None:
            loop = FitLoop(net, self.optimizer, data, rng, plan=plan(self.n_threads, net.n_threads,
                                                                      invariant=net.thread_invariant), **options)
        else:
            from fastbp import distributed

            threads = plan(self.n_threads, net.n_threads, distributed.default_threads(self.comm),
                           invariant=net.thread_invariant)
            loop = distributed.DataParallelLoop(self.comm, net, self.optimizer, data, rng, plan=threads, **options)
        self.has_validation = validation is not None
        callbacks = list(self.callbacks)
        if self.verbose and (self.comm is None or self.comm.rank == 0):
            callbacks.append(ProgressBar(plain=self.verbose >= 2))
        if self.early_stopping is not None:
            self.early_stopping.on_train_begin(self)
        for callback in callbacks:
            call(callback, "on_train_begin", self)
        self.stop_reason = "max_epochs"
        # BLAS stays at one thread for the whole loop (callbacks included), not set and reset every epoch:
        # that cost 4 microseconds an epoch, 5% of a 30-16-1 one.
        with StopOnInterrupt() as interrupt, single_threaded_blas():
            try:
                for _ in range(self.max_epochs):
                    learning_rate = self._epoch_learning_rate()
                    try:
                        outcome = loop.run_epoch(self.epoch, learning_rate)
                    except DivergenceError:
                        self.stop_reason = "diverged"
                        if self.on_divergence == "raise":
                            raise
                        self._end_diverged_epoch(learning_rate, validation is not None, callbacks)
                        break
                    logs = {"epoch": self.epoch, "loss": outcome.loss, "learning_rate": outcome.last_rate,
                            "time": outcome.seconds}
                    self.epoch += 1
                    self.t += loop.n_total
                    if validation is not None:
                        logs["val_loss"], logs["val_score"] = loop.validate(validation)
                    self.history.append(logs)
                    stop = self._end_of_epoch(logs, callbacks) or interrupt.requested
                    if loop.stop_together(stop):
                        if not stop:
                            self.stop_reason = "another_rank"
                        break
            except KeyboardInterrupt:
                interrupt.requested = True
            if interrupt.requested:
                self.stop_reason = "interrupted"
                warnings.warn(f"Training interrupted by the user; stopped with {self.epoch} completed epochs, "
                              "whose weights the model holds.", RuntimeWarning, stacklevel=2)
        if self.early_stopping is not None:
            self.early_stopping.on_train_end(self)
        for callback in callbacks:
            call(callback, "on_train_end", self)
        return self.history

    def _training(self, rng):
        """The fit's `Training` settings; a model with dropout draws the fit's mask seed from `rng` (and only
        then, so that a model without dropout shuffles as scikit-learn does)."""
        seed = int(rng.randint(0, 2**63 - 1, dtype=np.int64)) if any(self.net.dropouts) else None
        return Training(self.alpha, self.clip_norm, self.schedule if isinstance(self.schedule, Schedule) else None,
                        seed)

    def _end_diverged_epoch(self, learning_rate, has_validation, callbacks):
        """on_divergence="stop": the rolled-back epoch is recorded with NaN losses (and scores), and early
        stopping and the callbacks see it before the fit ends, as scikit-learn records a diverged epoch."""
        logs = {"epoch": self.epoch, "loss": np.nan, "learning_rate": learning_rate, "time": np.nan}
        if has_validation:
            logs["val_loss"] = logs["val_score"] = np.nan
        self.history.append(logs)
        if self.early_stopping is not None:
            self.early_stopping.plateau(self, self.epoch, logs)
        for callback in callbacks:
            call(callback, "on_epoch_end", self, self.epoch, logs)

    def _end_of_epoch(self, logs, callbacks):
        """Schedules, early stopping and callbacks after an epoch, in scikit-learn's order; True to stop."""
        epoch = logs["epoch"]
        plateau = self.early_stopping is not None and self.early_stopping.plateau(self, epoch, logs)
        self._after_epoch_schedule()
        reason = None
        if plateau:
            if self.schedule == "adaptive" and self.learning_rate > MIN_ADAPTIVE_LEARNING_RATE:
                self.learning_rate /= 5.0
                self.early_stopping.n_no_improvement = 0
            else:
                reason = "learning_rate" if self.schedule == "adaptive" else "early_stopping"
        for callback in callbacks:
            if call(callback, "on_epoch_end", self, epoch, logs) and reason is None:
                reason = "callback"
        if reason is not None:
            self.stop_reason = reason
        return reason is not None


class Prepared(NamedTuple):
    """A fit's data, checked: the training rows, the validation rows (or None) and the random stream."""

    data: Batch
    validation: Batch | None
    rng: np.random.RandomState


def architecture(net):
    """What a file must hold for a trainer of `net` to restore it (an ensemble's form only when it is one)."""
    return (net.layer_sizes, net.activation, net.output, net.dtype, net.ensemble_size,
            net.ensemble if net.ensemble_size > 1 else None, net.categories, net.embedding)
