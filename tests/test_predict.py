"""Predictions: the core's blocked forward pass (`CoreNet.predict`) and the fast paths of `MLP.forward` and the
drop-ins' `predict_proba` / `predict` give what the checked paths give, refuse what those refuse with the same
errors, and do not depend on the thread count."""

import warnings

import numpy as np
import pandas as pd
import pytest

import fastbp
from _helpers import EVERY_ACTIVATION
from fastbp._core._network import PREDICT_FEW_ROWS


@pytest.mark.parametrize("n_rows", [1, PREDICT_FEW_ROWS, PREDICT_FEW_ROWS + 1, 255, 1000])
@pytest.mark.parametrize("activation", EVERY_ACTIVATION)
def test_forward_equals_the_reference_for_every_batch_size(activation, n_rows, dtype, rng):
    net = fastbp.MLP([7, 40, 30, 3], activation, "softmax", dtype=dtype, random_state=0)
    X = rng.randn(n_rows, 7).astype(dtype)
    tolerance = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(net.forward(X), net.copy(backend="numpy").forward(X), **tolerance)


@pytest.mark.parametrize("thread_invariant", [False, True])
def test_a_large_prediction_is_the_same_for_any_thread_count(thread_invariant, dtype, rng):
    """Rows go through the network in blocks fixed by the network, one thread a block: the thread count
    changes which thread takes a block, never the bits."""
    X = rng.randn(3000, 50).astype(dtype)
    results = [fastbp.MLP([50, 300, 120, 4], "relu", "softmax", dtype=dtype, random_state=0, n_threads=n,
                          thread_invariant=thread_invariant).forward(X) for n in (1, 2, 3)]
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_other_arrays_take_the_checked_path_to_the_same_result(rng):
    net = fastbp.MLP([6, 9, 2], "tanh", "logistic", random_state=0)
    X = rng.randn(40, 6)
    expected = net.forward(X)
    for other in (np.asfortranarray(X), X.astype(np.float32), X.tolist(), X[:, ::-1][:, ::-1], pd.DataFrame(X)):
        np.testing.assert_allclose(net.forward(other), expected, rtol=1e-6 if np.asarray(other).dtype == np.float32
                                   else 1e-15)
    assert net.forward_plain(X.tolist()) is None and net.forward_plain(X[:, :5]) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_plain_array_is_refused_naming_x(bad, rng):
    net = fastbp.MLP([6, 9, 2], random_state=0)
    for n_rows in (1, 500):
        X = rng.randn(n_rows, 6)
        X[n_rows // 2, 3] = bad
        assert net.forward_plain(X) is None
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.forward(X)


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    def classifier(**options):
        return fastbp.MLPClassifier((8,), max_iter=20, random_state=0, **options)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"multiclass": classifier().fit(X, y), "binary": classifier().fit(X, np.where(y == 1, "b", "a")),
                  "multilabel": classifier().fit(X, np.c_[y == 1, y == 2]),
                  "float32": classifier(dtype="float32").fit(X, y),
                  "regressor": fastbp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(
                      X[:, :3], X[:, 3])}
    return models, X


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "float32", "regressor"])
def test_the_drop_ins_fast_predictions_equal_scikit_learns(kind, fitted):
    models, X = fitted
    ours = models[kind]
    X = X[:, :3] if kind == "regressor" else X
    theirs = ours.to_sklearn()
    for rows in (X[:1], X[:2], X, np.asfortranarray(X), X.astype(np.float32)):
        predicted = ours.predict(rows)
        assert predicted.dtype == theirs.predict(rows).dtype
        if kind == "regressor":
            np.testing.assert_allclose(predicted, theirs.predict(rows), rtol=1e-12)
            continue
        np.testing.assert_array_equal(predicted, theirs.predict(rows))
        np.testing.assert_allclose(ours.predict_proba(rows), theirs.predict_proba(rows), rtol=1e-5 if
                                   kind == "float32" else 1e-12, atol=1e-7)


def test_the_drop_ins_refuse_bad_rows_with_scikit_learns_errors(fitted):
    models, X = fitted
    clf = models["multiclass"]
    for bad, message in ((np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")):
        rows = X[:3].copy()
        rows[1, 2] = bad
        with pytest.raises(ValueError, match=message):
            clf.predict_proba(rows)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4 features as input"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        clf.predict(X[:0])


def test_feature_names_are_still_checked(fitted):
    _, X = fitted
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = fastbp.MLPClassifier((8,), max_iter=5, random_state=0).fit(frame, (X[:, 0] > 5.8).astype(int))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict_proba(X)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        clf.predict_proba(frame.rename(columns={"a": "z"}))
