"""The drop-in estimators' surface and behaviour: scikit-learn's API, its errors, and fastbp's additions.

Trajectory parity with scikit-learn is in test_estimator_parity.py, its estimator checks in
test_estimator_checks.py.
"""

import inspect
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
from sklearn import datasets, neural_network
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from fastbp.layout import dense_layout

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
PAIRS = [(MLPClassifier, neural_network.MLPClassifier), (MLPRegressor, neural_network.MLPRegressor)]
SMALL = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0)


@pytest.fixture(scope="module")
def iris():
    X, y = datasets.load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def binary():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def assert_same_weights(a, b, rtol=1e-12):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max())


# --- the same surface as scikit-learn ------------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_every_sklearn_parameter_with_the_same_default(ours, theirs):
    ours_params = inspect.signature(ours).parameters
    for name, param in inspect.signature(theirs).parameters.items():
        assert name in ours_params, name
        assert ours_params[name].default == param.default, name
        assert ours_params[name].kind == param.kind, name
    extras = set(ours_params) - set(inspect.signature(theirs).parameters)
    assert extras == {"dtype", "n_threads", "thread_invariant", "callbacks", "progress_bar", "comm", "dropout", "init",
                      "weight_decay", "clip_norm", "warmup_fraction"} | (
        {"class_weight", "label_smoothing"} if ours is MLPClassifier else {"huber_delta"})


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("params", [
    dict(solver="newton"), dict(activation="softmax"), dict(alpha=-1.0), dict(batch_size=0),
    dict(batch_size="big"), dict(learning_rate="cyclic"), dict(learning_rate_init=0.0), dict(max_iter=0),
    dict(momentum=1.5), dict(validation_fraction=1.0), dict(beta_1=1.0), dict(epsilon=0.0),
    dict(n_iter_no_change=0), dict(max_fun=0), dict(shuffle="yes"), dict(hidden_layer_sizes=0),
    dict(tol=-1.0)], ids=str)
def test_bad_parameters_raise_sklearns_invalid_parameter_error(ours, theirs, params, iris):
    X, y = iris
    for cls in (ours, theirs):
        with pytest.raises(InvalidParameterError, match=next(iter(params))):
            cls(**params).fit(X, y)


@pytest.mark.parametrize("params, message", [
    (dict(dtype="float16"), "dtype"), (dict(n_threads=0), "n_threads"), (dict(callbacks="print"), "callbacks"),
    (dict(progress_bar=2), "progress_bar")], ids=str)
def test_bad_extra_parameters_raise_invalid_parameter_error(params, message, iris):
    with pytest.raises(InvalidParameterError, match=message):
        MLPClassifier(**params).fit(*iris)


def test_bad_class_weight_raises(iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match="class_weight"):
        MLPClassifier(class_weight="uniform").fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight has labels \[7\]"):
        MLPClassifier(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight values must be finite"):
        MLPClassifier(class_weight={0: -1.0}).fit(X, y)


def _error(function):
    try:
        function()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize("case", ["nan_fit", "inf_predict", "features_at_predict", "unfitted_predict",
                                  "unfitted_proba", "partial_fit_without_classes", "unseen_class",
                                  "partial_fit_lbfgs", "partial_fit_early_stopping", "warm_start_new_class",
                                  "regression_target", "empty", "sample_weight_shape"])
def test_errors_have_sklearns_types(case, iris):
    X, y = iris
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    cases = {
        "nan_fit": lambda c: c(**SMALL).fit(Xnan, y),
        "inf_predict": lambda c: c(**SMALL).fit(X, y).predict(np.where(Xnan == Xnan, X, np.inf)),
        "features_at_predict": lambda c: c(**SMALL).fit(X, y).predict(X[:, :3]),
        "unfitted_predict": lambda c: c().predict(X),
        "unfitted_proba": lambda c: c().predict_proba(X),
        "partial_fit_without_classes": lambda c: c().partial_fit(X, y),
        "unseen_class": lambda c: c(**SMALL).partial_fit(X[y < 2], y[y < 2], classes=[0, 1]).partial_fit(X, y),
        "partial_fit_lbfgs": lambda c: c(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2]),
        "partial_fit_early_stopping": lambda c: c(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2]),
        "warm_start_new_class": lambda c: c(warm_start=True, **SMALL).fit(X[y < 2], y[y < 2]).fit(X, y),
        "regression_target": lambda c: c(**SMALL).fit(X, y + 0.5),
        "empty": lambda c: c(**SMALL).fit(X[:0], y[:0]),
        "sample_weight_shape": lambda c: c(**SMALL).fit(X, y, sample_weight=np.ones(3)),
    }
    ours = _error(lambda: cases[case](MLPClassifier))
    theirs = _error(lambda: cases[case](neural_network.MLPClassifier))
    assert type(ours) is type(theirs), (ours, theirs)
    if case in ("nan_fit", "features_at_predict", "unseen_class", "partial_fit_without_classes"):
        assert str(ours) == str(theirs)


def test_nan_and_unfitted_errors_of_the_regressor():
    X = np.random.RandomState(0).randn(20, 3)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPRegressor().fit(np.where(X > 1, np.nan, X), X[:, 0])
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, X[:, 0])


# --- targets: binary, multiclass, multilabel, multi-output ----------------------------------------------


@pytest.mark.parametrize("target", ["binary-strings", "multiclass", "multilabel"])
def test_classifier_targets_match_sklearn(target, iris):
    X, y = iris
    if target == "binary-strings":
        y = np.where(y == 0, "setosa", "other")
    elif target == "multilabel":
        X, y = datasets.make_multilabel_classification(n_samples=150, n_classes=4, random_state=0)
    ours = MLPClassifier(**SMALL).fit(X, y)
    theirs = neural_network.MLPClassifier(**SMALL).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.out_activation_ == theirs.out_activation_
    assert_same_weights(ours, theirs, 1e-8)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X), rtol=1e-8)
    assert ours.score(X, y) == theirs.score(X, y)


def test_predict_log_proba_is_log_proba_and_finite_where_probabilities_underflow(binary):
    """log(predict_proba) wherever a probability is a normal float (so both give the same argmax, also where
    probabilities round to 1); where one underflows, the log-probability from the logits: finite, and below
    every normal one's log."""
    X, y = binary
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", random_state=0).fit(X, y)
    clf.coefs_[-1][...] *= 1e4  # saturate the output
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert (proba == 0).any() and (proba == 1).any() and np.isfinite(log_proba).all()
    normal = proba >= np.finfo(proba.dtype).tiny
    np.testing.assert_array_equal(log_proba[normal], np.log(proba[normal]))
    assert (log_proba[~normal] < np.log(np.finfo(proba.dtype).tiny)).all()
    np.testing.assert_array_equal(log_proba.argmax(axis=1), proba.argmax(axis=1))


def test_multi_output_regression_shapes():
    X, Y = datasets.load_linnerud(return_X_y=True)
    reg = MLPRegressor(**SMALL).fit(X, Y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (20, 3)
    assert MLPRegressor(**SMALL).fit(X, Y[:, 0]).predict(X).shape == (20,)


# --- dtypes, layouts, sparse, pandas -------------------------------------------------------------------


def test_float32_is_preserved_and_other_dtypes_become_float64(iris):
    X, y = iris
    clf32 = MLPClassifier(**SMALL).fit(X.astype(np.float32), y)
    assert clf32.coefs_[0].dtype == np.float32 and clf32.predict_proba(X).dtype == np.float32
    clf_int = MLPClassifier(**SMALL).fit(np.round(X * 10).astype(np.int64), y)
    assert clf_int.coefs_[0].dtype == np.float64


def test_dtype_float32_computes_in_float32_for_float64_input(iris):
    X, y = iris
    cast = MLPClassifier(**SMALL).fit(X.astype(np.float32), y)
    for dtype in ("float32", np.float32, np.dtype(np.float32)):
        forced = MLPClassifier(dtype=dtype, **SMALL).fit(X, y)
        assert forced.coefs_[0].dtype == np.float32
        for a, b in zip(forced.coefs_ + forced.intercepts_, cast.coefs_ + cast.intercepts_):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("kind", [scipy.sparse.csr_matrix, scipy.sparse.csr_array], ids=["matrix", "array"])
def test_sparse_input_gives_the_dense_result(kind, fmt, iris):
    # The sparse first layer sums in another order than BLAS: equal to rounding, not bitwise.
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0, X)
    dense = MLPClassifier(**SMALL).fit(X, y)
    sparse = MLPClassifier(**SMALL).fit(kind(X).asformat(fmt), y)
    assert_same_weights(sparse, dense, 1e-10)
    np.testing.assert_allclose(sparse.predict_proba(kind(X).asformat(fmt)), dense.predict_proba(X), rtol=1e-10)
    assert sparse.score(kind(X), y) == dense.score(X, y)
    np.testing.assert_array_equal(sparse.predict(kind(X)), dense.predict(X))


def test_pandas_column_names_are_kept_and_checked(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(**SMALL).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    assert clf.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["b", "a", "c", "d"]])


# --- partial_fit, warm_start ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression():
    X, y = datasets.make_regression(120, 4, noise=1.0, random_state=0)
    return X, y / y.std()


# Calls in order; the last fit of the third continues from partial_fit because of warm_start=True.
SEQUENCES = {"partial_fit": ("partial_fit",) * 3, "fit-then-partial_fit": ("fit", "partial_fit", "partial_fit"),
             "partial_fit-then-warm-fit": ("partial_fit", "partial_fit", "fit")}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_incremental_training_follows_sklearn(kind, solver, sequence, weighted, iris, regression):
    X, y = iris if kind == "classifier" else regression
    sample_weight = np.random.RandomState(1).uniform(0.2, 2.0, len(y)) if weighted else None
    params = dict(SMALL, solver=solver, warm_start=sequence.endswith("warm-fit"))
    Ours, Theirs = (MLPClassifier, neural_network.MLPClassifier) if kind == "classifier" else \
        (MLPRegressor, neural_network.MLPRegressor)
    ours, theirs = Ours(**params), Theirs(**params)
    classes = {"classes": [0, 1, 2]} if kind == "classifier" else {}
    for call in SEQUENCES[sequence]:
        for est in (ours, theirs):
            if call == "fit":
                est.fit(X, y, sample_weight=sample_weight)
            else:
                est.partial_fit(X, y, sample_weight=sample_weight, **classes)
    assert_same_weights(ours, theirs, 1e-10)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_partial_fit_epochs_is_that_many_passes(iris):
    X, y = iris
    once = MLPClassifier(solver="sgd", shuffle=False, **SMALL).partial_fit(X, y, classes=[0, 1, 2], epochs=3)
    thrice = MLPClassifier(solver="sgd", shuffle=False, **SMALL)
    for _ in range(3):
        thrice.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_weights(once, thrice, 1e-14)
    assert len(once.loss_curve_) == 3 and once.n_iter_ == 3
    with pytest.raises(ValueError, match="epochs"):
        once.partial_fit(X, y, epochs=0)


@pytest.mark.parametrize("params", [dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
                                    dict(solver="adam"), dict(solver="sgd", early_stopping=True),
                                    dict(solver="lbfgs")], ids=str)
@pytest.mark.parametrize("pair", [PAIRS[0], PAIRS[1]], ids=["classifier", "regressor"])
def test_warm_start_follows_sklearn(pair, params, iris, regression):
    X, y = iris if pair[0] is MLPClassifier else regression
    ours = pair[0](warm_start=True, **SMALL, **params)
    theirs = pair[1](warm_start=True, **SMALL, **params)
    for max_iter in (10, 5):
        for est in (ours, theirs):
            est.set_params(max_iter=max_iter).fit(X, y)
    assert_same_weights(ours, theirs, 1e-8)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    if params["solver"] != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)


def test_fit_without_warm_start_starts_over(iris):
    X, y = iris
    clf = MLPClassifier(**SMALL).fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    for a, b in zip(clf.coefs_, first):
        np.testing.assert_array_equal(a, b)
    assert len(clf.loss_curve_) == clf.n_iter_ == 10


# --- fastbp's additions --------------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("class_weight", [{0: 3.0, 2: 0.5}, "balanced"], ids=["dict", "balanced"])
def test_class_weight_equals_the_sample_weights_it_stands_for(class_weight, sparse, iris):
    X, y = iris
    y = y[20:]  # unbalanced
    X = X[20:]
    sample_weight = np.random.RandomState(0).uniform(0.5, 1.5, len(y))
    weighted = MLPClassifier(class_weight=class_weight, **SMALL).fit(scipy.sparse.csr_matrix(X) if sparse else X, y,
                                                                     sample_weight=sample_weight)
    explicit = MLPClassifier(**SMALL).fit(X, y, sample_weight=sample_weight * compute_sample_weight(class_weight, y))
    assert_same_weights(weighted, explicit, 1e-10 if sparse else 1e-12)


def test_class_weight_limits(iris):
    X, y = iris
    Y = np.column_stack([y == 0, y == 1])
    with pytest.raises(ValueError, match="multilabel"):
        MLPClassifier(class_weight={0: 2.0}, **SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_validation_loss_curve_is_the_log_loss_on_the_held_out_rows(binary):
    """One epoch: the early-stopping split is the one train_test_split draws after the initial weights."""
    X, y = binary
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, early_stopping=True, random_state=0).fit(X, y)
    rng = np.random.RandomState(0)
    fastbp.MLP([30, 8, 1], "relu", random_state=rng)  # the initial weights' draws
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=rng, stratify=y)
    assert len(clf.validation_loss_curve_) == 1
    assert clf.validation_loss_curve_[0] == pytest.approx(log_loss(y_val, clf.predict_proba(X_val)), rel=1e-10)
    assert clf.validation_scores_[0] == pytest.approx(clf.score(X_val, y_val), rel=1e-12)
    assert MLPClassifier(**SMALL).fit(X, y).validation_loss_curve_ is None


def test_early_stopping_refuses_a_split_that_leaves_the_training_part_without_weight(binary):
    X, y = binary
    rng = np.random.RandomState(0)
    fastbp.MLP([30, 8, 1], "relu", random_state=rng)  # the initial weights' draws, then the split's
    _, held_out = train_test_split(np.arange(len(y)), test_size=0.1, random_state=rng, stratify=y)
    sample_weight = np.zeros(len(y))
    sample_weight[held_out] = 1.0
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="no positive weight in the training part of the validation_fraction"):
        clf.fit(X, y, sample_weight=sample_weight)


def test_results_do_not_depend_on_n_threads(binary):
    X, y = binary
    X = np.tile(X, (8, 4))  # wide and long enough for the core to start threads
    y = np.tile(y, 8)
    one, two = (MLPClassifier(hidden_layer_sizes=(64,), max_iter=3, n_threads=n, random_state=0).fit(X, y)
                for n in (1, 2))
    assert_same_weights(one, two, 0)


def test_callbacks_can_stop_training(iris):
    class StopAfter(fastbp.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            return epoch == 2

    X, y = iris
    clf = MLPClassifier(callbacks=[StopAfter()], **SMALL).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs", callbacks=[StopAfter()]).fit(X, y)


def test_verbose_prints_sklearns_lines_and_lbfgs_iterations(iris, capsys):
    X, y = iris
    MLPClassifier(verbose=True, early_stopping=True, **SMALL).fit(X, y)
    ours = capsys.readouterr().out
    neural_network.MLPClassifier(verbose=True, early_stopping=True, **SMALL).fit(X, y)
    assert ours == capsys.readouterr().out
    clf = MLPClassifier(verbose=True, solver="lbfgs", **SMALL).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == clf.n_iter_ and lines[-1] == f"Iteration {clf.n_iter_}, loss = {clf.loss_:.8f}"


def test_progress_bar_shows_every_epoch(iris, capsys):
    pytest.importorskip("tqdm")
    X, y = iris
    MLPClassifier(progress_bar=True, **SMALL).fit(X, y)
    assert "10/10" in capsys.readouterr().err


# --- models in scikit-learn's machinery ----------------------------------------------------------------


# The adaptive rate is divided within the ten epochs (tol makes plateaus), so the pickle carries a rate
# other than learning_rate_init.
PICKLED = {"sgd-nesterov": dict(solver="sgd"), "sgd-plain": dict(solver="sgd", momentum=0.0),
           "sgd-classic-momentum": dict(solver="sgd", nesterovs_momentum=False),
           "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=1),
           "adam": dict(solver="adam"), "lbfgs": dict(solver="lbfgs")}


@pytest.mark.parametrize("case", PICKLED)
@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip_predicts_and_trains_on_identically(dump, case, iris, tmp_path):
    X_reg, y_reg = datasets.make_regression(60, 4, noise=1.0, random_state=0)
    for Estimator, (X, y) in ((MLPClassifier, iris), (MLPRegressor, (X_reg, y_reg / y_reg.std()))):
        model = Estimator(**SMALL, **PICKLED[case]).fit(X, y)
        if case == "sgd-adaptive":
            assert model._optimizer.learning_rate < model.learning_rate_init
        if dump == "pickle":
            copy = pickle.loads(pickle.dumps(model))
        else:
            joblib.dump(model, tmp_path / "model.joblib")
            copy = joblib.load(tmp_path / "model.joblib")
        np.testing.assert_array_equal(copy.predict(X), model.predict(X))
        # The optimizer state (velocities, Adam's moments and step count, the adaptive rate) travels with the
        # model; lbfgs keeps none, and a warm-started fit continues from the weights.
        for est in (model, copy):
            if case == "lbfgs":
                est.set_params(warm_start=True, max_iter=5).fit(X, y)
            else:
                est.partial_fit(X, y)
        assert_same_weights(copy, model, 0)


def test_clone_is_unfitted_with_the_same_parameters(iris):
    clf = MLPClassifier(class_weight="balanced", n_threads=1, **SMALL).fit(*iris)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "coefs_")


def test_replaced_coefs_are_used(iris):
    X, y = iris
    clf = MLPClassifier(**SMALL).fit(X, y)
    clf.coefs_[1] = np.zeros_like(clf.coefs_[1])
    clf.intercepts_[1] = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(clf.predict_proba(X), np.tile(np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), (150, 1)))
    with pytest.raises(ValueError, match="shape"):
        clf.coefs_[0] = np.zeros((2, 2))
        clf.predict(X)


def test_pipeline_and_parallel_grid_search_match_the_serial_search(binary):
    X, y = binary
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__solver": ["adam", "lbfgs"]}
    serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"],
                               rtol=1e-12)
    assert serial.best_score_ > 0.9


def test_weights_set_on_an_unfitted_estimator_are_what_it_predicts_with_and_trains_from():
    """As in scikit-learn (its test_fit sets them, then calls partial_fit): coefs_ and intercepts_ assigned
    by hand, with out_activation_, are the model; shapes that do not chain are refused, naming the array."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 3), rng.randn(30)
    coefs, intercepts = [rng.randn(3, 4), rng.randn(4, 1)], [rng.randn(4), rng.randn(1)]
    reg = MLPRegressor(hidden_layer_sizes=4, activation="tanh", solver="sgd", momentum=0.0, learning_rate_init=0.1,
                       batch_size=30, alpha=0.0)
    reg.coefs_, reg.intercepts_, reg.out_activation_ = [c.copy() for c in coefs], list(intercepts), "identity"
    spec, layout = fastbp.reference.Spec(("tanh",), "identity"), dense_layout([3, 4, 1])
    params = np.concatenate([array.ravel() for array in coefs + intercepts])
    expected = fastbp.reference_network.output(layout, spec, params, X).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-12)
    reg.partial_fit(X, y)  # one full-batch step: w - 0.1 * gradient, the gradient from the NumPy reference
    _, grad, _ = fastbp.reference_network.loss_and_grad(layout, spec, params, X, y[:, None])
    after = np.concatenate([array.ravel() for array in reg.coefs_ + reg.intercepts_])
    np.testing.assert_allclose(after, params - 0.1 * grad, rtol=1e-12, atol=1e-15)
    assert reg.n_iter_ == 1 and reg.t_ == 30 and len(reg.loss_curve_) == 1

    cases = [([rng.randn(3, 4), rng.randn(5, 1)], [rng.randn(4), rng.randn(1)], r"coefs_\[1\] has shape \(5, 1\)"),
             ([rng.randn(3, 4), rng.randn(4, 1)], [rng.randn(4), rng.randn(2)], r"intercepts_\[1\] has shape \(2,\)"),
             ([rng.randn(3, 4)], [rng.randn(4), rng.randn(1)], "one array per layer"),
             ([np.full((3, 1), np.nan)], [rng.randn(1)], r"coefs_\[0\] has non-finite values")]
    for coefs, intercepts, message in cases:
        reg = MLPRegressor()
        reg.coefs_, reg.intercepts_ = coefs, intercepts
        with pytest.raises(ValueError, match=message):
            reg.predict(X)
    clf = MLPClassifier()
    clf.coefs_, clf.intercepts_ = [rng.randn(3, 1)], [rng.randn(1)]
    with pytest.raises(ValueError, match="out_activation_ must be set"):
        clf.predict_proba(X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_divergence_raises_scikit_learns_value_error_and_changes_nothing(solver):
    X = np.random.RandomState(0).randn(50, 3) * 1e3
    reg = MLPRegressor(solver=solver, learning_rate_init=10.0, momentum=0.99, **SMALL)
    # scikit-learn's message first, then fastbp's: what happened, and that the estimator is as before.
    message = (r"^Solver produced non-finite parameter weights\. The input data may contain large values and need "
               r"to be preprocessed\. " + ("" if solver == "lbfgs" else r"Training diverged in epoch \d+ \(learning "
                                                                         r"rate 10\).*\. ") +
               "The estimator is as it was before this call")
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(fastbp.DivergenceError, match=message):
        reg.fit(X * (1 if solver == "sgd" else 1e300), X[:, 0] * 1e3)
    assert not hasattr(reg, "coefs_") and not hasattr(reg, "n_features_in_")  # a first fit: still unfitted


def test_a_diverging_fit_with_early_stopping_ends_as_scikit_learns_does():
    """scikit-learn issue 29504: with early stopping, a diverging epoch scores NaN and the fit ends with the
    weights of the best validation score, without an error (scikit-learn then runs its remaining epochs on
    non-finite weights; fastbp stops at the diverged one)."""
    X, y = datasets.load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1.0,
                  max_iter=20, early_stopping=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Training diverged in epoch 6 .* keeps the weights of the best"), \
            np.errstate(over="ignore", invalid="ignore"):  # huge validation predictions, scored before the NaN
        ours = MLPRegressor(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = neural_network.MLPRegressor(**params).fit(X, y)
    assert ours.n_iter_ == 6 and theirs.n_iter_ == 20
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_[:6], rtol=1e-8)
    assert np.isnan(ours.validation_scores_[-1]) and np.isnan(ours.loss_curve_[-1])
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-8)
    assert ours._no_improvement_count == theirs._no_improvement_count == 0  # a NaN score resets it, as there
    assert_same_weights(ours, theirs, 1e-8)
    # A search over learning rates keeps the diverging candidate, scored with its best weights.
    search = GridSearchCV(MLPRegressor(**dict(params, max_iter=10)), {"learning_rate_init": [1.0, 0.001]},
                          cv=2, error_score="raise")
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("warm_start", [False, True], ids=["initial-weights", "warm-start"])
def test_lbfgs_divergence_leaves_the_estimator_as_it_was(warm_start, monkeypatch):
    """With the objective guarded (loss_and_grad reports an overflowing gradient as an infinite loss),
    SciPy's L-BFGS-B backtracks instead of diverging; a solver that still ends at non-finite weights, after
    leaving the network at another point as a line search does, must not leave them in the model."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.randn(40)
    reg = MLPRegressor(solver="lbfgs", warm_start=warm_start, **SMALL)
    if warm_start:
        reg.fit(X, y)
        start = [a.copy() for a in reg.coefs_ + reg.intercepts_]

    def diverging(fun, x0, **options):
        fun(x0 + 1.0)  # the network now holds other weights
        return scipy.optimize.OptimizeResult(x=np.full_like(x0, np.inf), fun=np.inf, nit=1, status=2,
                                             message="ABNORMAL")

    monkeypatch.setattr(scipy.optimize, "minimize", diverging)
    with pytest.raises(fastbp.DivergenceError, match="The estimator is as it was before this call"):
        reg.fit(X, y)
    if not warm_start:  # a first fit that fails leaves the estimator unfitted
        assert not hasattr(reg, "coefs_")
        return
    for got, expected in zip(reg.coefs_ + reg.intercepts_, start):
        np.testing.assert_array_equal(got, expected)


def test_zero_weight_minibatches_are_skipped(iris):
    X, y = iris
    sample_weight = np.ones(len(y))
    sample_weight[:32] = 0  # the first minibatch without shuffling
    params = dict(SMALL, solver="sgd", shuffle=False, batch_size=32)
    clf = MLPClassifier(**params).fit(X, y, sample_weight=sample_weight)
    assert np.isfinite(clf.loss_curve_).all()
    with pytest.raises(ZeroDivisionError):  # scikit-learn normalises by the minibatch's weight sum
        neural_network.MLPClassifier(**params).fit(X, y, sample_weight=sample_weight)
