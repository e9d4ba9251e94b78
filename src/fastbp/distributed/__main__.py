"""`mpiexec -n N python -m fastbp.distributed --demo`: the breast-cancer demo of `python -m fastbp`,
trained data-parallel over the ranks with `Trainer(..., comm=MPI.COMM_WORLD)`."""

import sys

import numpy as np

from fastbp.datasets import load_breast_cancer_split
from fastbp.distributed import default_threads
from fastbp.network import MLP
from fastbp.optim import SGD
from fastbp.trainer import Trainer


def demo():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    X, Y, X_test, Y_test = load_breast_cancer_split()
    shard = slice(comm.rank, None, comm.size)  # rows dealt round-robin
    net = MLP([30, 16, 1], random_state=0)
    trainer = Trainer(net, SGD(0.1, momentum=0.9), batch_size=32, max_epochs=30, random_state=0, comm=comm)
    history = trainer.fit(X[shard], Y[shard])
    threads = default_threads(comm)  # a collective call: every rank makes it
    if comm.rank == 0:
        accuracy = float(np.mean(net.predict(X_test) == Y_test))
        print(f"{comm.size} ranks, {threads} thread(s) each: epoch loss {history.loss[0]:.4f} -> "
              f"{history.loss[-1]:.4f}, held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    if "--demo" not in sys.argv[1:]:
        sys.exit("usage: mpiexec -n N python -m fastbp.distributed --demo")
    demo()
