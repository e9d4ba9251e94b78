"""The per-fit loop (`FitLoop`), shared by `Trainer`, data-parallel training and the benchmark.

A `FitLoop` holds what lives for one fit: the data, its backend's epoch kernel, the shuffle order and the
snapshot an epoch rolls back to. `run_epoch` trains one epoch (one pass over the data: one compiled call on
the compiled backend, the protocol of `fastbp.steps` in a Python loop on the NumPy one) and returns what happened, an
`EpochOutcome`; an epoch that gives a non-finite loss or weights is rolled back and raises
`DivergenceError`. The loop takes everything it needs as arguments and updates only the model and its
optimizer; the trainer keeps its own counters and decides what happens between epochs (schedules, early
stopping, callbacks).

Two counts, two names: an optimizer's ``t`` counts its steps (minibatches); a trainer's ``t`` counts the
samples it has trained on (scikit-learn's ``t_``). Here they are `steps` and `n_total` rows per epoch.
"""

import time
from typing import NamedTuple

import numpy as np


class DivergenceError(FloatingPointError, ValueError):
    """Training produced a non-finite loss or weights. A ValueError too, as scikit-learn raises.

    A fit that raises it changes nothing (see `fastbp.Trainer.fit`); `epoch` and `learning_rate` say where it
    happened.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> net = fastbp.MLP([4, 8, 1], activation="relu", output="identity", random_state=0)
    >>> trainer = fastbp.Trainer(net, fastbp.SGD(learning_rate=1e3), max_epochs=5, random_state=0)
    >>> try:
    ...     trainer.fit(X, 1e6 * X[:, 0])
    ... except fastbp.DivergenceError as error:
    ...     print(error)
    training diverged in epoch 0: the loss or the weights became NaN or infinite (learning rate 1000). ...
    >>> bool(np.array_equal(net.params, fastbp.MLP([4, 8, 1], "relu", "identity", random_state=0).params))
    True
    >>> len(trainer.history), trainer.stop_reason
    (0, None)
    """


class EpochOutcome(NamedTuple):
    """What one epoch of a fit did: its loss (the mean minibatch objective over every rank's rows, weighted by
    minibatch size, as scikit-learn reports it), the optimizer's step count after it, its seconds, and the
    learning rate of its last step (the epoch's rate without a per-step schedule)."""

    loss: float
    steps: int
    seconds: float
    last_rate: float


def validation_score(output, Y, y_hat, sample_weight):
    """Validation score of predictions y_hat, as scikit-learn's MLP scores: accuracy for classification
    outputs, R^2 otherwise."""
    from sklearn.metrics import accuracy_score, r2_score

    if not np.isfinite(y_hat).all():
        return np.nan
    if output == "logistic":
        return float(accuracy_score(Y > 0.5, y_hat > 0.5, sample_weight=sample_weight))
    if output == "softmax":
        return float(accuracy_score(Y.argmax(axis=1), y_hat.argmax(axis=1), sample_weight=sample_weight))
    return float(r2_score(Y, y_hat, sample_weight=sample_weight))


class FitLoop:
    """One fit's loop: its data (a checked `fastbp.backends.Batch`), the epoch kernel, the shuffle order, and the
    snapshot an epoch rolls back to.

    Parameters
    ----------
    net : MLP
        Trained in place.
    optimizer : fastbp.optim.Optimizer
        Its state and step count are updated in place.
    data : fastbp.backends.Batch
        The training rows.
    rng : numpy.random.RandomState or None
        Draws the shuffle of every epoch when `shuffle` (None only without shuffling).
    batch_size : int
        Rows per minibatch (at most the rows there are).
    training : fastbp.backends.Training
        The epoch kernel's settings besides the optimizer: L2 penalty, clipping, per-step schedule, dropout seed.
    shuffle : bool
        Reshuffle every epoch, as scikit-learn does.
    plan : fastbp._threads.ThreadPlan
        The threads of every computation of the fit.
    """

    def __init__(self, net, optimizer, data, rng, *, batch_size, training, shuffle, plan):
        self.net, self.optimizer, self.data, self.rng = net, optimizer, data, rng
        self.training, self.plan = training, plan
        self.n_samples = data.n_samples
        self.n_total = self.n_samples  # rows of every rank (data-parallel training has more than one)
        self.batch_size = min(batch_size, self.n_samples)
        self.state = optimizer.state_for(net.params)
        self.saved_params = np.empty_like(net.params)
        self.saved_state = {name: np.empty_like(buffer) for name, buffer in self.state.items()}
        self.order = np.arange(self.n_samples, dtype=np.intp) if shuffle else None
        self.kernel = self.make_kernel()

    def make_kernel(self):
        """The backend's epoch kernel (data-parallel training steps through its own loop instead)."""
        return self.net.engine.epoch_kernel(self.net, self.optimizer, self.training, self.batch_size, self.plan)

    def validate(self, validation):
        """(loss without the penalty, score) on the checked validation `Batch`, from one forward pass."""
        net = self.net
        loss, y_hat = net.batch_objective_and_output(validation, 0.0, self.plan)
        return loss, validation_score(net.output, validation.Y, y_hat, validation.sample_weight)

    def stop_together(self, stop):
        """Whether to stop: `stop` here; with more than one rank, whether any rank stops."""
        return stop

    def _snapshot(self):
        np.copyto(self.saved_params, self.net.params)
        for name, buffer in self.state.items():
            np.copyto(self.saved_state[name], buffer)
        self.saved_steps = self.optimizer.t

    def _roll_back(self):
        np.copyto(self.net.params, self.saved_params)
        for name, buffer in self.state.items():
            np.copyto(buffer, self.saved_state[name])
        self.optimizer.t = self.saved_steps

    def train_pass(self, learning_rate):
        """The `EpochResult` of one pass over the data in self.order, stepping the model and optimizer."""
        data = self.data
        result = self.kernel.train_epoch(self.net.params, data.X, data.Y, data.sample_weight, self.order, self.state,
                                         learning_rate, self.optimizer.t)
        self.optimizer.t = result.steps
        return result

    def run_epoch(self, epoch, learning_rate):
        """Train epoch number `epoch` (for the message of a divergence) at `learning_rate`; roll it back and raise
        `DivergenceError` if it fails, or put it back and re-raise whatever interrupts it."""
        if self.order is not None:
            # scikit-learn's `shuffle(sample_idx, random_state)`: permute the running order again.
            permutation = np.arange(self.n_samples)
            self.rng.shuffle(permutation)
            self.order = self.order[permutation]
        self._snapshot()
        start = time.perf_counter()
        try:
            result = self.train_pass(learning_rate)
        except BaseException:
            self._roll_back()
            raise
        seconds = time.perf_counter() - start
        if not result.finite or not np.isfinite(self.net.params).all():
            self._roll_back()
            error = DivergenceError(
                f"training diverged in epoch {epoch}: the loss or the weights became NaN or infinite "
                f"(learning rate {learning_rate:g}). Nothing was changed by this fit: try a smaller learning rate, "
                "or on_divergence='stop' to keep the epochs before the divergence.")
            error.epoch, error.learning_rate = epoch, learning_rate
            raise error
        return EpochOutcome(result.loss_sum / self.n_total, self.optimizer.t, seconds, result.last_rate)
