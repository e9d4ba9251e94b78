"""The tabular estimators' ONNX export: the columns' encoding (quantile transform, codes, indicators) and the
network, run by onnxruntime against the estimator's own predict on tables with ties, missing values and values
never seen in training."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import fastbp
from fastbp.export import Graph
from fastbp.tabular.export import encoding, normal_quantile

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'fastbp[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'fastbp[onnx]'")

SMALL = {"ensemble_size": 4, "hidden_layer_sizes": (16, 16), "d_embedding": 4, "n_bins": 8, "batch_size": 64,
         "max_epochs": 3, "n_threads": 1, "random_state": 0}


def table(n=500, seed=0):
    """Numeric columns (one of few distinct values: repeated quantiles), integer-coded and bool categorical ones,
    a constant column, missing values in a numeric and a categorical column."""
    rng = np.random.RandomState(seed)
    X = pd.DataFrame({"x": rng.randn(n) * 3, "steps": rng.choice([0.0, 1.0, 1.0, 1.0, 2.5, 7.0], n),
                      "k": rng.choice([1, 2, 3, 7], n).astype(float), "flag": rng.rand(n) < 0.5,
                      "constant": np.ones(n)})
    X.loc[rng.rand(n) < 0.1, "x"] = np.nan
    X.loc[rng.rand(n) < 0.1, "k"] = np.nan
    y = np.nan_to_num(X["x"].to_numpy()) + X["steps"] ** 0.5 + (X["k"] == 2) - 0.5 * X["flag"]
    return X, y.to_numpy()


def run(model, X):
    session = ort.InferenceSession(model.SerializeToString())
    return session.run(None, {"X": np.asarray(X, dtype=np.float64)})


def graph_of(build, n_columns):
    graph = Graph(np.float64)
    out = graph.op("Identity", build(graph, "X"), output="out")
    helper = graph.onnx.helper
    return graph.model([helper.make_tensor_value_info("X", graph.tensor_type(), [None, n_columns])],
                       [helper.make_tensor_value_info(out, graph.tensor_type(), [None, None])], 17, "test")


def test_the_graphs_normal_quantile_is_scipys_within_its_approximation():
    p = np.concatenate([np.linspace(1e-7, 1 - 1e-7, 20001), np.logspace(-7, -1.3, 500), 1 - np.logspace(-7, -1.3, 500)])
    out, = run(graph_of(normal_quantile, 1), p[:, None])
    exact = stats.norm.ppf(p)[:, None]
    assert np.max(np.abs(out - exact) / np.maximum(np.abs(exact), 1)) < 2e-9


def test_the_encoding_is_the_columns_transform():
    """Quantile scores (ties split as scikit-learn splits them, the bounds, the clip), codes (unknown -1, the
    missing level) and indicators, for training rows and for values beyond the training range."""
    X, y = table()
    reg = fastbp.TabularRegressor(**SMALL, categorical_features=["k", "flag"]).fit(X, y)
    columns = reg.columns_
    X_new, _ = table(300, seed=1)
    X_new.loc[:9, "x"] = [-50, 50, np.nan, 0, 1e-300, -1e-9, 2.5, 1.0, 0.0, 7.0]
    X_new.loc[:9, "steps"] = [0.0, 1.0, 2.5, 7.0, 7.0 + 1e-8, -1, 100, 1.0 - 1e-8, 0.5, 3.0]
    X_new.loc[:4, "k"] = [5, np.nan, 1, 7, -1]
    for rows in (X, X_new):
        encoded, = run(graph_of(lambda graph, x: encoding(graph, columns, x, np.float64), X.shape[1]), rows)
        expected = columns.transform(rows)
        assert encoded.shape == expected.shape == (len(rows), 2 + 2 + 1)
        np.testing.assert_allclose(encoded, expected, rtol=0, atol=1e-8)
        np.testing.assert_array_equal(encoded[:, 2:], expected[:, 2:])  # codes and indicators exactly


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_regressor_exports_with_its_preprocessing(dtype):
    X, y = table()
    reg = fastbp.TabularRegressor(**SMALL, dtype=dtype, categorical_features=["k", "flag"]).fit(X, 1000 * y + 5)
    X_new, _ = table(200, seed=2)
    X_new.loc[:3, "k"] = 9  # never seen
    prediction, = run(fastbp.to_onnx(reg), X_new)
    assert prediction.dtype == np.float64 and prediction.shape == (200,)
    np.testing.assert_allclose(prediction, reg.predict(X_new), rtol=1e-5 if dtype == "float32" else 1e-9,
                               atol=1e-3 if dtype == "float32" else 1e-7)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_classifier_exports_labels_and_probabilities(n_classes):
    X, y = table()
    labels = np.array(["low", "mid", "high"])[np.digitize(y, np.quantile(y, [0.5, 0.8][:n_classes - 1]))]
    clf = fastbp.TabularClassifier(**SMALL, categorical_features=["k", "flag"]).fit(X, labels)
    label, probabilities = run(clf.to_onnx(), X)
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), atol=1e-5)
    agree = label == clf.predict(X)
    assert agree.mean() > 0.99  # float32 ties at 0.5 aside
    assert np.all(np.abs(probabilities[~agree].max(axis=1) - np.sort(probabilities[~agree], axis=1)[:, -2]) < 1e-5)


def test_string_categories_are_refused_by_name_and_a_table_without_signal_exports():
    X, y = table()
    X["color"] = np.where(y > 0, "red", "blue")
    reg = fastbp.TabularRegressor(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="categorical column 'color' has levels that are not numbers"):
        reg.to_onnx()
    flat = fastbp.TabularRegressor(**SMALL).fit(pd.DataFrame({"c": np.ones(50)}), np.arange(50.0))
    prediction, = run(flat.to_onnx(), np.ones((3, 1)))
    np.testing.assert_allclose(prediction, flat.predict(pd.DataFrame({"c": np.ones(3)})), rtol=1e-5)


def test_the_user_guides_export_example_runs():
    from _helpers import doc_code_blocks

    block = next(block for block in doc_code_blocks("user_guide/tabular.rst") if "onnxruntime" in block)
    X, y = table()
    reg = fastbp.TabularRegressor(**SMALL, categorical_features=["k", "flag"]).fit(X, y)
    namespace = {"reg": reg, "df_test": X.iloc[:50]}
    exec(block, namespace)
    np.testing.assert_allclose(namespace["prediction"], reg.predict(X.iloc[:50]), rtol=1e-5, atol=1e-5)
