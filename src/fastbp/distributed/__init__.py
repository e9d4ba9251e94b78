"""Synchronous data-parallel training over MPI (mpi4py): what ``Trainer(..., comm=...)`` and the estimators'
``comm=`` parameter run.

Every rank holds a shard of the data and the same model. At the start of each fit the ranks check that they
train the same network (architecture, dtype, optimizer, batch size), and rank 0's weights are broadcast.
A global minibatch of ``batch_size`` rows is every rank's next share of it (``batch_size // n_ranks`` rows,
one more on the first ``batch_size % n_ranks`` ranks). Per global minibatch each rank computes its rows' part
of the mean gradient with the compiled core, one Allreduce adds the flat gradient buffers and losses, and
every rank applies the identical optimizer step. So the result equals single-process training on the same
global minibatches up to the order of the floating-point sums. Each rank shuffles its own shard every
epoch; validation data (given or split off) stays on its rank and is scored as one set. A demo::

    mpiexec -n 4 python -m fastbp.distributed --demo

Errors: bad input found before training (a shard with the wrong number of features, ranks that disagree on
the model) raises the same `DistributedError` on every rank, naming the ranks and the problem. Any other
exception on one rank during a fit aborts the whole job (MPI_Abort) after printing it, instead of leaving
the other ranks waiting forever in a collective call.
"""

import hashlib
import json
import sys
import time
import traceback
from contextlib import contextmanager

import numpy as np

from fastbp._validation import usable_cores
from fastbp.backends import Batch
from fastbp.epochs import DivergenceError, FitLoop, validation_score
from fastbp.steps import train_steps

ABORT_GRACE_SECONDS = 1.0


class DistributedError(ValueError):
    """Raised on every rank at once: the ranks' data or models do not fit together."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("data-parallel training needs mpi4py and an MPI runtime: pip install 'fastbp[mpi]'") \
            from exc
    return MPI


def check_comm(comm):
    """`comm` if it is an mpi4py intracommunicator (such as MPI.COMM_WORLD), else a TypeError."""
    MPI = _mpi()
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py intracommunicator such as MPI.COMM_WORLD, got {comm!r}")
    return comm


def default_threads(comm):
    """OpenMP threads per rank: the cores this process may use divided by the ranks on this node (a
    collective call)."""
    MPI = _mpi()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return max(1, usable_cores() // node.Get_size())
    finally:
        node.Free()


@contextmanager
def abort_on_error(comm):
    """Let errors every rank raises together pass; end the job on any other, which only this rank has."""
    try:
        yield
    except (DistributedError, DivergenceError):
        raise
    except BaseException:
        sys.stderr.write(f"fastbp: rank {comm.rank} of {comm.size} failed; aborting every rank:\n"
                         f"{traceback.format_exc()}")
        sys.stderr.flush()
        # The launcher forwards each rank's output asynchronously, and the abort stops that forwarding: give
        # it time to pass the message on first (CI once lost the message without this).
        time.sleep(ABORT_GRACE_SECONDS)
        comm.Abort(1)
        raise  # pragma: no cover - MPI_Abort does not return


def agree(comm, work, *args):
    """work(*args) on every rank; if it raises a TypeError or ValueError on any rank, every rank raises a
    DistributedError with each failing rank's message."""
    try:
        result, problem = work(*args), None
    except (TypeError, ValueError) as exc:
        result, problem = None, f"rank {comm.rank}: {exc}"
    problems = [p for p in comm.allgather(problem) if p is not None]
    if problems:
        raise DistributedError("; ".join(problems))
    return result


def same_everywhere(comm, values):
    """Raise a DistributedError on every rank unless each value of the dict `values` equals rank 0's."""
    everyone = comm.allgather(values)
    for what, value in everyone[0].items():
        differ = [f"rank {rank} has {other[what]}" for rank, other in enumerate(everyone) if other[what] != value]
        if differ:
            raise DistributedError(f"every rank must have the same {what}: rank 0 has {value}, " + ", ".join(differ))


def total(comm, value):
    """The sum over ranks of a number or array (the value itself without a communicator)."""
    if comm is None:
        return value
    if np.ndim(value) == 0:
        return comm.allreduce(value)
    result = np.array(value, dtype=np.float64)
    comm.Allreduce(_mpi().IN_PLACE, result)
    return result


def start(comm, net, settings=()):
    """Check that all ranks train the same model with the same `settings` (a dict), then give every rank
    rank 0's weights. An embedding is compared by a digest of its settings (bins included, which its repr
    only summarizes)."""
    embedding = None if net.embedding is None else hashlib.sha256(
        json.dumps(net.embedding.to_dict()).encode()).hexdigest()[:16]
    same_everywhere(comm, {"network": repr(net), "embedding (digest)": embedding, **dict(settings)})
    comm.Bcast(net.params, root=0)


class GradientSum:
    """The objective and gradient of rows spread over the ranks: each rank's share, added by one Allreduce.

    `__call__` returns (objective, gradient) over every rank's rows with sample-weight sum S (the sum over
    ranks), with the L2 penalty alpha counted once; dropout = (seed, step) drops units with those masks, keyed
    by each rank's own rows. The gradient is a view of a buffer that the next call
    overwrites. The backend runs with the `fastbp._threads.ThreadPlan` `plan` (None: the model's).
    """

    def __init__(self, comm, net, plan=None):
        self.comm, self.net, self.plan = comm, net, plan
        self.IN_PLACE = _mpi().IN_PLACE
        self.buffer = np.empty(net.n_params + 1, dtype=net.dtype)  # the gradient, then the objective
        self.penalized = [slice(start, stop) for start, stop in net.layout.spans("penalized")]

    def __call__(self, X, Y, sample_weight, S, alpha, dropout=None):
        grad = self.buffer[:-1]
        if X.shape[0]:
            self.buffer[-1] = self.net.batch_loss_and_grad(Batch(X, Y, sample_weight, S), 0.0, out=grad,
                                                           plan=self.plan, dropout=dropout)[0]
        else:
            self.buffer[:] = 0
        self.comm.Allreduce(self.IN_PLACE, self.buffer)
        loss = float(self.buffer[-1])
        for span in self.penalized if alpha else ():
            weights = self.net.params[span]
            grad[span] += weights * (alpha / S)
            loss += 0.5 * alpha * float(np.dot(weights, weights)) / S
        return loss, grad


class DataParallelLoop(FitLoop):
    """`Trainer`'s per-fit loop with the gradient of each global minibatch summed over the ranks of `comm`; the
    other arguments are FitLoop's."""

    def __init__(self, comm, net, optimizer, data, rng, *, batch_size, training, shuffle, plan):
        self.comm = comm
        super().__init__(net, optimizer, data, rng, batch_size=batch_size, training=training, shuffle=shuffle,
                         plan=plan)
        self.n_total = comm.allreduce(self.n_samples)
        batch = min(batch_size, self.n_total)
        if batch < comm.size:
            raise DistributedError(f"batch_size={batch} is smaller than the {comm.size} ranks: every rank needs "
                                   "at least one row of each global minibatch")
        self.rows_per_step = batch // comm.size + (comm.rank < batch % comm.size)
        self.n_steps = comm.allreduce(-(-self.n_samples // self.rows_per_step), op=_mpi().MAX)
        self.gradient = GradientSum(comm, net, plan)
        self.validation = None

    def make_kernel(self):
        return None  # each step runs in GradientSum and the optimizer, with an Allreduce between them

    def _step_sums(self, order):
        """(rows, weight sum) of every global minibatch of this epoch, from one Allreduce."""
        starts = np.minimum(np.arange(self.n_steps) * self.rows_per_step, self.n_samples)
        stops = np.minimum(starts + self.rows_per_step, self.n_samples)
        sample_weight = self.data.sample_weight
        if sample_weight is None:
            return total(self.comm, np.stack([stops - starts] * 2))
        w = sample_weight if order is None else sample_weight[order]
        cumulative = np.concatenate([[0.0], np.cumsum(w, dtype=np.float64)])
        return total(self.comm, np.stack([stops - starts, cumulative[stops] - cumulative[starts]]))

    def train_pass(self, learning_rate):
        """One epoch of the protocol of `fastbp.steps` over the global minibatches, each step's gradient summed
        over the ranks (its clipping then scales the summed gradient: the same on every rank)."""
        net, optimizer, data, order = self.net, self.optimizer, self.data, self.order
        global_rows, global_weights = self._step_sums(order)

        def steps():
            for step in range(self.n_steps):
                if global_weights[step] > 0:  # else every rank's rows have zero weight: skipped, as Trainer does
                    first = step * self.rows_per_step
                    rows = slice(first, first + self.rows_per_step)
                    yield (step, rows if order is None else order[rows]), global_rows[step]

        def gradient(minibatch, dropout):
            step, rows = minibatch
            w = None if data.sample_weight is None else data.sample_weight[rows]
            return self.gradient(data.X[rows], data.Y[rows], w, global_weights[step], self.training.alpha, dropout)

        def update(grad, rate, t):
            net.engine.step(optimizer, net.params, grad, rate)

        return train_steps(steps(), gradient, update, self.training, learning_rate, optimizer.t)

    def validate(self, validation):
        """Validation loss and score over every rank's validation rows, as if they were one set."""
        net = self.net
        if self.validation is None:  # the targets and weights stay the same for the whole fit
            Y, w = validation.Y, validation.sample_weight
            targets = self.comm.allgather((Y, np.ones(Y.shape[0], Y.dtype) if w is None else w))
            self.validation = (np.concatenate([t[0] for t in targets]), np.concatenate([t[1] for t in targets]),
                               total(self.comm, validation.weight_sum))
        Y_all, w_all, S = self.validation
        loss, y_hat = net.batch_objective_and_output(validation, 0.0, self.plan)
        loss = total(self.comm, loss * validation.weight_sum) / S
        return loss, validation_score(net.output, Y_all, np.concatenate(self.comm.allgather(y_hat)), w_all)

    def stop_together(self, stop):
        return self.comm.allreduce(bool(stop), op=_mpi().LOR)
