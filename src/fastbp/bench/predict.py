"""The realistic suite's predict section: a fitted network's predictions, one row at a time (behind a service)
and 10,000 rows at once, for fastbp's drop-in (`predict_proba`, `predict` for the regression), `MLP.forward`,
scikit-learn's estimator with the same weights (`to_sklearn`), PyTorch's eager modules and onnxruntime
running `fastbp.to_onnx`'s graph (when installed). Every system must give the drop-in's predictions."""

import statistics
import time
import warnings

import numpy as np

from fastbp.bench.workloads import WORKLOADS, make_data, model_of
from fastbp.network import MLP

ONE_ROW_CALLS = 300      # calls per timed round of the one-row case
ROUNDS = 5
BIG_BATCH = 10_000
AGREE = {"float64": 1e-9, "float32": 1e-5}


def fitted(workload, dtype):
    """The drop-in fitted for one epoch on the workload (its weights are what every system predicts with)."""
    from fastbp.estimators import MLPClassifier, MLPRegressor

    sizes, _, batch_size = WORKLOADS[workload]
    X, Y = make_data(workload, dtype)
    options = dict(hidden_layer_sizes=sizes[1:-1], activation="relu", max_iter=1, batch_size=batch_size,
                   random_state=0, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge
        if model_of(workload).output == "identity":
            return MLPRegressor(**options).fit(X, Y.ravel()), X
        return MLPClassifier(**options).fit(X, Y.argmax(axis=1)), X


def systems(estimator, dtype):
    """{name: predict(X)} of every system, each returning the drop-in's output for X."""
    regression = not hasattr(estimator, "predict_proba")
    net = MLP([estimator.n_features_in_, *[W.shape[1] for W in estimator.coefs_]], "relu",
              estimator.out_activation_, dtype=dtype)
    net.flatten(estimator.coefs_, estimator.intercepts_, out=net.params)
    theirs = estimator.to_sklearn()
    found = {"fastbp": estimator.predict if regression else estimator.predict_proba,
             "MLP.forward": net.forward if not regression else (lambda X: net.forward(X).ravel()),
             "sklearn": theirs.predict if regression else theirs.predict_proba}
    try:
        import torch
    except ImportError:
        pass
    else:
        found["torch"] = _torch_predict(torch, estimator, regression)
    try:
        import onnxruntime

        from fastbp.export import to_onnx
    except ImportError:
        pass
    else:
        session = onnxruntime.InferenceSession(to_onnx(estimator).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        output = "prediction" if regression else "probabilities"
        found["onnxruntime"] = lambda X: session.run([output], {"X": X})[0]
    return found


def _torch_predict(torch, estimator, regression):
    layers = []
    for l, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        linear = torch.nn.Linear(*W.shape, dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()] if l < len(estimator.coefs_) - 1 else [linear]
    if not regression:
        layers.append(torch.nn.Softmax(dim=1))
    model = torch.nn.Sequential(*layers).eval()

    def predict(X):
        with torch.no_grad():
            out = model(torch.from_numpy(X)).numpy()
        return out.ravel() if regression else out

    return predict


def _median_seconds(function, X, calls, settle):
    times = []
    for _ in range(ROUNDS):
        settle()
        start = time.perf_counter()
        for _ in range(calls):
            function(X)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def predict_section(workloads, dtypes, settle, log):
    """Time every system's predictions on one row and on BIG_BATCH rows; returns the records."""
    records = []
    for workload in workloads:
        for dtype in dtypes:
            estimator, X = fitted(workload, dtype)
            one = np.ascontiguousarray(X[:1])
            big = np.ascontiguousarray(np.resize(X, (BIG_BATCH, X.shape[1])))
            found = systems(estimator, dtype)
            expected_one, expected_big = found["fastbp"](one), found["fastbp"](big)
            rows = []
            for name, predict in found.items():
                for _ in range(20):  # warm-up: first calls, caches, thread pools
                    predict(one)
                predict(big)
                agree = all(np.abs(np.asarray(predict(x), dtype=np.float64) - e).max() <= AGREE[dtype]
                            for x, e in ((one, expected_one), (big, expected_big)))
                rows.append({"workload": workload, "dtype": dtype, "system": name, "agrees": bool(agree),
                             "one_row_us": 1e6 * _median_seconds(predict, one, ONE_ROW_CALLS, settle),
                             "big_batch_ms": 1e3 * _median_seconds(predict, big, 1, settle)})
            for row in rows:
                for base in ("sklearn", "onnxruntime"):
                    other = next((r for r in rows if r["system"] == base), None)
                    if other is not None and base != row["system"]:
                        row[f"one_row_vs_{base}"] = row["one_row_us"] / other["one_row_us"]
                        row[f"big_batch_vs_{base}"] = row["big_batch_ms"] / other["big_batch_ms"]
            records += rows
            log(_table(workload, dtype, rows))
    return records


def _table(workload, dtype, rows):
    lines = [f"\npredict {workload} {'-'.join(map(str, WORKLOADS[workload][0]))}, {dtype}",
             f"  {'system':<12} {'1 row us':>9} {'vs sklearn':>10} {f'{BIG_BATCH} rows ms':>15} {'vs sklearn':>10} "
             f"{'vs onnxrt':>9}"]
    def ratio(r, key):
        return f"{r[key]:10.3f}" if key in r else f"{'':>10}"

    for r in rows:
        lines.append(f"  {r['system']:<12} {r['one_row_us']:9.1f} {ratio(r, 'one_row_vs_sklearn')} "
                     f"{r['big_batch_ms']:15.3f} {ratio(r, 'big_batch_vs_sklearn')} "
                     f"{ratio(r, 'big_batch_vs_onnxruntime')[1:]}" + ("" if r["agrees"] else "  (differs!)"))
    return "\n".join(lines)
