"""`python -m fastbp`: train a 30-16-1 logistic network on breast-cancer, on both backends, and compare.

The data ship with scikit-learn (no network). Each epoch is plain minibatch gradient descent on
`MLP.loss_and_grad`, looped in Python over minibatches; the fused Trainer will replace that loop.
"""

import argparse
import sys
import time

import numpy as np

from fastbp.network import MLP


def load_breast_cancer_split(random_state=0):
    """Standardised breast-cancer features, split 75/25 with stratification; targets as (n, 1) floats."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=random_state)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train), y_train.reshape(-1, 1).astype(float),
            scaler.transform(X_test), y_test.reshape(-1, 1).astype(float))


def train(net, X, Y, epochs, batch_size, learning_rate, progress=None):
    """Minibatch gradient descent, W <- W - lr * dJ/dW; returns seconds per epoch (median)."""
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        total = 0.0
        for lo in range(0, X.shape[0], batch_size):
            loss, grad = net.loss_and_grad(X[lo:lo + batch_size], Y[lo:lo + batch_size])
            net.params[:] -= learning_rate * grad
            total += loss * min(batch_size, X.shape[0] - lo)
        times.append(time.perf_counter() - start)
        if progress:
            progress(epoch, total / X.shape[0], times[-1])
    return float(np.median(times))


def main(argv=None):
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
          f"batch {args.batch_size}, learning rate {args.learning_rate}, {args.dtype}")

    def progress(epoch, loss, seconds):
        # One line per epoch, rewritten in place on a terminal; every 10th epoch kept in a log.
        line = f"  epoch {epoch + 1:4d}/{args.epochs}  loss {loss:.5f}  {seconds * 1e3:7.3f} ms"
        if sys.stdout.isatty():
            print("\r" + line, end="\n" if epoch == args.epochs - 1 else "", flush=True)
        elif epoch % 10 == 9 or epoch == 0:
            print(line)

    results = {}
    for backend in ("cython", "numpy"):
        net = MLP([30, 16, 1], activation="logistic", output="logistic", dtype=args.dtype, random_state=0,
                  backend=backend)
        print(f"{backend} backend:")
        seconds = train(net, X_train, Y_train, args.epochs, args.batch_size, args.learning_rate,
                        progress if backend == "cython" else None)
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
