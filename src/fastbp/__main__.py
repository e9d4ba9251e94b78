"""`python -m fastbp`: train a 30-16-1 logistic network on breast-cancer, on both backends, and compare.

`python -m fastbp bench [options]` runs the comparison benchmark instead (see `fastbp.bench`).

The data ship with scikit-learn (no network). Training is plain minibatch gradient descent,
W <- W - lr * dJ/dW, run by `fastbp.Trainer`: one compiled call per epoch on the Cython backend, a Python
loop over minibatches on the NumPy reference.
"""

import argparse
import sys

import numpy as np

from fastbp.datasets import load_breast_cancer_split
from fastbp.network import MLP
from fastbp.optim import SGD
from fastbp.trainer import Trainer


def train(backend, X, Y, args, verbose):
    """A trained network and its median seconds per epoch."""
    net = MLP([30, 16, 1], activation="logistic", output="logistic", dtype=args.dtype, random_state=0,
              backend=backend)
    trainer = Trainer(net, SGD(args.learning_rate, momentum=0.0, nesterov=False), batch_size=args.batch_size,
                      max_epochs=args.epochs, random_state=0, verbose=verbose)
    history = trainer.fit(X, Y)
    return net, float(np.median(history.time))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from fastbp.bench import main as bench

        return bench(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m fastbp", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args(argv)

    X_train, Y_train, X_test, Y_test = load_breast_cancer_split()
    X_train, Y_train = X_train.astype(args.dtype), Y_train.astype(args.dtype)
    print(f"breast-cancer: {X_train.shape[0]} training and {X_test.shape[0]} held-out samples, "
          f"{X_train.shape[1]} features; network 30-16-1, logistic hidden and output, BCE, "
          f"shuffled minibatches of {args.batch_size}, learning rate {args.learning_rate}, {args.epochs} epochs, "
          f"{args.dtype}")

    results = {}
    for backend in ("cython", "numpy"):
        print(f"{backend} backend:", flush=True)
        net, seconds = train(backend, X_train, Y_train, args, verbose=1 if backend == "cython" else 0)
        accuracy = float(np.mean(net.predict(X_test) == Y_test))
        results[backend] = (accuracy, seconds)
        print(f"  held-out accuracy {accuracy:.4f}, {seconds * 1e3:.3f} ms per epoch (median)")

    (acc_c, t_c), (acc_n, t_n) = results["cython"], results["numpy"]
    print(f"\nheld-out accuracy: cython {acc_c:.4f}, numpy {acc_n:.4f}")
    print(f"time per epoch:    cython {t_c * 1e3:.3f} ms, numpy {t_n * 1e3:.3f} ms "
          f"(cython/numpy = {t_c / t_n:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
