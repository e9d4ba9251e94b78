"""Bitwise fingerprints of what fastbp computes, to hold a refactoring to the results of the code before it.

    python bench/bitwise.py --write before.json     # with the old build installed
    python bench/bitwise.py --check before.json     # with the new one: every case must match

Each case is a deterministic computation through the public API (forward passes and gradients for every
activation, output and dtype, dense and sparse; Trainer fits with every optimizer, schedule, penalty and
sample weights, fused plain SGD included; the drop-ins with every solver; the NumPy backend; ensembles of every
form and models with embeddings and categorical columns, where the build has them), in both
thread modes and at 1 and 2 threads where threads apply, reduced to a SHA-256 of the bytes of its
results. Results are reproducible on one machine (same CPU, BLAS and thread count), not across machines:
compare two builds on the same machine. The check exits 1 and names every case that differs.
"""

import argparse
import hashlib
import inspect
import json
import sys
import warnings

import numpy as np
import scipy.sparse

import fastbp

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUTPUTS = ("identity", "logistic", "softmax", "exp")
DTYPES = ("float64", "float32")
THREADS = ((1, False), (2, False), (1, True), (2, True))  # (n_threads, thread_invariant)


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
    return h.hexdigest()


def targets(output, n, k, rng):
    if output == "logistic":
        return rng.rand(n, k)
    if output == "softmax":
        return np.eye(k)[rng.randint(0, k, n)]
    if output == "exp":
        return rng.poisson(1.5, (n, k)).astype(float)
    return rng.randn(n, k)


def passes():
    """Forward, logits, loss and gradient: large enough that every product crosses the thread thresholds."""
    sizes, n = [50, 300, 120, 4], 600
    for activation in ACTIVATIONS:
        for output in OUTPUTS:
            for dtype in DTYPES:
                for n_threads, invariant in THREADS:
                    rng = np.random.RandomState(0)
                    X = rng.randn(n, sizes[0])
                    Y = targets(output, n, sizes[-1], rng)
                    sw = rng.rand(n)
                    net = fastbp.MLP(sizes, activation, output, dtype=dtype, random_state=0, n_threads=n_threads,
                                     thread_invariant=invariant)
                    loss, grad = net.loss_and_grad(X, Y, sw, alpha=0.1)
                    yield (f"pass/{activation}/{output}/{dtype}/{n_threads}/{invariant}",
                           digest(net.forward(X), net.logits(X), [net.loss(X, Y, sw, 0.1)], [loss], grad))
    for dtype in DTYPES:
        rng = np.random.RandomState(1)
        X = scipy.sparse.random(300, 200, density=0.05, format="csr", random_state=rng)
        Y = targets("softmax", 300, 3, rng)
        for n_threads, invariant in THREADS:
            net = fastbp.MLP([200, 64, 3], "relu", "softmax", dtype=dtype, random_state=0, n_threads=n_threads,
                             thread_invariant=invariant)
            loss, grad = net.loss_and_grad(X, Y, alpha=0.01)
            yield f"pass/sparse/{dtype}/{n_threads}/{invariant}", digest(net.forward(X), [loss], grad)
    net = fastbp.MLP([6, 5, 2], "tanh", "softmax", random_state=0, backend="numpy")
    rng = np.random.RandomState(2)
    X, Y = rng.randn(40, 6), targets("softmax", 40, 2, rng)
    loss, grad = net.loss_and_grad(X, Y, rng.rand(40), alpha=0.1)
    yield "pass/numpy-backend", digest(net.forward(X), [loss], grad)


# name: (optimizer factory, trainer options)
TRAININGS = {
    "plain-sgd": (lambda: fastbp.SGD(0.05, momentum=0.0), {}),
    "plain-sgd-penalty": (lambda: fastbp.SGD(0.05, momentum=0.0), {"alpha": 1e-3}),
    "momentum": (lambda: fastbp.SGD(0.05, momentum=0.9, nesterov=False), {"alpha": 1e-3}),
    "nesterov-invscaling": (lambda: fastbp.SGD(0.05), {"schedule": "invscaling", "power_t": 0.3}),
    "adaptive": (lambda: fastbp.SGD(0.05), {"schedule": "adaptive", "early_stopping": True,
                                            "validation_fraction": 0.2}),
    "adam": (lambda: fastbp.Adam(0.01), {"alpha": 1e-3, "validation_fraction": 0.2}),
    "adam-callable-schedule": (lambda: fastbp.Adam(0.01), {"schedule": lambda epoch: 0.01 / (1 + epoch)}),
}


def trainings():
    for name, (optimizer, options) in TRAININGS.items():
        for dtype in DTYPES:
            for n_threads, invariant in THREADS:
                for weighted in (False, True):
                    rng = np.random.RandomState(3)
                    X = rng.randn(500, 50)
                    Y = targets("logistic", 500, 2, rng)
                    sw = rng.rand(500) if weighted else None
                    net = fastbp.MLP([50, 300, 120, 2], "relu", dtype=dtype, random_state=0, n_threads=n_threads,
                                     thread_invariant=invariant)
                    trainer = fastbp.Trainer(net, optimizer(), batch_size=100, max_epochs=4, random_state=0, **options)
                    history = trainer.fit(X, Y, sw)
                    yield (f"train/{name}/{dtype}/{n_threads}/{invariant}/{weighted}",
                           digest(net.params, history.loss, history["learning_rate"],
                                  history.val_loss if "val_loss" in history.keys() else []))
    for dtype in DTYPES:
        rng = np.random.RandomState(4)
        X = scipy.sparse.random(400, 300, density=0.03, format="csr", random_state=rng)
        Y = targets("logistic", 400, 1, rng)
        for name in ("plain-sgd", "adam"):
            optimizer, _ = TRAININGS[name]
            net = fastbp.MLP([300, 32, 1], "tanh", dtype=dtype, random_state=0)
            history = fastbp.Trainer(net, optimizer(), batch_size=50, max_epochs=3, random_state=0).fit(X, Y)
            yield f"train/sparse/{name}/{dtype}", digest(net.params, history.loss)
    for name in ("momentum", "adam"):
        optimizer, options = TRAININGS[name]
        rng = np.random.RandomState(5)
        X, Y = rng.randn(120, 6), targets("identity", 120, 2, rng)
        net = fastbp.MLP([6, 8, 2], "tanh", "identity", random_state=0, backend="numpy")
        history = fastbp.Trainer(net, optimizer(), batch_size=16, max_epochs=3, random_state=0, **options).fit(X, Y)
        yield f"train/numpy-backend/{name}", digest(net.params, history.loss)


def estimators():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16
    y = y[:600]
    configs = {
        "adam": {}, "sgd": {"solver": "sgd", "learning_rate": "adaptive"},
        "sgd-invscaling": {"solver": "sgd", "learning_rate": "invscaling", "momentum": 0.5},
        "early-stopping": {"early_stopping": True}, "lbfgs": {"solver": "lbfgs"},
    }
    for name, params in configs.items():
        for dtype in DTYPES:
            for n_threads, invariant in ((1, False), (2, False), (2, True)):
                clf = fastbp.MLPClassifier(hidden_layer_sizes=(40,), max_iter=15, random_state=0, dtype=dtype,
                                           n_threads=n_threads, thread_invariant=invariant, **params).fit(X, y)
                yield (f"classifier/{name}/{dtype}/{n_threads}/{invariant}",
                       digest(*clf.coefs_, *clf.intercepts_, clf.predict_proba(X), getattr(clf, "loss_curve_", [])))
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(20,), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    yield "classifier/partial_fit", digest(*clf.coefs_, *clf.intercepts_)
    rng = np.random.RandomState(6)
    Xr = rng.randn(300, 8)
    for loss, yr in (("squared_error", Xr[:, 0] - Xr[:, 1] ** 2), ("poisson", rng.poisson(np.exp(Xr[:, 0] / 2)))):
        for solver in ("adam", "sgd", "lbfgs"):
            reg = fastbp.MLPRegressor(loss=loss, solver=solver, hidden_layer_sizes=(16,), max_iter=20,
                                      learning_rate_init=0.01 if solver != "lbfgs" else 0.001,
                                      random_state=0).fit(Xr, yr)
            yield f"regressor/{loss}/{solver}", digest(*reg.coefs_, *reg.intercepts_, reg.predict(Xr))


def staged():
    """Ensembles of every form and models with inputs (both embeddings, categorical columns): a pass with dropout
    and the penalty, the members' forward, and short AdamW and SGD fits. Skipped by builds without them."""
    parameters = inspect.signature(fastbp.MLP).parameters
    if "embedding" not in parameters or "categories" not in parameters:
        return
    rng = np.random.RandomState(7)
    numeric = rng.randn(300, 3)
    X = np.column_stack([numeric, rng.randint(-1, 4, 300), rng.randint(0, 5, 300)]).astype(float)
    Y = rng.randn(300, 2)
    embeddings = {"none": None, "ple": fastbp.embeddings.PiecewiseLinear(fastbp.embeddings.compute_bins(numeric, 6), 4,
                                                                          activation=True),
                  "periodic": fastbp.embeddings.Periodic(3, 4, n_frequencies=3)}
    for dtype in DTYPES:
        for k, form in ((1, "batch"), (3, "batch"), (3, "mini"), (3, "independent")):
            for name, embedding in embeddings.items():
                for categories in (None, [4, 5]):
                    if k == 1 and embedding is None and categories is None:
                        continue  # a plain model: the other groups'
                    x = X if categories else X[:, :3]
                    for n_threads, invariant in ((1, False), (2, False), (2, True)):
                        net = fastbp.MLP([x.shape[1], 32, 16, 2], "relu", "identity", random_state=0, dtype=dtype,
                                         ensemble_size=k, ensemble=form, embedding=embedding, categories=categories,
                                         dropout=0.1, n_threads=n_threads, thread_invariant=invariant)
                        loss, grad = net.loss_and_grad(x, Y, alpha=0.1, dropout_seed=1)
                        fits = []
                        for optimizer in (fastbp.AdamW(1e-2), fastbp.SGD(1e-2)):
                            copy = net.copy()
                            fastbp.Trainer(copy, optimizer, batch_size=64, max_epochs=2, random_state=0).fit(x, Y)
                            fits.append(copy.params)
                        yield (f"staged/{dtype}/{k}/{form}/{name}/{bool(categories)}/{n_threads}/{invariant}",
                               digest([loss], grad, net.forward(x, members=True), *fits))


def numpy_backend():
    """The NumPy reference backend: a pass of every output in both dtypes, with and without dropout, sparse X,
    ensembles and inputs, and fits with AdamW, clipping, a per-step schedule and dropout, and with SGD."""
    rng = np.random.RandomState(8)
    X = rng.randn(60, 5)
    sw = rng.rand(60)
    for output in OUTPUTS:
        Y = targets(output, 60, 3, rng)
        for dtype in DTYPES:
            for dropout in (0.0, 0.2):
                net = fastbp.MLP([5, 7, 6, 3], ["tanh", "relu"], output, dtype=dtype, random_state=0,
                                 backend="numpy", dropout=dropout)
                loss, grad = net.loss_and_grad(X, Y, sw, alpha=0.1, dropout_seed=3 if dropout else None)
                yield (f"numpy/pass/{output}/{dtype}/{dropout}",
                       digest(net.forward(X), net.logits(X), [loss, net.loss(X, Y, sw, 0.1)], grad))
    Xs = scipy.sparse.random(60, 20, density=0.1, format="csr", random_state=rng)
    Y = targets("softmax", 60, 3, rng)
    for dtype in DTYPES:
        net = fastbp.MLP([20, 8, 3], "relu", "softmax", dtype=dtype, random_state=0, backend="numpy")
        loss, grad = net.loss_and_grad(Xs, Y, alpha=0.01)
        yield f"numpy/pass/sparse/{dtype}", digest(net.forward(Xs), [loss], grad)
    parameters = inspect.signature(fastbp.MLP).parameters
    staged = {"ensemble": {"ensemble_size": 3}} if "ensemble_size" in parameters else {}
    if "embedding" in parameters:
        bins = fastbp.embeddings.compute_bins(X, 5)
        staged["inputs"] = {"ensemble_size": 2, "ensemble": "mini", "categories": [3],
                            "embedding": fastbp.embeddings.PiecewiseLinear(bins[:4], 3)}
    Yr = rng.randn(60, 2)
    for dtype in DTYPES:
        for name, options in {"plain": {}, **staged}.items():
            x = X.copy()
            if "categories" in options:
                x[:, 4] = rng.randint(-1, 4, 60)
            net = fastbp.MLP([5, 16, 8, 2], "relu", "identity", dtype=dtype, random_state=0, backend="numpy",
                             dropout=0.1, **options)
            loss, grad = net.loss_and_grad(x, Yr, sw, alpha=0.1, dropout_seed=2)
            fits = []
            for optimizer, settings in ((fastbp.AdamW(1e-2), {"clip_norm": 0.5, "schedule":
                                         fastbp.schedules.WarmupCosine(3, 10)}), (fastbp.SGD(1e-2), {"alpha": 1e-3})):
                copy = net.copy()
                history = fastbp.Trainer(copy, optimizer, batch_size=16, max_epochs=2, random_state=0,
                                         **settings).fit(x, Yr, sw)
                fits += [copy.params, history.loss, history["learning_rate"]]
            yield f"numpy/{name}/{dtype}", digest([loss], grad, *fits)


def fingerprints():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {}
        for group in (passes, trainings, estimators, staged, numpy_backend):
            results.update(group())
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE", help="write the fingerprints of this build to FILE")
    group.add_argument("--check", metavar="FILE", help="compare this build's fingerprints with FILE")
    args = parser.parse_args()
    results = fingerprints()
    if args.write:
        with open(args.write, "w") as f:
            json.dump({"fastbp": fastbp.__version__, "cases": results}, f, indent=1, sort_keys=True)
        print(f"{len(results)} cases written to {args.write}")
        return 0
    with open(args.check) as f:
        expected = json.load(f)["cases"]
    missing = sorted(set(expected) - set(results))
    different = sorted(name for name in expected if name in results and results[name] != expected[name])
    for name in different:
        print(f"DIFFERENT  {name}")
    for name in missing:
        print(f"MISSING    {name}")
    print(f"{len(expected) - len(different) - len(missing)} of {len(expected)} cases bitwise equal")
    return 1 if different or missing else 0


if __name__ == "__main__":
    sys.exit(main())
