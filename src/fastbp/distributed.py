"""Synchronous data-parallel minibatch training over MPI (mpi4py), first slice.

Every rank holds a shard of the data and the same model. Rank 0's initial weights are broadcast; then, for
each global minibatch (the union of every rank's next local minibatch), each rank computes the weighted
sum of its rows' gradients with the compiled core, one Allreduce adds the flat gradient buffers together
with the summed sample weight and loss, and every rank applies the identical optimizer step. The result
equals single-process training on the same global minibatches up to the order of the floating-point sums.

    mpiexec -n 4 python -m fastbp.distributed --demo

A shard with the wrong number of features is refused on every rank with the failing rank's message (all
ranks take part in the check, so none waits forever); an exception on one rank during training aborts the
whole job (MPI_Abort) after printing it, instead of leaving the others blocked in the Allreduce.
"""

import os
import sys
import traceback

import numpy as np

from fastbp import _validation as v


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("fastbp.distributed needs mpi4py and an MPI runtime: pip install 'fastbp[mpi]'") from exc
    return MPI


def default_threads(comm):
    """OpenMP threads per rank: the machine's cores divided by the ranks on this node."""
    MPI = _mpi()
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return max(1, (os.cpu_count() or 1) // node.Get_size())
    finally:
        node.Free()


def _check_shards(comm, net, X, Y, sample_weight):
    """Validate every rank's shard; all ranks raise the same ValueError if any shard is bad."""
    try:
        X, Y, sample_weight, _, _ = net._check_batch(X, Y, sample_weight, 0.0)
        problem = None
    except (TypeError, ValueError) as exc:
        problem = f"rank {comm.rank}: {exc}"
    problems = [p for p in comm.allgather(problem) if p is not None]
    if problems:
        raise ValueError("bad data shard(s): " + "; ".join(problems))
    return X, Y, sample_weight


def train(net, optimizer, X, Y, *, batch_size, epochs, sample_weight=None, alpha=0.0, comm=None, n_threads=None):
    """Train `net` in place on this rank's shard (X, Y, sample_weight); call it on every rank.

    Parameters
    ----------
    net : MLP (same architecture on every rank; rank 0's weights are used)
    optimizer : SGD or Adam (same settings on every rank)
    X, Y, sample_weight : this rank's shard, (n_local, n_features), (n_local, n_outputs), (n_local,) or None
    batch_size : int, rows per rank per step; a global minibatch is every rank's next `batch_size` rows
    epochs : int
    alpha : float, L2 penalty of the global objective (applied once, not per rank)
    comm : MPI communicator, default MPI.COMM_WORLD
    n_threads : OpenMP threads per rank, default cores // ranks on this node

    Returns
    -------
    list of the global epoch losses (mean minibatch objective, as `Trainer` reports it), on every rank.
    """
    MPI = _mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    batch_size = v.check_int("batch_size", batch_size, minimum=1)
    epochs = v.check_int("epochs", epochs, minimum=1)
    alpha = v.check_float("alpha", alpha, minimum=0.0)
    net.n_threads = default_threads(comm) if n_threads is None else v.check_n_threads(n_threads)
    X, Y, sample_weight = _check_shards(comm, net, X, Y, sample_weight)
    comm.Bcast(net.params, root=0)

    n_steps = comm.allreduce(-(-X.shape[0] // batch_size), op=MPI.MAX)
    total_rows = comm.allreduce(X.shape[0], op=MPI.SUM)
    # The coefficients, which carry the penalty, come first in the flat buffer (the intercepts follow).
    coefs = slice(0, sum(W.size for W in net.coefs))
    # One Allreduce per step: the summed weighted gradient, then the row count, weight sum and loss sum.
    buffer = np.empty(net.n_params + 3, dtype=np.float64)
    losses = []
    try:
        for _ in range(epochs):
            epoch_loss = 0.0
            for step in range(n_steps):
                rows = slice(step * batch_size, (step + 1) * batch_size)
                buffer[:] = 0
                buffer[-3] = X[rows].shape[0]
                if X[rows].shape[0]:
                    w = None if sample_weight is None else sample_weight[rows]
                    weight_sum = X[rows].shape[0] if w is None else float(w.sum(dtype=np.float64))
                    if weight_sum > 0:
                        loss, grad = net._loss_and_grad(X[rows], Y[rows], w, weight_sum, 0.0)
                        buffer[:-3] = grad * weight_sum
                        buffer[-2], buffer[-1] = weight_sum, loss * weight_sum
                comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
                batch_rows, weight_sum, loss_sum = buffer[-3:]
                if weight_sum <= 0:  # every rank's rows had zero weight: skipped, as Trainer does
                    continue
                grad = buffer[:-3] / weight_sum
                grad[coefs] += (alpha / weight_sum) * net.params[coefs]
                penalty = 0.5 * alpha * float(np.sum(net.params[coefs] ** 2)) / weight_sum
                optimizer.step(net.params, grad.astype(net.dtype))
                epoch_loss += (loss_sum / weight_sum + penalty) * batch_rows
            losses.append(epoch_loss / total_rows)
    except Exception:  # one rank failing would leave the others in the Allreduce: end the whole job
        sys.stderr.write(f"fastbp.distributed: rank {comm.rank} failed:\n{traceback.format_exc()}")
        sys.stderr.flush()
        comm.Abort(1)
    return losses


def _demo():
    from mpi4py import MPI

    from fastbp.__main__ import load_breast_cancer_split
    from fastbp.network import MLP
    from fastbp.optim import SGD

    comm = MPI.COMM_WORLD
    X, Y, X_test, Y_test = load_breast_cancer_split()
    shard = slice(comm.rank, None, comm.size)  # rows dealt round-robin
    net = MLP([30, 16, 1], random_state=0)
    losses = train(net, SGD(0.1, momentum=0.9), X[shard], Y[shard], batch_size=8, epochs=30)
    if comm.rank == 0:
        accuracy = float(np.mean(net.predict(X_test) == Y_test))
        print(f"{comm.size} ranks, {net.n_threads} thread(s) each: epoch loss {losses[0]:.4f} -> {losses[-1]:.4f}, "
              f"held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    if "--demo" not in sys.argv[1:]:
        sys.exit("usage: mpiexec -n N python -m fastbp.distributed --demo")
    _demo()
