"""The tabular estimators on data frames as people have them: numeric, categorical, string and bool columns,
missing values, categories unseen in training, constant columns; early stopping with the best weights kept."""

import pickle
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastbp
from fastbp.tabular.columns import Columns

SMALL = {"ensemble_size": 4, "hidden_layer_sizes": (32, 32), "d_embedding": 4, "n_bins": 8, "batch_size": 64,
         "max_epochs": 60, "patience": 8, "n_threads": 1}


def frame(n=600, seed=0, missing=0.0):
    """A table whose target depends on every kind of column, with a share `missing` of missing values."""
    rng = np.random.RandomState(seed)
    x = rng.randn(n)
    z = rng.rand(n) * 10
    color = rng.choice(["red", "green", "blue"], n)
    size = pd.Categorical(rng.choice(["S", "M", "L", "XL"], n), categories=["S", "M", "L", "XL"])
    flag = rng.rand(n) < 0.5
    y = (2 * x + np.sin(z) + (color == "red") * 1.5 - (np.asarray(size) == "XL") + flag * 0.7
         + 0.1 * rng.randn(n))
    X = pd.DataFrame({"x": x, "z": z, "color": pd.array(color, dtype="string"), "size": size, "flag": flag,
                      "constant": np.ones(n), "empty": np.full(n, np.nan)})
    if missing:
        for name in ("x", "color"):
            X.loc[rng.rand(n) < missing, name] = None
    return X, y


def r2(y, y_hat):
    return 1 - np.mean((y - y_hat) ** 2) / np.var(y)


def test_a_regressor_learns_from_every_kind_of_column_and_answers_in_the_targets_units():
    X, y = frame(missing=0.1)
    X_test, y_test = frame(300, seed=1, missing=0.1)
    reg = fastbp.TabularRegressor(random_state=0, **SMALL).fit(X, 1000 * y + 5000)
    pred = reg.predict(X_test)
    assert pred.shape == (300,) and r2(1000 * y_test + 5000, pred) > 0.85
    assert reg.feature_names_in_.tolist() == list(X.columns) and reg.n_features_in_ == 7
    # numeric x and z (the constant and empty columns carry nothing), then color, size, flag and x's indicator
    assert reg.columns_.n_numeric == 2 and reg.columns_.cardinalities == [4, 4, 2, 2]
    assert reg.network_.layer_sizes[0] == 6 and reg.network_.ensemble_size == 4
    members = reg.predict(X_test, members=True)
    assert members.shape == (300, 4)
    np.testing.assert_allclose(members.mean(axis=1), pred, rtol=1e-5)


def test_a_category_never_seen_in_training_is_unknown_not_an_error():
    X, y = frame()
    reg = fastbp.TabularRegressor(random_state=0, **SMALL).fit(X, y)
    new = X.iloc[:5].copy()
    new["color"] = pd.array(["purple"] * 5, dtype="string")
    other = new.copy()
    other["color"] = pd.array(["teal"] * 5, dtype="string")
    np.testing.assert_array_equal(reg.predict(new), reg.predict(other))  # both the all-zero one-hot
    assert not np.array_equal(reg.predict(new), reg.predict(X.iloc[:5]))


@pytest.mark.parametrize("labels", [["no", "yes"], ["a", "b", "c"]])
def test_a_classifier_gives_the_members_mean_probabilities(labels):
    X, y = frame(800)
    k = len(labels)
    target = np.asarray(labels, dtype=object)[np.digitize(y, np.quantile(y, np.linspace(0, 1, k + 1)[1:-1]))]
    clf = fastbp.TabularClassifier(random_state=0, **SMALL).fit(X[:600], target[:600])
    assert clf.classes_.tolist() == labels
    proba = clf.predict_proba(X[600:])
    assert proba.shape == (200, k)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    members = clf.predict_proba(X[600:], members=True)
    assert members.shape == (200, 4, k)
    np.testing.assert_allclose(members.mean(axis=1), proba, rtol=1e-5, atol=1e-6)
    assert np.mean(clf.predict(X[600:]) == target[600:]) > (0.85 if k == 2 else 0.7)
    assert clf.predict(X[600:], members=True).shape == (200, 4)


def test_early_stopping_keeps_the_best_epochs_weights():
    X, y = frame(400)
    X_val, y_val = frame(200, seed=2)
    reg = fastbp.TabularRegressor(random_state=0, **{**SMALL, "max_epochs": 200, "patience": 3})
    reg.fit(X, y, X_val=X_val, y_val=y_val)
    assert reg.n_epochs_ < 200 and reg.n_epochs_ == reg.best_epoch_ + 3 + 2
    assert len(reg.validation_scores_) == len(reg.loss_curve_) == reg.n_epochs_
    assert int(np.argmax(reg.validation_scores_)) == reg.best_epoch_
    # the weights kept are the best epoch's: their validation R^2 (in the standardized units) is the best score
    assert r2(y_val, reg.predict(X_val)) == pytest.approx(max(reg.validation_scores_), rel=1e-4)


def test_a_fit_is_reproducible_and_a_failed_fit_changes_nothing():
    X, y = frame(300)
    a = fastbp.TabularRegressor(random_state=3, **SMALL).fit(X, y)
    b = fastbp.TabularRegressor(random_state=3, **SMALL).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    before = a.predict(X)
    with pytest.raises(ValueError, match="y must be finite"):
        a.fit(X, np.full(300, np.nan))
    np.testing.assert_array_equal(a.predict(X), before)


def test_columns_are_named_checked_and_encoded_without_a_one_hot_matrix():
    rng = np.random.RandomState(0)
    n = 2000
    X = pd.DataFrame({"phone": np.char.add("555-", rng.randint(0, 5000, n).astype(str)), "minutes": rng.rand(n)})
    columns = Columns().fit(X)
    # The levels are the values seen at least twice; one seen once is unknown (-1), as one never seen.
    counts = Counter(X["phone"])
    levels = sorted(phone for phone, count in counts.items() if count >= 2)
    assert 0 < len(levels) < len(counts)
    assert columns.n_numeric == 1 and columns.cardinalities == [len(levels)]
    A = columns.transform(X)
    assert A.shape == (n, 2)  # one code per categorical column
    np.testing.assert_array_equal(A[:, 1], [levels.index(p) if p in levels else -1 for p in X["phone"]])
    ids = pd.DataFrame({"id": [f"row {i}" for i in range(n)], "minutes": X["minutes"]})
    assert Columns().fit(ids).cardinalities == []  # a level per row tells nothing: the column is left out
    assert Columns(categorical_features=["phone"]).fit(X).cardinalities == columns.cardinalities
    assert Columns(categorical_features=[0]).fit(X).cardinalities == columns.cardinalities
    assert Columns(categorical_features=[True, False]).fit(X).cardinalities == columns.cardinalities
    with pytest.raises(ValueError, match="column 'phone' is neither numeric nor categorical"):
        Columns(categorical_features=None).fit(X)
    with pytest.raises(ValueError, match="names column 'city', which X does not have"):
        Columns(categorical_features=["city"]).fit(X)
    with pytest.raises(ValueError, match="boolean mask has 3 entries; X has 2 columns"):
        Columns(categorical_features=[True, False, True]).fit(X)


def test_predicting_with_other_columns_is_refused_with_scikit_learns_message():
    X, y = frame(200)
    reg = fastbp.TabularRegressor(random_state=0, **{**SMALL, "max_epochs": 2}).fit(X, y)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        reg.predict(X[X.columns[::-1]])


TABULAR_CHECKED = [fastbp.TabularRegressor(random_state=0, dropout=0.0, **{**SMALL, "max_epochs": 20}),
                   fastbp.TabularClassifier(random_state=0, dropout=0.0, **{**SMALL, "max_epochs": 20})]


def tabular_expected_failures(estimator):
    """A row repeated k times is k rows to the validation split (which may put some of the copies on each side)
    and to the quantile transform (whose quantiles move), where a row of weight k is one: the fits differ."""
    reason = "the validation split and the quantiles count repeated rows as rows, not as weight"
    return {"check_sample_weight_equivalence_on_dense_data": reason}


@parametrize_with_checks(TABULAR_CHECKED, expected_failed_checks=tabular_expected_failures)
def test_the_tabular_estimators_pass_scikit_learns_checks(estimator, check):
    check(estimator)


def test_the_defaults_are_tabms_recipe():
    X, y = frame(300)
    reg = fastbp.TabularRegressor(random_state=0, max_epochs=2).fit(X, y)
    net = reg.network_
    assert net.ensemble_size == 32 and net.ensemble == "batch" and net.dtype == np.float32
    assert list(net.layer_sizes) == [5, 512, 512, 1] and net.dropout == 0.1 and net.activation == "relu"
    assert isinstance(net.embedding, fastbp.embeddings.PiecewiseLinear) and net.embedding.d_embedding == 16
    plain = fastbp.TabularRegressor(random_state=0, max_epochs=1, numeric_embedding=None).fit(X, y)
    assert list(plain.network_.layer_sizes) == [5, 512, 512, 512, 1] and plain.network_.embedding is None


def test_a_fitted_estimator_pickles_with_its_columns_and_predicts_the_same():
    X, y = frame(300, missing=0.1)
    clf = fastbp.TabularClassifier(random_state=0, **{**SMALL, "max_epochs": 5}).fit(X, np.where(y > 0, "hi", "lo"))
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.classes_.tolist() == ["hi", "lo"] and again.columns_.cardinalities == clf.columns_.cardinalities


def test_arrays_need_no_pandas():
    """pandas is not a dependency of fastbp: a NumPy table (object columns for the categorical ones) fits and
    predicts with pandas unimportable."""
    code = """
import sys


class NoPandas:
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas":
            raise ImportError("pandas is not installed here")


sys.meta_path.insert(0, NoPandas())
import numpy as np
import fastbp
rng = np.random.RandomState(0)
X = np.empty((120, 2), dtype=object)
X[:, 0] = rng.randn(120)
X[:, 1] = rng.choice(["a", "b", None], 120)
y = X[:, 0].astype(float) + (X[:, 1] == "a")
reg = fastbp.TabularRegressor(ensemble_size=2, hidden_layer_sizes=(8,), max_epochs=2, categorical_features=[1],
                              random_state=0).fit(X, y)
assert reg.columns_.cardinalities == [3], reg.columns_.cardinalities
print(reg.predict(X[:3]).shape, "pandas" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(3,) False"


def test_skops_loads_a_fitted_estimator_trusting_only_its_class(tmp_path):
    sio = pytest.importorskip("skops.io", reason="needs skops: pip install skops")
    X, y = frame(200, missing=0.1)
    reg = fastbp.TabularRegressor(random_state=0, **{**SMALL, "max_epochs": 3}).fit(X, y)
    data = sio.dumps(reg)
    assert sio.get_untrusted_types(data=data) == ["fastbp.tabular.estimators.TabularRegressor"]
    loaded = sio.loads(data, trusted=["fastbp.tabular.estimators.TabularRegressor"])
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    reg.save(tmp_path / "net.npz")
    net = fastbp.load(tmp_path / "net.npz")
    encoded = reg.columns_.transform(X, reg.dtype)
    np.testing.assert_allclose(net.forward(encoded)[:, 0] * reg.target_scale_ + reg.target_mean_, reg.predict(X),
                               rtol=1e-5)


def test_a_polars_frame_is_the_same_table_as_its_pandas_twin():
    """polars' Categorical, String and Boolean columns are categorical by dtype, its nulls are missing values, and
    its frame gives bit for bit what the same pandas frame gives; a column of lists is refused by name."""
    pl = pytest.importorskip("polars", reason="needs polars: pip install polars")
    X, y = frame(300, missing=0.1)
    X_pl = pl.DataFrame({"x": pl.Series(X["x"].to_numpy(dtype=float, na_value=np.nan)).fill_nan(None),
                         "z": X["z"].to_numpy(),
                         "color": pl.Series(X["color"].astype(object).where(X["color"].notna(), None).tolist(),
                                            dtype=pl.String),
                         "size": pl.Series(np.asarray(X["size"]).tolist(), dtype=pl.Categorical),
                         "flag": X["flag"].to_numpy(), "constant": X["constant"].to_numpy(),
                         "empty": pl.Series([None] * len(X), dtype=pl.Float64)})
    assert X_pl["x"].null_count() == X["x"].isna().sum() > 0
    reg = fastbp.TabularRegressor(random_state=0, **{**SMALL, "max_epochs": 3})
    from_polars = reg.fit(X_pl, y).predict(X_pl)
    assert reg.columns_.categorical.tolist() == [False, False, True, True, True, False, False]
    assert reg.feature_names_in_.tolist() == list(X.columns)
    np.testing.assert_array_equal(from_polars, reg.fit(X, y).predict(X))
    with pytest.raises(ValueError, match="column 'tags' is neither numeric nor categorical"):
        reg.fit(X_pl.with_columns(tags=pl.Series([[1, 2]] * len(X))), y)
