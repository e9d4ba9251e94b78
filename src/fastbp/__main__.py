"""`python -m fastbp`: train a 30-16-1 logistic network on breast-cancer, on both backends, and compare.

`python -m fastbp bench [options]` runs the comparison benchmark instead (see `fastbp.bench`).

The data ship with scikit-learn (no network). Training is plain minibatch gradient descent,
W <- W - lr * dJ/dW, run by `fastbp.Trainer`: one compiled call per epoch on the Cython backend, a Python
loop over minibatches on the NumPy reference.
"""

import argparse
import sys

import numpy as np

from fastbp._version import __version__
from fastbp.callbacks import ProgressBar
from fastbp.datasets import load_breast_cancer_split
from fastbp.network import MLP
from fastbp.optim import SGD
from fastbp.trainer import Trainer

BACKENDS = {"cython": "compiled core", "numpy": "NumPy reference"}


def train(backend, X, Y, args):
    """The trained network and its history, with a progress bar (on standard error) while it trains."""
    net = MLP([30, 16, 1], activation="logistic", output="logistic", dtype=args.dtype, random_state=0,
              backend=backend)
    trainer = Trainer(net, SGD(args.learning_rate, momentum=0.0, nesterov=False), batch_size=args.batch_size,
                      max_epochs=args.epochs, random_state=0, callbacks=[ProgressBar(desc=f"{backend:<6}")])
    return net, trainer.fit(X, Y)


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
    print(f"fastbp {__version__}: a 30-16-1 network (logistic units, binary cross-entropy) on\n"
          f"scikit-learn's breast-cancer data, {X_train.shape[0]} training and {X_test.shape[0]} held-out "
          f"samples;\nSGD with learning rate {args.learning_rate}, shuffled minibatches of {args.batch_size}, "
          f"{args.epochs} epochs, {args.dtype}", flush=True)

    rows = {}
    for backend in BACKENDS:
        net, history = train(backend, X_train, Y_train, args)
        accuracy = float(np.mean(net.predict(X_test) == Y_test))
        rows[backend] = (accuracy, history.loss[-1], float(np.median(history.time)))

    print(f"\n{'backend':<24}{'held-out accuracy':>18}{'last epoch loss':>17}{'ms/epoch, median':>18}")
    for backend, (accuracy, loss, seconds) in rows.items():
        print(f"{backend + ' (' + BACKENDS[backend] + ')':<24}{accuracy:>18.4f}{loss:>17.6f}{seconds * 1e3:>18.3f}")
    ratio = rows["numpy"][2] / rows["cython"][2]
    print(f"The compiled core ran an epoch {ratio:.1f} times as fast as the NumPy reference.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
