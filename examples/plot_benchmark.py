"""
=================================================
One epoch of SGD: fastbp next to its peers
=================================================

``python -m fastbp bench`` times one epoch of plain minibatch SGD for fastbp,
its NumPy backend, scikit-learn's MLPClassifier, PyTorch (when installed) and
the *GEMM floor*, the epoch's matrix products alone. This is a short run of it
through :func:`fastbp.bench.main`, which takes the command's arguments: the two
smaller workloads, float64, two timed rounds. It writes its results as JSON,
drawn below.

The numbers come from the machine that built these pages, in a few seconds:
treat them as an illustration. For measurements, run the full benchmark several
times on a quiet machine and combine the runs with ``bench/summarize.py`` (see
:doc:`/user_guide/performance`).
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastbp.bench
from fastbp.bench.workloads import WORKLOADS

# %%
# A short run
# -----------
# Every system starts from the same weights and walks the same minibatches; the
# report checks that they all end the epoch with the same loss.

# The same as: python -m fastbp bench --workloads tiny small --dtypes float64
# --systems fastbp numpy sklearn floor --repeats 2 --json bench.json
arguments = ["--workloads", "tiny", "small", "--dtypes", "float64",
             "--systems", "fastbp", "numpy", "sklearn", "floor",
             "--repeats", "2"]
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "bench.json"
    status = fastbp.bench.main(arguments + ["--json", str(path)])
    results = json.loads(path.read_text())
assert status == 0, "a system ended the epoch with a different loss"

# %%
# The chart
# ---------
# Milliseconds per epoch (median of the timed rounds), log scale: lower is
# better.

records = results["comparison"]
workloads = list(dict.fromkeys(r["workload"] for r in records))
systems = list(dict.fromkeys(r["system"] for r in records))
names = {"fastbp": "fastbp", "numpy": "NumPy backend",
         "sklearn": "scikit-learn", "torch": "PyTorch", "floor": "GEMM floor"}
ms = {(r["workload"], r["system"]): r["median_s"] * 1e3 for r in records}
machine = results["machine"]

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
width = 0.8 / len(systems)
for k, system in enumerate(systems):
    offsets = np.arange(len(workloads)) + (k - (len(systems) - 1) / 2) * width
    bars = ax.bar(offsets, [ms[w, system] for w in workloads], width,
                  label=names.get(system, system))
    ax.bar_label(bars, fmt="%.3g", fontsize=8)
ax.set_xticks(np.arange(len(workloads)),
              [f"{w}\n{'-'.join(map(str, WORKLOADS[w][0]))}"
               for w in workloads])
ax.set_yscale("log")
ax.set_ylabel("ms per epoch (log scale)")
ax.set_title(f"One epoch of SGD, float64, {machine['cores']} cores "
             f"({machine['cpu']})", fontsize=10)
ax.legend()
ax.grid(axis="y", which="both", alpha=0.3)
plt.show()

# %%
# On these small networks an epoch of the NumPy backend or scikit-learn is
# mostly Python and per-call overhead, which fastbp's compiled epoch does not
# have: it runs close to the time of the matrix products alone, or below it on
# the tiniest network, where even the floor's NumPy calls cost more than the
# arithmetic.
