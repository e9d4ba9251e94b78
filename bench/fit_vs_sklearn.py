"""Wall time of `fit`: fastbp.MLPClassifier against scikit-learn's, identical parameters, side by side.

    python bench/fit_vs_sklearn.py                       # every workload, float64 and float32, then digits
    python bench/fit_vs_sklearn.py --workloads tiny small --dtypes float64 --repeats 5
    python bench/fit_vs_sklearn.py --workloads --repeats 9   # only the digits case

Two configurations on the plain-SGD workloads of the performance page (their hidden layers, rows and batch size):
"adam-relu" is scikit-learn's default solver and activation, "sgd-logistic" plain minibatch SGD with
logistic units. Both estimators get the same parameters and random_state, run a fixed number of epochs
(tol=0, n_iter_no_change=inf) and so follow the same trajectory: the script checks that they predict the
same labels. The systems alternate round by round after one warm-up fit each; the table gives median
seconds per fit and scikit-learn / fastbp (higher is better for fastbp).

Then the most common fit of all: the drop-in with its defaults on scikit-learn's digits
(``MLPClassifier(max_iter=30, random_state=0)``, X / 16), fastbp with the default thread count and with
``n_threads=1`` next to scikit-learn, round by round.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn import neural_network

import fastbp
from workloads import WORKLOADS, make_data

CONFIGS = {
    "adam-relu": dict(solver="adam", activation="relu"),
    "sgd-logistic": dict(solver="sgd", activation="logistic", learning_rate_init=0.1),
}
EPOCHS = {"tiny": 20, "small": 5, "medium": 2, "large": 2}


def timed_fit(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def compare(workload, dtype, config, repeats):
    sizes, _, batch_size = WORKLOADS[workload]
    X, Y = make_data(workload, dtype)
    y = Y.ravel().astype(int)
    params = dict(CONFIGS[config], hidden_layer_sizes=tuple(sizes[1:-1]), batch_size=batch_size,
                  max_iter=EPOCHS[workload], tol=0.0, n_iter_no_change=np.inf, random_state=0)
    systems = {"fastbp": fastbp.MLPClassifier(**params), "sklearn": neural_network.MLPClassifier(**params)}
    times = {name: [] for name in systems}
    for round_ in range(repeats + 1):
        for name, estimator in systems.items():
            seconds = timed_fit(estimator, X, y)
            if round_:  # round 0 warms up
                times[name].append(seconds)
    predictions = {name: estimator.predict(X) for name, estimator in systems.items()}
    agree = np.mean(predictions["fastbp"] == predictions["sklearn"])
    return {name: statistics.median(t) for name, t in times.items()}, agree


def digits_defaults(repeats):
    """{system: median seconds} of the default fit on digits: fastbp (default threads, one thread), sklearn."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16
    systems = {"fastbp": lambda: fastbp.MLPClassifier(max_iter=30, random_state=0),
               "fastbp, 1 thread": lambda: fastbp.MLPClassifier(max_iter=30, random_state=0, n_threads=1),
               "sklearn": lambda: neural_network.MLPClassifier(max_iter=30, random_state=0)}
    times = {name: [] for name in systems}
    for round_ in range(repeats + 1):
        for name, make in systems.items():
            seconds = timed_fit(make(), X, y)
            if round_:  # round 0 warms up
                times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # ConvergenceWarning: the epoch count is fixed on purpose
    print(f"{'workload':<8} {'dtype':<8} {'config':<13} {'epochs':>6} {'fastbp s':>10} {'sklearn s':>10} "
          f"{'sklearn/fastbp':>15} {'same labels':>12}")
    for workload in args.workloads:
        for dtype in args.dtypes:
            for config in args.configs:
                medians, agree = compare(workload, dtype, config, args.repeats)
                print(f"{workload:<8} {dtype:<8} {config:<13} {EPOCHS[workload]:>6} {medians['fastbp']:10.4f} "
                      f"{medians['sklearn']:10.4f} {medians['sklearn'] / medians['fastbp']:15.1f} {agree:12.4f}",
                      flush=True)
    medians = digits_defaults(args.repeats)
    print(f"\ndigits, MLPClassifier(max_iter=30, random_state=0) on X / 16, median of {args.repeats} fits:")
    for name, seconds in medians.items():
        print(f"  {name:<17} {seconds:8.4f} s")
    print(f"  sklearn / fastbp: {medians['sklearn'] / medians['fastbp']:.1f}; fastbp default threads / one thread: "
          f"{medians['fastbp'] / medians['fastbp, 1 thread']:.3f}")


if __name__ == "__main__":
    main()
