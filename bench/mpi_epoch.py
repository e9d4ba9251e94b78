"""One epoch of fastbp.distributed.train on the medium workload, and its communication volume.

    mpiexec -n 1 python bench/mpi_epoch.py
    mpiexec -n 2 python bench/mpi_epoch.py

Global minibatch 128 rows (128 / ranks per rank), rows dealt round-robin, plain SGD, one OpenMP thread per
rank; a short warm-up run first. Rank 0 prints the epoch time and the bytes each rank sends to Allreduce.
"""

import time

from mpi4py import MPI

import fastbp
from fastbp.bench.workloads import WORKLOADS, make_data
from fastbp.distributed import train

comm = MPI.COMM_WORLD
sizes, n_rows, batch_size = WORKLOADS["medium"]
X, Y = make_data("medium", "float64")
shard = slice(comm.rank, None, comm.size)
net = fastbp.MLP(sizes, random_state=0)
per_rank = batch_size // comm.size
train(net, fastbp.SGD(0.01, 0.0, False), X[shard][:1024], Y[shard][:1024], batch_size=per_rank, epochs=1,
      n_threads=1)
comm.Barrier()
start = time.perf_counter()
train(net, fastbp.SGD(0.01, 0.0, False), X[shard], Y[shard], batch_size=per_rank, epochs=1, n_threads=1)
comm.Barrier()
seconds = time.perf_counter() - start
if comm.rank == 0:
    steps = -(-n_rows // batch_size)
    mib = (net.n_params + 2) * 8 / 2**20
    print(f"{comm.size} rank(s): epoch {seconds:.3f} s; {steps} Allreduces of {mib:.2f} MiB = {steps * mib:.0f} MiB "
          "per rank per epoch")
