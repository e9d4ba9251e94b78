"""One fit's epoch loop, shared by `Trainer`, data-parallel training and the benchmark.

`EpochRunner` holds what lives for one fit: the data, the workspaces of the compiled epoch, the shuffle order
and the snapshot an epoch rolls back to. Each `epoch` trains one pass (one compiled call on the Cython
backend, `fastbp.reference.train_epoch` on the NumPy one) and returns its history record; a pass that
gives a non-finite loss or weights is rolled back and raises `DivergenceError`. The runner reads the
trainer's settings and updates its counters (`epoch`, `t`, `stop_reason`); deciding what happens between
epochs (schedules, early stopping, callbacks) is the trainer's.
"""

import time

import numpy as np

from fastbp import reference
from fastbp._core._epoch import Epoch
from fastbp._threads import single_threaded_blas


class DivergenceError(FloatingPointError, ValueError):
    """Training produced a non-finite loss or weights. A ValueError too, as scikit-learn raises.

    The trainer puts the model and the optimizer back at the end of the last finite epoch before raising.

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
    >>> bool(np.isfinite(net.params).all()), trainer.stop_reason
    (True, 'diverged')
    """


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


class EpochRunner:
    """One fit's epoch loop: its data, workspaces, shuffle order, and the snapshot an epoch rolls back to."""

    def __init__(self, trainer, X, Y, sample_weight, rng, n_threads):
        self.trainer = trainer
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.rng = rng
        self.n_samples = X.shape[0]
        self.batch_size = min(trainer.batch_size, self.n_samples)
        net = trainer.net
        self.state = trainer.optimizer.state_for(net.params)
        self.saved_params = np.empty_like(net.params)
        self.saved_state = {name: np.empty_like(buffer) for name, buffer in self.state.items()}
        self.n_total = self.n_samples  # rows of every rank (data-parallel training has more than one)
        self.order = np.arange(self.n_samples, dtype=np.intp) if trainer.shuffle else None
        self.core = self._make_core(n_threads)

    def _make_core(self, n_threads):
        net, trainer = self.trainer.net, self.trainer
        if net.backend != "cython":
            return None
        return Epoch(net._core, self.batch_size, net.dtype, trainer.alpha, n_threads=n_threads,
                     invariant=net.thread_invariant, **trainer.optimizer._epoch_settings())

    def validate(self, validation):
        """(loss without the penalty, score) on the validation data, from one forward pass."""
        net = self.trainer.net
        loss, y_hat = net._objective_and_output(*validation, 0.0)
        return loss, validation_score(net.output, validation[1], y_hat, validation[2])

    def stop_together(self, stop):
        """Whether to stop: `stop` here; with more than one rank, whether any rank stops."""
        return stop

    def _save(self):
        np.copyto(self.saved_params, self.trainer.net.params)
        for name, buffer in self.state.items():
            np.copyto(self.saved_state[name], buffer)
        self.saved_t = self.trainer.optimizer.t

    def _restore(self):
        np.copyto(self.trainer.net.params, self.saved_params)
        for name, buffer in self.state.items():
            np.copyto(buffer, self.saved_state[name])
        self.trainer.optimizer.t = self.saved_t

    def _train(self, learning_rate):
        """(loss_sum, finite) of one pass over the data in self.order."""
        trainer, net, optimizer = self.trainer, self.trainer.net, self.trainer.optimizer
        if self.core is not None:
            buffers = [self.state[name] for name in optimizer.state_names]
            with single_threaded_blas():
                loss_sum, optimizer.t, finite = self.core.run(
                    net.params, self.X, self.Y, self.sample_weight, self.order, buffers[0], buffers[-1],
                    learning_rate, optimizer.t)
            return loss_sum, finite

        def step(grad):
            optimizer._reference_step(net.params, grad, learning_rate)

        with np.errstate(all="ignore"):  # overflow is reported as a DivergenceError, as in the core
            loss_sum, finite = reference.train_epoch(
                net.coefs, net.intercepts, self.X, self.Y, self.sample_weight, self.order, self.batch_size,
                trainer.alpha, net.activation, net.output, step)
        return loss_sum, finite

    def epoch(self, learning_rate):
        """Train one epoch at `learning_rate` and return its history record; roll it back if it fails."""
        trainer = self.trainer
        if self.order is not None:
            # scikit-learn's `shuffle(sample_idx, random_state)`: permute the running order again.
            permutation = np.arange(self.n_samples)
            self.rng.shuffle(permutation)
            self.order = self.order[permutation]
        self._save()
        start = time.perf_counter()
        try:
            loss_sum, finite = self._train(learning_rate)
        except BaseException:
            self._restore()
            raise
        seconds = time.perf_counter() - start
        if not finite or not np.isfinite(trainer.net.params).all():
            self._restore()
            trainer.stop_reason = "diverged"
            raise DivergenceError(
                f"training diverged in epoch {trainer.epoch}: the loss or the weights became NaN or infinite "
                f"(learning rate {learning_rate:g}). The model and optimizer are back at the end of the last "
                "finite epoch; try a smaller learning rate.")
        logs = {"epoch": trainer.epoch, "loss": loss_sum / self.n_total, "learning_rate": learning_rate,
                "time": seconds}
        trainer.epoch += 1
        trainer.t += self.n_total
        return logs
