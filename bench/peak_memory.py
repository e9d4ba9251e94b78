"""Peak resident memory of fitting fastbp.MLPClassifier on a 1,000,000 x 100 float32 data set.

    python bench/peak_memory.py [--rows 1000000]

Reports the process's resident memory before the data exist (interpreter and libraries), the size of X
and of the model, and the peak during `fit` above that baseline; the target is a peak under
1.3 x (X + model). Linux only (reads /proc/self/status and getrusage's maximum resident size).
"""

import argparse
import resource

import numpy as np


def rss_bytes():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    args = parser.parse_args()

    from sklearn.preprocessing import LabelBinarizer  # noqa: F401  (imported by the fit anyway)

    import fastbp

    _ = fastbp.MLPClassifier  # load the estimators before the baseline
    baseline = rss_bytes()
    X = np.random.default_rng(0).standard_normal((args.rows, args.features), dtype=np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int8)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(64,), batch_size=256, max_iter=2, random_state=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = sum(a.nbytes for a in clf.coefs_ + clf.intercepts_)
    data = X.nbytes + y.nbytes
    above = peak - baseline
    print(f"baseline (interpreter, libraries) {baseline / 2**20:8.1f} MiB")
    print(f"X {X.nbytes / 2**20:.1f} MiB + y {y.nbytes / 2**20:.1f} MiB + model {model / 2**20:.2f} MiB")
    print(f"peak during fit, above baseline   {above / 2**20:8.1f} MiB = {above / (data + model):.3f} x (X + y + model)"
          f"  [target < 1.3]")
    print(f"training accuracy {clf.score(X[:100_000], y[:100_000]):.4f}")


if __name__ == "__main__":
    main()
