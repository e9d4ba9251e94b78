"""skops, which loads files without running code, persists a fitted drop-in trusting only the estimator's own
class (its fastbp parts pickle as plain values), or nothing of fastbp's through `to_sklearn` (then what
scikit-learn's own fitted estimator needs)."""

import warnings

import numpy as np
import pytest
import sklearn.neural_network
from sklearn.exceptions import ConvergenceWarning

import fastbp

sio = pytest.importorskip("skops.io", reason="needs skops: pip install skops")

X = np.random.RandomState(0).randn(80, 4)
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
TARGETS = X[:, 0] - 2 * X[:, 1]
CASES = {
    "classifier-adam": (lambda: fastbp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), LABELS),
    "classifier-sgd-early-stopping": (lambda: fastbp.MLPClassifier(
        hidden_layer_sizes=(8,), solver="sgd", early_stopping=True, max_iter=5, random_state=0), LABELS),
    "classifier-lbfgs": (lambda: fastbp.MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5), LABELS),
    "regressor-adam": (lambda: fastbp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), TARGETS),
}
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fitted(case):
    make, y = CASES[case]
    return make().fit(X, y), y


@pytest.mark.parametrize("case", CASES)
def test_skops_loads_a_fitted_estimator_trusting_only_its_class(case):
    est, y = _fitted(case)
    data = sio.dumps(est)
    name = f"fastbp.estimators.{type(est).__name__}"
    assert sio.get_untrusted_types(data=data) == [name]
    loaded = sio.loads(data, trusted=[name])
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.n_iter_ == est.n_iter_
    assert getattr(loaded, "loss_curve_", None) == getattr(est, "loss_curve_", None)
    if est.solver != "lbfgs":  # the optimizer state and counters came along: training goes on identically
        for model in (est, loaded):
            model.set_params(warm_start=True, max_iter=3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
        for ours, theirs in zip(loaded.coefs_ + loaded.intercepts_, est.coefs_ + est.intercepts_):
            np.testing.assert_array_equal(ours, theirs)


def test_skops_refuses_the_estimator_by_default():
    est, _ = _fitted("classifier-adam")
    with pytest.raises(Exception, match="fastbp.estimators.MLPClassifier"):
        sio.loads(sio.dumps(est))


@pytest.mark.parametrize("case", CASES)
def test_to_sklearn_persists_as_scikit_learns_own_estimator_and_converts_back(case):
    est, y = _fitted(case)
    data = sio.dumps(est.to_sklearn())
    # The types to trust are those of scikit-learn's own estimator fitted the same way: none for lbfgs, its
    # optimizer's class for sgd and adam.
    sklearn_class = getattr(sklearn.neural_network, type(est).__name__)
    theirs = sklearn_class(**{k: v for k, v in est.get_params().items() if k in sklearn_class().get_params()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        untrusted = sio.get_untrusted_types(data=sio.dumps(theirs.fit(X, y)))
    assert sio.get_untrusted_types(data=data) == untrusted
    assert all(name.startswith("sklearn.") for name in untrusted)
    loaded = sio.loads(data, trusted=untrusted)
    back = type(est).from_sklearn(loaded)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X), rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(loaded.predict(X), est.predict(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("route", ["skops", "pickle"])
@pytest.mark.parametrize("case", CASES)
def test_every_route_gives_back_the_estimator_field_by_field(case, route):
    """skops's own test_can_persist_fitted compares every attribute of the loaded estimator, private ones too."""
    import pickle

    from _helpers import assert_same_state

    est, _ = _fitted(case)
    if route == "skops":
        loaded = sio.loads(sio.dumps(est), trusted=[f"fastbp.estimators.{type(est).__name__}"])
    else:
        loaded = pickle.loads(pickle.dumps(est))
    assert_same_state(vars(loaded), vars(est), "estimator")
