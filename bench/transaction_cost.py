"""What all-or-nothing calls cost: a drop-in's `partial_fit` and `fit` with `fastbp._transaction.atomic` as built,
and with it replaced by a no-op, side by side, both dtypes.

    python bench/transaction_cost.py --repeats 30 --rounds 4

`partial_fit` of 200 rows on a 784-512-256-10 Adam classifier (535k parameters: the snapshot copies them and
Adam's two moments before each call), and a whole `fit` of the 30-16-1 network on breast cancer (30 epochs,
where a fit's one snapshot is nothing). Each round measures both variants, alternating which goes first; the
table gives the median of the rounds' medians and the ratio to the no-op (lower is better).
"""

import argparse
import contextlib
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning

import fastbp
import fastbp.estimators.base as estimator_base
import fastbp.trainer as trainer_module

ATOMIC = estimator_base.atomic


def use(atomic):
    estimator_base.atomic = trainer_module.atomic = atomic


def no_op(obj):
    return contextlib.nullcontext()


def partial_fit_case(dtype):
    rng = np.random.RandomState(0)
    X, y = rng.randn(200, 784).astype(dtype), rng.randint(0, 10, 200)
    est = fastbp.MLPClassifier((512, 256), dtype=dtype, random_state=0).partial_fit(X, y, classes=np.arange(10))
    return lambda: est.partial_fit(X, y)


def fit_case(dtype):
    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(dtype)
    est = fastbp.MLPClassifier((16,), activation="logistic", solver="sgd", batch_size=32, max_iter=30, tol=0,
                               n_iter_no_change=np.inf, random_state=0)
    return lambda: est.fit(X, y)


def median_seconds(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="calls per round and variant")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"{'case':<12} {'dtype':<8} {'atomic ms':>10} {'no-op ms':>10} {'ratio':>7}")
    for name, make in (("partial_fit", partial_fit_case), ("fit", fit_case)):
        for dtype in ("float64", "float32"):
            call = make(dtype)
            call()  # warm-up
            results = {"atomic": [], "no-op": []}
            for round_ in range(args.rounds):
                order = [("atomic", ATOMIC), ("no-op", no_op)]
                for label, atomic in order[::-1] if round_ % 2 else order:
                    use(atomic)
                    results[label].append(median_seconds(call, args.repeats))
            use(ATOMIC)
            ours, bare = statistics.median(results["atomic"]), statistics.median(results["no-op"])
            print(f"{name:<12} {dtype:<8} {ours * 1e3:>10.2f} {bare * 1e3:>10.2f} {ours / bare:>7.3f}")


if __name__ == "__main__":
    main()
