"""One data-parallel epoch (`Trainer(comm=...)`) on the medium workload, and its communication volume.

    mpiexec -n 1 python bench/mpi_epoch.py [float64|float32]
    mpiexec -n 2 python bench/mpi_epoch.py [float64|float32]

The workload's global minibatch split over the ranks, rows dealt round-robin, plain SGD, one OpenMP thread
per rank; a short warm-up fit first. Rank 0 prints the median of 3 epochs and the bytes each rank sends to
Allreduce per epoch. For comparison it also times the single-process compiled epoch (`Trainer` without
`comm`) on the whole data when run with one rank.
"""

import statistics
import sys
import time

from mpi4py import MPI

import fastbp
from fastbp.bench.workloads import WORKLOADS, make_data

comm = MPI.COMM_WORLD
sizes, n_rows, batch_size = WORKLOADS["medium"]
dtype = sys.argv[1] if len(sys.argv) > 1 else "float64"
X, Y = make_data("medium", dtype)
shard = slice(comm.rank, None, comm.size)


def epoch_seconds(trainer, X, Y):
    comm.Barrier()
    start = time.perf_counter()
    trainer.fit(X, Y)
    comm.Barrier()
    return time.perf_counter() - start


def median_epoch(use_comm, X, Y):
    net = fastbp.MLP(sizes, dtype=dtype, random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(0.01, 0.0, False), batch_size=batch_size, max_epochs=1,
                             random_state=0, n_threads=1, comm=comm if use_comm else None)
    trainer.fit(X[:2048], Y[:2048])  # warm-up
    return statistics.median(epoch_seconds(trainer, X, Y) for _ in range(3)), net


seconds, net = median_epoch(True, X[shard], Y[shard])
if comm.rank == 0:
    steps = -(-n_rows // batch_size)
    mib = (net.n_params + 1) * net.dtype.itemsize / 2**20
    print(f"{dtype}, {comm.size} rank(s), data-parallel: epoch {seconds:.3f} s (median of 3); {steps} Allreduces of "
          f"{mib:.2f} MiB = {steps * mib:.0f} MiB per rank per epoch")
if comm.size == 1:
    print(f"{dtype}, 1 process, compiled epoch (no comm): {median_epoch(False, X, Y)[0]:.3f} s (median of 3)")
