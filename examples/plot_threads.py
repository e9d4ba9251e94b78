"""
=============================
Threads and epoch time
=============================

fastbp's core spreads the work of an epoch over OpenMP threads where the work
is large enough to pay for them. ``n_threads`` (of :class:`fastbp.MLP`,
:class:`fastbp.Trainer` or the estimators) sets how many; the default is all
the cores OpenMP sees. This example times an epoch of three of the benchmark's
workloads with one thread and with each larger count up to the number of cores,
using :class:`fastbp.Trainer`.

The times come from the machine that built these pages (its core count is in
the title): a small, possibly shared machine, so take them as an illustration.
``python -m fastbp bench --threads 1 2`` measures the same more carefully (see
:doc:`/user_guide/threads`).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import fastbp
from fastbp.bench.workloads import WORKLOADS, make_data

# %%
# What this fastbp was built with: OpenMP, its thread count, the BLAS in use.

info = fastbp.show_config()

# %%
# Timing epochs
# -------------
# Plain SGD over the rows in order; the median of three epochs after a first,
# untimed one. ``History.time`` holds the seconds of each epoch's training
# pass. The benchmark's workloads, with 4,096 generated rows for the two
# larger networks to keep this short (tiny is the 569 breast-cancer rows).

cores = os.cpu_count() or 1
# One thread, powers of two, and all the cores (one, if built without OpenMP).
counts = {1, cores} | {2**k for k in range(1, 6) if 2**k < cores}
thread_counts = sorted(counts) if info["openmp"] else [1]
workloads = ["tiny", "small", "medium"]


def epoch_seconds(workload, n_threads):
    sizes, _, batch_size = WORKLOADS[workload]
    X, Y = make_data(workload, "float64", n_rows=4096)
    net = fastbp.MLP(sizes, random_state=0, n_threads=n_threads)
    trainer = fastbp.Trainer(net, fastbp.SGD(0.01, momentum=0.0),
                             batch_size=batch_size, max_epochs=4,
                             shuffle=False)
    history = trainer.fit(X, Y)
    return float(np.median(history.time[1:]))


def layers(workload):
    return "-".join(map(str, WORKLOADS[workload][0]))


def threads(n):
    return f"{n} thread{'s' * (n > 1)}"


seconds = {(w, n): epoch_seconds(w, n)
           for w in workloads for n in thread_counts}
for w in workloads:
    print(f"{w} {layers(w)}:", ", ".join(
        f"{threads(n)} {seconds[w, n] * 1e3:.3g} ms" for n in thread_counts))

# %%
# The chart
# ---------
# Left, milliseconds per epoch; right, the speedup over one thread. The core
# splits a matrix product over threads only when it is large enough to pay for
# them, so the tiny and small networks run the same with any count, while the
# medium one gains from every core. On a machine that other processes keep
# busy, threads that wait for each other can slow an epoch down instead: there,
# set ``n_threads`` below the number of free cores.

fig, (ax_time, ax_speedup) = plt.subplots(1, 2, figsize=(9, 4),
                                          layout="constrained")
width = 0.8 / len(thread_counts)
for k, n in enumerate(thread_counts):
    offsets = (np.arange(len(workloads))
               + (k - (len(thread_counts) - 1) / 2) * width)
    ax_time.bar(offsets, [seconds[w, n] * 1e3 for w in workloads], width,
                label=threads(n))
    ax_speedup.bar(offsets, [seconds[w, 1] / seconds[w, n] for w in workloads],
                   width, label=threads(n))
for ax in (ax_time, ax_speedup):
    ax.set_xticks(np.arange(len(workloads)),
                  [f"{w}\n{layers(w)}" for w in workloads])
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
ax_time.set_yscale("log")
ax_time.set_ylabel("ms per epoch (log scale)")
ax_speedup.axhline(1.0, color="0.3", linewidth=0.8)
ax_speedup.set_ylabel("speedup over one thread")
fig.suptitle(f"One epoch of SGD, float64, on a machine with {cores} cores")
plt.show()
