"""Wall time of `fit` on sparse X: fastbp on CSR, scikit-learn on the same CSR, fastbp on the dense matrix.

    python bench/sparse_fit.py --case 20k-5k-1%                 # each case fits within a minute; run them apart
    python bench/sparse_fit.py --case 20k-5k-5% --repeats 5 --systems fastbp sklearn
    python bench/sparse_fit.py --list

Every case fits ``MLPClassifier(hidden_layer_sizes=(64,))`` with scikit-learn's defaults otherwise (adam,
batches of 200) for a fixed number of epochs (tol=0, n_iter_no_change=inf) and the same random_state, so all
systems follow the same trajectory: the script checks that they predict the same labels. Binary labels come
from a linear rule on X. The systems alternate round by round after one warm-up fit each; the table gives
the median seconds per fit and scikit-learn's time over each system's (higher is faster than scikit-learn).
"fastbp-dense" fits X.toarray(), made once before timing; cases whose dense matrix would not fit in memory
leave it out. Before each fit the script busy-waits 0.2 s, as `python -m fastbp bench` does: thread pools
(OpenBLAS's, OpenMP's) keep spinning for a while after their last call and would take cores from whichever
fit runs next. Every fit's time is printed too, for medians over several runs, with the share of the
machine's CPU time that other processes took meanwhile (from /proc on Linux): on a shared machine a busy
neighbour slows OpenMP's spinning threads several times over, and such fits are not this code's speed.

glibc's malloc serves blocks above its mmap threshold (128 kB at first) with fresh pages from mmap, until
freeing such a block raises the threshold to its size (up to 32 MB). scikit-learn allocates temporaries the
size of W at every minibatch: measured here, its fit ran 1.7x faster once the threshold had been raised
by an earlier large block, which whatever ran before in the process may or may not have done. The script
raises it first (allocates and frees 32 MB), so every system runs in that state, the faster one for
scikit-learn; fastbp's times do not change.
"""

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import scipy.sparse
from sklearn import neural_network

import fastbp

# name: (rows, features, density, dtype, epochs, dense system included)
CASES = {
    "20k-5k-0.1%": (20_000, 5_000, 0.001, "float64", 5, True),
    "20k-5k-1%": (20_000, 5_000, 0.01, "float64", 5, True),
    "20k-5k-5%": (20_000, 5_000, 0.05, "float64", 3, True),
    # Text-like: a bag-of-words shape whose dense matrix (16 GB) does not fit.
    "100k-20k-0.25%": (100_000, 20_000, 0.0025, "float64", 1, False),
    "100k-20k-0.25%-f32": (100_000, 20_000, 0.0025, "float32", 1, False),
}
SYSTEMS = ("fastbp", "sklearn", "fastbp-dense")


def make_data(rows, features, density, dtype, seed=0):
    """CSR X with rows * features * density nonzeros spread evenly over the rows at random columns, values in
    [0, 1) (tf-idf-like, unnormalised), and binary labels from a random linear rule."""
    rng = np.random.default_rng(seed)
    nnz = int(rows * features * density)
    indptr = np.arange(rows + 1, dtype=np.int64) * nnz // rows
    X = scipy.sparse.csr_matrix((rng.random(nnz).astype(dtype), rng.integers(0, features, nnz, dtype=np.int32),
                                 indptr.astype(np.int32)), shape=(rows, features))
    score = X @ rng.standard_normal(features)
    return X, (score > np.median(score)).astype(np.int64)


def cpu_ticks():
    """(busy ticks of every CPU, ticks of this process), or None where /proc is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(fields) - fields[3] - fields[4], int(own[11]) + int(own[12])  # all but idle and iowait


def settle(seconds=0.2):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def timed_fit(estimator, X, y):
    """(seconds, share of the machine's CPU time that other processes used meanwhile, or nan)."""
    settle()
    before, start = cpu_ticks(), time.perf_counter()
    estimator.fit(X, y)
    seconds, after = time.perf_counter() - start, cpu_ticks()
    if before is None or after is None:
        return seconds, float("nan")
    others = (after[0] - before[0]) - (after[1] - before[1])
    return seconds, max(0.0, others / (seconds * os.sysconf("SC_CLK_TCK") * os.cpu_count()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES))
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args()
    if args.list or args.case is None:
        for name, (rows, features, density, dtype, epochs, dense) in CASES.items():
            print(f"{name:<20} {rows} x {features} at density {density}, {dtype}, {epochs} epochs"
                  f"{'' if dense else ', no dense system'}")
        return
    rows, features, density, dtype, epochs, with_dense = CASES[args.case]
    np.ones(4 << 20).sum()  # 32 MB, allocated and freed: see the module docstring
    systems = [s for s in args.systems if with_dense or s != "fastbp-dense"]
    X, y = make_data(rows, features, density, dtype)
    inputs = {"fastbp": X, "sklearn": X, "fastbp-dense": X.toarray() if "fastbp-dense" in systems else None}
    params = dict(hidden_layer_sizes=(64,), max_iter=epochs, tol=0.0, n_iter_no_change=np.inf, random_state=0)
    make = {"fastbp": lambda: fastbp.MLPClassifier(**params), "fastbp-dense": lambda: fastbp.MLPClassifier(**params),
            "sklearn": lambda: neural_network.MLPClassifier(**params)}
    warnings.simplefilter("ignore")  # ConvergenceWarning: the epoch count is fixed on purpose
    times, others, fitted = {name: [] for name in systems}, {name: [] for name in systems}, {}
    for round_ in range(args.repeats + 1):
        for name in systems:
            fitted[name] = make[name]()
            seconds, share = timed_fit(fitted[name], inputs[name], y)
            if round_:  # round 0 warms up
                times[name].append(seconds)
                others[name].append(share)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.case}: {rows} x {features} {dtype} CSR at density {density} ({X.nnz} nonzeros), hidden (64,), "
          f"adam, batch 200, {epochs} epochs; median of {args.repeats} fits after a warm-up")
    print(f"{'system':<14} {'seconds':>9} {'sklearn / system':>17} {'same labels as sklearn':>23}")
    reference = fitted["sklearn"].predict(X[:5000]) if "sklearn" in fitted else None
    for name in systems:
        agree = "" if reference is None else f"{np.mean(fitted[name].predict(inputs[name][:5000]) == reference):.4f}"
        ratio = f"{medians['sklearn'] / medians[name]:.2f}" if "sklearn" in medians else ""
        print(f"{name:<14} {medians[name]:9.3f} {ratio:>17} {agree:>23}")
    for name in systems:
        print(f"{name} seconds: " + " ".join(f"{t:.3f}" for t in times[name]) + "; other processes' CPU share: "
              + " ".join(f"{share:.2f}" for share in others[name]))


if __name__ == "__main__":
    main()
