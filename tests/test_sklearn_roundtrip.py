"""A way back and forth: `to_sklearn()` gives scikit-learn's fitted estimator, `from_sklearn()` fastbp's.

scikit-learn is the oracle: its estimators predict with their own NumPy code, and continue training with
their own solvers, from what the conversion handed them.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler

import fastbp

SOLVERS = ["sgd", "adam", "lbfgs"]
KINDS = {"classifier": (fastbp.MLPClassifier, neural_network.MLPClassifier),
         "multiclass": (fastbp.MLPClassifier, neural_network.MLPClassifier),
         "regressor": (fastbp.MLPRegressor, neural_network.MLPRegressor)}
RTOL = 1e-12  # the same float64 weights: the two forward passes differ in summation order only
# Continued training on both sides follows the same trajectory to rounding (tests/test_estimator_parity.py).
RTOL_TRAINED = 1e-8


def _data(kind):
    if kind == "regressor":
        X, y = make_regression(n_samples=120, n_features=6, noise=5.0, random_state=0)
        y = (y - y.mean()) / y.std()
    else:
        X, y = make_classification(n_samples=120, n_features=6, n_informative=4, random_state=0,
                                   n_classes=3 if kind == "multiclass" else 2)
    return StandardScaler().fit_transform(X), y


def _params(solver, **extra):
    return {**dict(hidden_layer_sizes=(7, 5), solver=solver, max_iter=8, random_state=0, batch_size=32,
                   learning_rate_init=0.01), **extra}


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _predictions(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    return estimator.predict(X)


def _assert_same_model(ours, theirs, X, rtol):
    """The same weights (each layer to rtol of its largest weight) and predictions (to rtol)."""
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    np.testing.assert_allclose(_predictions(ours, X), _predictions(theirs, X), rtol=rtol, atol=0)
    if hasattr(ours, "classes_"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_to_sklearn_predicts_the_same_and_comes_back_unchanged(kind, solver):
    Ours, Theirs = KINDS[kind]
    X, y = _data(kind)
    ours = _fit(Ours(**_params(solver)), X, y)
    theirs = ours.to_sklearn()
    assert type(theirs) is Theirs
    assert theirs.get_params() == {k: v for k, v in ours.get_params().items() if k in theirs.get_params()}
    _assert_same_model(ours, theirs, X, RTOL)
    for name in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "loss_"):
        assert getattr(theirs, name) == getattr(ours, name), name
    if solver != "lbfgs":
        assert theirs.t_ == ours.t_ and theirs.loss_curve_ == ours.loss_curve_
        assert theirs.best_loss_ == ours.best_loss_
        assert theirs._no_improvement_count == ours._no_improvement_count
        assert theirs._optimizer.learning_rate == ours._optimizer.learning_rate
    if Ours is fastbp.MLPClassifier:
        np.testing.assert_array_equal(theirs.classes_, ours.classes_)
    assert not hasattr(theirs, "validation_loss_curve_")

    back = Ours.from_sklearn(theirs)
    assert type(back) is Ours
    _assert_same_model(back, ours, X, 0)  # the same weights in the same core: equal bit for bit
    # Three independent models: changing one's weights leaves the others as they were.
    before = ours.coefs_[0].copy()
    theirs.coefs_[0] += 1.0
    back.coefs_[0] += 1.0
    np.testing.assert_array_equal(ours.coefs_[0], before)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_from_sklearn_predicts_the_same_and_continues_training_as_scikit_learn(kind, solver):
    """A scikit-learn model brought to fastbp predicts as scikit-learn's does, and training both further
    (partial_fit, which keeps the optimizer's state; or a warm-started lbfgs fit) gives the same model."""
    Ours, Theirs = KINDS[kind]
    X, y = _data(kind)
    theirs = _fit(Theirs(**_params(solver)), X, y)
    ours = Ours.from_sklearn(theirs, n_threads=1)
    assert type(ours) is Ours and ours.n_threads == 1
    _assert_same_model(ours, theirs, X, RTOL)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.to_sklearn().coefs_[0], theirs.coefs_[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in (ours, theirs):
            if solver == "lbfgs":
                model.set_params(warm_start=True, max_iter=5).fit(X, y)
            else:
                for _ in range(3):
                    model.partial_fit(X, y)
    _assert_same_model(ours, theirs, X, RTOL_TRAINED)
    if solver != "lbfgs":
        assert ours.t_ == theirs.t_
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL_TRAINED)
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)


def _early_stopping_classifier(solver):
    X, y = _data("multiclass")
    params = _params(solver, early_stopping=True, n_iter_no_change=3, warm_start=True, validation_fraction=0.2)
    return _fit(neural_network.MLPClassifier(**params), X, y), X, y


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping_state_carries_over_both_ways(solver):
    """The best validation score and the no-improvement count go across, so a warm-started fit continues on
    either side as it would have."""
    theirs, X, y = _early_stopping_classifier(solver)
    ours = fastbp.MLPClassifier.from_sklearn(theirs)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours._no_improvement_count == theirs._no_improvement_count
    for model in (ours, theirs):
        _fit(model.set_params(max_iter=6, learning_rate_init=0.05), X, y)
    _assert_same_model(ours, theirs, X, RTOL_TRAINED)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=RTOL_TRAINED)
    assert ours._no_improvement_count == theirs._no_improvement_count

    again = ours.to_sklearn()
    for model in (ours, again):
        _fit(model.set_params(max_iter=4), X, y)
    _assert_same_model(ours, again, X, RTOL_TRAINED)
    assert ours.best_validation_score_ == pytest.approx(again.best_validation_score_, rel=RTOL_TRAINED)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_best_weights_carry_over_both_ways(solver):
    """With early stopping, a warm-started fit that does not beat the best validation score so far ends with
    the best weights: those kept across the conversion (scikit-learn's `_best_coefs`), not the weights the
    model had when converted."""
    theirs, X, y = _early_stopping_classifier(solver)
    best = [a.copy() for a in theirs.coefs_ + theirs.intercepts_]
    n = len(theirs.coefs_)

    def set_by_hand(model):  # new arrays (scikit-learn's coefs_ are its best weights' arrays after a fit)
        model.coefs_ = [a.copy() for a in best[:n - 1]] + [np.zeros_like(best[n - 1])]
        model.intercepts_ = [a.copy() for a in best[n:]]

    set_by_hand(theirs)
    ours = fastbp.MLPClassifier.from_sklearn(theirs)
    set_by_hand(ours)
    again = ours.to_sklearn()
    for model in (theirs, ours, again):
        _fit(model.set_params(max_iter=1, learning_rate_init=1e-9), X, y)
        assert model.validation_scores_[-1] <= model.best_validation_score_  # no better: the best is restored
        for a, b in zip(model.coefs_ + model.intercepts_, best):
            np.testing.assert_array_equal(a, b)


def test_float32_weights_stay_float32_both_ways():
    X, y = _data("regressor")
    ours = _fit(fastbp.MLPRegressor(**_params("adam")), X.astype(np.float32), y)
    theirs = ours.to_sklearn()
    assert all(a.dtype == np.float32 for a in theirs.coefs_ + theirs.intercepts_)
    back = fastbp.MLPRegressor.from_sklearn(theirs)
    assert all(array.dtype == np.float32 for array in back.coefs_ + back.intercepts_)
    np.testing.assert_array_equal(back.predict(X.astype(np.float32)), ours.predict(X.astype(np.float32)))


def test_from_sklearn_refuses_what_it_cannot_take():
    X, y = _data("classifier")
    with pytest.raises(TypeError, match=r"from_sklearn takes a fitted sklearn.neural_network.MLPClassifier, "
                                        r"got fastbp.estimators.MLPClassifier"):
        fastbp.MLPClassifier.from_sklearn(_fit(fastbp.MLPClassifier(**_params("adam")), X, y))
    with pytest.raises(TypeError, match="got sklearn.neural_network._multilayer_perceptron.MLPRegressor"):
        fastbp.MLPClassifier.from_sklearn(neural_network.MLPRegressor())
    with pytest.raises(NotFittedError):
        fastbp.MLPRegressor.from_sklearn(neural_network.MLPRegressor())
    with pytest.raises(NotFittedError):
        fastbp.MLPRegressor().to_sklearn()


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_export_through_to_sklearn_predicts_the_same(kind):
    skip = "needs the onnx extra: pip install 'fastbp[onnx]' (skl2onnx, onnxruntime)"
    pytest.importorskip("skl2onnx", reason=skip)
    rt = pytest.importorskip("onnxruntime", reason=skip)
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType

    Ours, _ = KINDS[kind]
    X, y = _data(kind)
    ours = _fit(Ours(**_params("adam", max_iter=30)), X, y)
    theirs = ours.to_sklearn()
    options = {id(theirs): {"zipmap": False}} if Ours is fastbp.MLPClassifier else None
    model = to_onnx(theirs, initial_types=[("X", DoubleTensorType([None, X.shape[1]]))], options=options)
    session = rt.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"X": X})
    if Ours is fastbp.MLPClassifier:
        labels, proba = outputs
        np.testing.assert_array_equal(labels, ours.predict(X))
        np.testing.assert_allclose(proba, ours.predict_proba(X), rtol=1e-10, atol=1e-15)
    else:
        np.testing.assert_allclose(outputs[0].ravel(), ours.predict(X), rtol=1e-10, atol=1e-12)
