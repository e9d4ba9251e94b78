"""The backends a model computes with, behind one contract: the compiled core and the NumPy reference.

`attach(name, layout, spec)` builds the backend object of one network; it is the only place that tests a
backend's name. Everything the model (`fastbp.MLP`), its trainer and the data-parallel layer ask of a backend
is a method of `Backend`: forward passes, the objective and its gradient (for a share `weight_sum` of a larger
total when asked, with dropout masks when given a seed), one optimizer step, and the epoch kernel that trains
one pass over the data. Both backends take the parameter layout from `fastbp.layout`, which decides it in
Python; the compiled one copies it into the core's records.

The compiled backend runs the core with the GIL released and BLAS limited to one thread (`_threads`);
the reference one runs `fastbp.reference`, the math written as plainly as NumPy allows, and loops over
minibatches in Python on purpose.
"""

from dataclasses import dataclass

import numpy as np

from fastbp import reference, reference_network
from fastbp._core import _optim
from fastbp._core._epoch import EpochKernel
from fastbp._core._network import PREDICT_FEW_ROWS, CoreNet
from fastbp._threads import single_threaded_blas
from fastbp.steps import minibatches, train_steps

BACKENDS = ("cython", "numpy")
# A forward pass of the general kind (ensembles, inputs, CSR X) goes through blocks of rows whose scratch is at
# most about this many entries (32 MB of float64): a TabM of 32 members 512 wide needs 16,384 per row, so a
# prediction on a large table in one pass would allocate gigabytes. Fixed blocks: results do not depend on them.
FORWARD_BLOCK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class Batch:
    """Rows checked for a model (`MLP.check_batch`): what the backends compute on.

    X is a C-contiguous (n_samples, n_features) array of the model's dtype or a CSR matrix with data of that
    dtype, Y a C-contiguous (n_samples, n_outputs) array, sample_weight (n_samples,) or None, and weight_sum
    S, which divides the weighted sum of the rows' losses: their own sum of weights (n_samples without
    weights), or a larger total, such as every rank's in data-parallel training.
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray | None
    weight_sum: float

    @property
    def n_samples(self):
        return self.X.shape[0]


@dataclass(frozen=True)
class Training:
    """The settings of a fit's epoch kernel besides the optimizer: the L2 penalty, the gradient's largest norm
    (None: no clipping), the per-step schedule (a `fastbp.schedules.Schedule`, or None: every step at the
    epoch's rate) and the dropout seed (None: no dropout)."""

    alpha: float = 0.0
    clip_norm: float | None = None
    schedule: object = None
    dropout_seed: int | None = None


class Backend:
    """The contract of a backend object, made for one network by `attach`.

    Attributes
    ----------
    name : str
        The backend's name, as `fastbp.MLP` takes it.
    spec : fastbp.reference.Spec
        What the network computes besides its weights (activations, output, loss, dropout).
    layout : fastbp.layout.Layout
        The network's parameter blocks: where each array lives in the flat buffer, and its policy.
    n_params : int
        The size of the flat parameter buffer.
    """

    name: str

    def __init__(self, layout, spec):
        self.spec = spec
        self.layout = layout
        self.n_params = self.layout.n_params

    def forward(self, net, X, plan, members=False):
        """Output activations y_hat (n_samples, n_outputs) of `net` for checked X, with no dropout: an
        ensemble's mean, or with `members` each member's (n_samples, k, n_outputs)."""
        raise NotImplementedError

    def predict(self, net, X, plan):
        """`forward` of a C-contiguous X (n_samples >= 1, n_features) of the model's dtype that may still hold NaN
        or infinity: y_hat, or None when it does (and nothing was computed)."""
        raise NotImplementedError

    def logits(self, net, X, plan):
        """The output layer's pre-activations (n_samples, n_outputs), an ensemble's (n_samples, k, n_outputs)."""
        raise NotImplementedError

    def objective_and_output(self, net, batch, alpha, plan, dropout=None):
        """(objective, y_hat) of `batch` from one forward pass; dropout = (seed, step) drops units with those
        masks, None drops none."""
        raise NotImplementedError

    def loss_and_grad(self, net, batch, alpha, plan, out, dropout=None):
        """The objective of `batch`; its gradient goes into `out` (n_params,), laid out like params; dropout as
        for `objective_and_output`."""
        raise NotImplementedError

    def step(self, optimizer, params, grad, learning_rate):
        """One step of `optimizer` on params (n_params,) in place, from the flat gradient (weight decay on the
        coefficients only)."""
        raise NotImplementedError

    def epoch_kernel(self, net, optimizer, training, batch_size, plan):
        """What trains one epoch of a fit with the `Training` settings: an object whose ``train_epoch(params, X,
        Y, sample_weight, order, state, learning_rate, steps)`` trains in place and returns an `EpochResult`."""
        raise NotImplementedError


class Compiled(Backend):
    """The compiled core (`fastbp._core`): each call one pass in C with the GIL released."""

    name = "cython"

    def __init__(self, layout, spec):
        super().__init__(layout, spec)
        self.table = CoreNet(self.layout, spec.activations, spec.output, spec.loss, spec.huber_delta,
                             spec.label_smoothing, spec.dropout)
        self.logit_table = None  # the same network with an identity output, made when `logits` needs it

    def forward(self, net, X, plan, members=False):
        if not isinstance(X, np.ndarray) or self.layout.staged or members:  # CSR: the sparse first layer
            return self.in_blocks(self.table, net, X, plan, members)
        y_hat = self.predict(net, X, plan)
        assert y_hat is not None, "forward takes checked, finite X"
        return y_hat

    def predict(self, net, X, plan):
        if self.layout.staged:
            return self.forward(net, X, plan) if np.isfinite(X).all() else None
        if X.shape[0] <= PREDICT_FEW_ROWS:  # no BLAS call, so no limit to set and reset (most of a row's time)
            return self.table.predict(net.params, X, plan.n_threads)
        with single_threaded_blas():
            return self.table.predict(net.params, X, plan.n_threads)

    def logits(self, net, X, plan):
        if self.logit_table is None:
            self.logit_table = CoreNet(self.layout, self.spec.activations, "identity")
        logits = self.in_blocks(self.logit_table, net, X, plan, True)
        return logits[:, 0] if self.layout.members == 1 else logits

    @staticmethod
    def in_blocks(table, net, X, plan, members):
        """`table.forward` over blocks of rows of X (see FORWARD_BLOCK_ENTRIES), joined."""
        rows = max(256, FORWARD_BLOCK_ENTRIES // table.row_scratch)
        with single_threaded_blas():
            parts = [table.forward(net.params, X[first:first + rows], plan.n_threads, plan.invariant, members)
                     for first in range(0, X.shape[0], rows)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def objective_and_output(self, net, batch, alpha, plan, dropout=None):
        seed, step = (-1, 0) if dropout is None else dropout
        with single_threaded_blas():
            return self.table.objective_and_output(net.params, batch.X, batch.Y, batch.sample_weight,
                                                   batch.weight_sum, alpha, plan.n_threads, plan.invariant, seed, step)

    def loss_and_grad(self, net, batch, alpha, plan, out, dropout=None):
        seed, step = (-1, 0) if dropout is None else dropout
        with single_threaded_blas():
            return self.table.loss_and_grad(net.params, batch.X, batch.Y, batch.sample_weight, batch.weight_sum,
                                            alpha, out, plan.n_threads, plan.invariant, seed, step)

    def step(self, optimizer, params, grad, learning_rate):
        state = optimizer.state_for(params)
        optimizer.t += 1
        _optim.step(optimizer.name, optimizer.settings(), params, grad, state, learning_rate, optimizer.t,
                    self.layout.spans("decayed"))

    def epoch_kernel(self, net, optimizer, training, batch_size, plan):
        schedule = training.schedule
        options = {"alpha": training.alpha, "clip_norm": training.clip_norm, "dropout_seed": training.dropout_seed,
                   "schedule": None if schedule is None else (schedule.name, schedule.settings())}
        return CompiledEpochs(EpochKernel(self.table, batch_size, net.dtype, optimizer.name, optimizer.settings(),
                                          options, plan.n_threads, plan.invariant))


class CompiledEpochs:
    """The compiled epoch kernel, with BLAS held at one thread around each epoch (the trainer holds it for the
    whole fit as well: this costs nothing more there)."""

    def __init__(self, kernel):
        self.kernel = kernel

    def train_epoch(self, params, X, Y, sample_weight, order, state, learning_rate, steps):
        with single_threaded_blas():
            return self.kernel.train_epoch(params, X, Y, sample_weight, order, state, learning_rate, steps)


class Reference(Backend):
    """The NumPy reference (`fastbp.reference_network`): the math of the backpropagation page, on the model's
    layout, stage by stage."""

    name = "numpy"

    def forward(self, net, X, plan, members=False):
        return reference_network.output(self.layout, self.spec, net.params, X, members)

    def predict(self, net, X, plan):
        return self.forward(net, X, plan) if np.isfinite(X).all() else None

    def logits(self, net, X, plan):
        logits = reference_network.logits(self.layout, self.spec, net.params, X)
        return logits[:, 0] if logits.ndim == 3 and self.layout.members == 1 else logits

    def objective_and_output(self, net, batch, alpha, plan, dropout=None):
        loss, _, y_hat = reference_network.loss_and_grad(
            self.layout, self.spec, net.params, batch.X, batch.Y, batch.sample_weight, alpha, batch.weight_sum,
            dropout, gradient=False)
        return loss, y_hat

    def loss_and_grad(self, net, batch, alpha, plan, out, dropout=None):
        loss, out[...], _ = reference_network.loss_and_grad(
            self.layout, self.spec, net.params, batch.X, batch.Y, batch.sample_weight, alpha, batch.weight_sum,
            dropout)
        return loss

    def step(self, optimizer, params, grad, learning_rate):
        state = optimizer.state_for(params)
        optimizer.t += 1
        reference.optimizer_step(optimizer.name, optimizer.settings(), params, grad, state, learning_rate, optimizer.t,
                                 self.layout.spans("decayed"))

    def epoch_kernel(self, net, optimizer, training, batch_size, plan):
        return ReferenceEpochs(optimizer, training, batch_size, self)


class ReferenceEpochs:
    """The reference's epoch: the protocol of `fastbp.steps` in a Python loop over minibatches."""

    def __init__(self, optimizer, training, batch_size, backend):
        self.optimizer, self.training, self.batch_size, self.backend = optimizer, training, batch_size, backend

    def train_epoch(self, params, X, Y, sample_weight, order, state, learning_rate, steps):
        optimizer, training, layout, spec = self.optimizer, self.training, self.backend.layout, self.backend.spec
        settings, decayed = optimizer.settings(), layout.spans("decayed")

        def gradient(rows, dropout):
            w = None if sample_weight is None else sample_weight[rows]
            return reference_network.loss_and_grad(layout, spec, params, X[rows], Y[rows], w, training.alpha, None,
                                                   dropout)[:2]

        def update(grad, rate, t):
            reference.optimizer_step(optimizer.name, settings, params, grad, state, rate, t + 1, decayed)

        with np.errstate(all="ignore"):  # overflow is reported as a DivergenceError, as in the core
            return train_steps(minibatches(X.shape[0], self.batch_size, order, sample_weight), gradient, update,
                               training, learning_rate, steps)


_BACKENDS = {backend.name: backend for backend in (Compiled, Reference)}


def attach(name, layout, spec):
    """The backend object named `name` (one of BACKENDS) for a network of this `fastbp.layout.Layout` computing
    `spec`."""
    return _BACKENDS[name](layout, spec)
