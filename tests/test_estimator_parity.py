"""The drop-ins follow scikit-learn's trajectory: same data, parameters and integer random_state give the
same fitted weights, loss curve, validation scores and iteration counts, for every solver and schedule.

scikit-learn is the oracle here: each test fits its MLPClassifier / MLPRegressor next to ours.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn import datasets, neural_network
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp

# Float64 runs differ from scikit-learn only by rounding (summation order inside two BLAS builds, SciPy's
# and NumPy's): measured here at most 1.6e-14 of a layer's largest weight, 1.1e-14 relative in the losses.
# Float32 rounding compounds over ten epochs of updates: measured at most 7.5e-6 and 3.7e-6. The bounds
# (what the drop-ins page states) leave a factor 6 for other CPUs' BLAS kernels.
TOL = {np.float64: 1e-13, np.float32: 5e-5}


def _load(name):
    loader = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
              "iris": datasets.load_iris, "diabetes": datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if name == "diabetes":  # standardised targets, as one would train a regressor
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return X_train, X_test, y_train, y_test


DATA = {name: _load(name) for name in ("breast_cancer", "digits", "iris", "diabetes")}
COMMON = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0, alpha=1e-3, batch_size=32)
SGD = dict(solver="sgd", learning_rate_init=0.01)
CONFIGS = {
    "sgd-plain-logistic": dict(SGD, momentum=0.0, activation="logistic"),
    # Without momentum and penalty the core steps the weights inside the gradient products.
    "sgd-plain-no-penalty": dict(SGD, momentum=0.0, alpha=0.0, activation="relu"),
    "sgd-momentum-tanh": dict(SGD, nesterovs_momentum=False, activation="tanh"),
    "sgd-nesterov-relu": dict(SGD),
    "sgd-invscaling": dict(SGD, learning_rate="invscaling", learning_rate_init=0.1, activation="tanh"),
    # A large tol makes plateaus, so the adaptive rate is divided within ten epochs.
    "sgd-adaptive": dict(SGD, learning_rate="adaptive", tol=0.05, n_iter_no_change=1),
    "sgd-no-shuffle": dict(SGD, shuffle=False, activation="identity"),
    "adam": dict(),
    "adam-early-stopping": dict(early_stopping=True, n_iter_no_change=2, validation_fraction=0.2,
                                learning_rate_init=0.01),
    "sgd-sample-weight": dict(SGD, activation="logistic"),
    "lbfgs-tanh": dict(solver="lbfgs", activation="tanh"),
    "lbfgs-sample-weight": dict(solver="lbfgs"),
}


def _text_like():
    """Sparse data shaped like bag-of-words features: 400 rows x 300 columns with about 5% nonzero, non-negative
    values scaled to unit row norms, some rows empty; three classes and a regression target from linear rules."""
    rng = np.random.RandomState(0)
    X = np.where(rng.rand(400, 300) < 0.05, rng.exponential(size=(400, 300)), 0.0)
    X[::50] = 0
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1)
    scores = X @ rng.randn(300, 3)
    return scipy.sparse.csr_matrix(X), scores.argmax(axis=1), scores[:, 0] - scores[:, 1]


TEXT_X, TEXT_CLASSES, TEXT_TARGET = _text_like()


def _pair(data_name, config, dtype=np.float64):
    """Our estimator and scikit-learn's, fitted on the same data with the same parameters. The "text-..." data
    are sparse: the classes as CSR or CSC, and the regression target (CSR)."""
    if data_name == "text-regression":
        X, y = TEXT_X, TEXT_TARGET
    elif data_name.startswith("text-"):
        X, y = TEXT_X.asformat(data_name[5:]), TEXT_CLASSES
    else:
        X, _, y, _ = DATA[data_name]
    X = X.astype(dtype)
    params = dict(COMMON, **CONFIGS[config])
    kind = "Regressor" if data_name in ("diabetes", "text-regression") else "Classifier"
    sample_weight = None
    if "sample-weight" in config:
        sample_weight = np.random.RandomState(1).uniform(0.1, 2.0, X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after ten epochs
        ours = getattr(fastbp, f"MLP{kind}")(**params).fit(X, y, sample_weight=sample_weight)
        theirs = getattr(neural_network, f"MLP{kind}")(**params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


def _drift(theirs, exact):
    """The largest difference between two fits' weights, relative to each layer's largest weight in `exact`."""
    return max(np.abs(a - b).max() / np.abs(b).max() for name in ("coefs_", "intercepts_")
               for a, b in zip(getattr(theirs, name), getattr(exact, name)))


def _assert_weights_close(ours, theirs, tol, dtype=np.float64):
    """Every weight within tol times the largest |weight| of its layer (coefficients or intercepts)."""
    for name in ("coefs_", "intercepts_"):
        for layer, (a, b) in enumerate(zip(getattr(ours, name), getattr(theirs, name))):
            # float32 stays float32 (scikit-learn's lbfgs returns float64 weights for float32 data).
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.abs(b).max(), err_msg=f"{name}[{layer}]")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("data_name", DATA)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_fit_follows_scikit_learn(data_name, config, dtype):
    ours, theirs = _pair(data_name, config, dtype)
    rtol = TOL[dtype]
    if dtype == np.float32:
        exact = _pair(data_name, config, np.float64)[1]
        if _drift(theirs, exact) > rtol:
            # scikit-learn's own float32 fit has left the float64 trajectory (measured on an AMD EPYC with
            # NumPy 1.23's OpenBLAS: 1.2e-3 of a layer's largest weight after ten epochs of digits-adam, where
            # fastbp's float32 stayed within 1e-6 of it): then fastbp is held to that trajectory instead.
            theirs = exact
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_
    _assert_weights_close(ours, theirs, rtol, dtype)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    if ours.solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
        # The rate in force now; for adam the bias-corrected step size of the last update.
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
        assert ours._no_improvement_count == theirs._no_improvement_count
    if ours.early_stopping:
        assert ours.best_loss_ is None and theirs.best_loss_ is None
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=rtol)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=rtol)
    elif ours.solver != "lbfgs":
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rtol)


SPARSE_CONFIGS = ["sgd-nesterov-relu", "adam", "adam-early-stopping", "sgd-sample-weight", "lbfgs-tanh"]


@pytest.mark.parametrize("config", SPARSE_CONFIGS)
@pytest.mark.parametrize("data_name", ["text-csr", "text-csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_fit_on_sparse_input_follows_scikit_learn(data_name, config, dtype):
    # scikit-learn computes with scipy's sparse products, fastbp with its sparse first layer on CSR rows.
    test_fit_follows_scikit_learn(data_name, config, dtype)


# No lbfgs here: on this target its line searches put even the dense fit 6e-13 (relative) from
# scikit-learn's after ten iterations (measured; the sparse one 2.5e-13), beyond TOL. lbfgs on sparse input
# is held to TOL by the classifier cases above.
@pytest.mark.parametrize("config", ["adam", "sgd-sample-weight"])
def test_regressor_fit_on_sparse_input_follows_scikit_learn(config):
    test_fit_follows_scikit_learn("text-regression", config, np.float64)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_on_sparse_input_follows_scikit_learn(solver):
    params = dict(COMMON, solver=solver)
    ours, theirs = fastbp.MLPClassifier(**params), neural_network.MLPClassifier(**params)
    for start in (0, 200, 0):
        rows = slice(start, start + 200)
        for est in (ours, theirs):
            est.partial_fit(TEXT_X[rows], TEXT_CLASSES[rows], classes=[0, 1, 2])
    _assert_weights_close(ours, theirs, TOL[np.float64])
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=TOL[np.float64])
    np.testing.assert_allclose(ours.predict_proba(TEXT_X), theirs.predict_proba(TEXT_X), rtol=1e-8, atol=1e-12)
    assert ours.score(TEXT_X, TEXT_CLASSES) == theirs.score(TEXT_X, TEXT_CLASSES)


@pytest.mark.parametrize("data_name", DATA)
def test_default_parameters_score_like_scikit_learn(data_name):
    """Held-out accuracy (classifiers) or R^2 (regressor) within 0.01 of scikit-learn's, defaults throughout."""
    X_train, X_test, y_train, y_test = DATA[data_name]
    kind = "Regressor" if data_name == "diabetes" else "Classifier"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = getattr(fastbp, f"MLP{kind}")(random_state=0).fit(X_train, y_train)
        theirs = getattr(neural_network, f"MLP{kind}")(random_state=0).fit(X_train, y_train)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.01
    # Better than chance and than predicting the mean (defaults overfit the 331 diabetes rows: R^2 ~0.2).
    assert ours.score(X_test, y_test) > (0.9 if kind == "Classifier" else 0.1)


def test_poisson_regression_follows_scikit_learn():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 5)
    y = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1]))
    params = dict(loss="poisson", hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastbp.MLPRegressor(**params).fit(X, y)
        theirs = neural_network.MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == "exp"
    _assert_weights_close(ours, theirs, TOL[np.float64])
    # Both report the half Poisson deviance, including its constant y log y - y.
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_multi_output_squared_error_is_summed_over_outputs():
    """The documented difference: scikit-learn reports the mean over outputs of the half squared error but
    follows the gradient of the sum; fastbp reports the sum. The weights are the same."""
    X, Y = datasets.load_linnerud(return_X_y=True)
    X, Y = StandardScaler().fit_transform(X), StandardScaler().fit_transform(Y)
    params = dict(hidden_layer_sizes=(8,), random_state=0, solver="sgd", learning_rate_init=0.01, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastbp.MLPRegressor(max_iter=10, batch_size=5, n_iter_no_change=100, **params).fit(X, Y)
        theirs = neural_network.MLPRegressor(max_iter=10, batch_size=5, n_iter_no_change=100, **params).fit(X, Y)
        _assert_weights_close(ours, theirs, TOL[np.float64])
        # One full-batch epoch reports the objective at the initial weights.
        ours = fastbp.MLPRegressor(max_iter=1, batch_size=20, **params).fit(X, Y)
        theirs = neural_network.MLPRegressor(max_iter=1, batch_size=20, **params).fit(X, Y)
    initial = fastbp.MLP([3, 8, 3], "relu", "identity", random_state=0)
    residual = initial.forward(X) - Y
    penalty = 0.5 * 1e-3 * sum((W**2).sum() for W in initial.coefs) / X.shape[0]
    assert ours.loss_ == pytest.approx(0.5 * (residual**2).sum(axis=1).mean() + penalty, rel=1e-12)
    assert theirs.loss_ == pytest.approx(0.5 * (residual**2).mean() + penalty, rel=1e-12)
    _assert_weights_close(ours, theirs, TOL[np.float64])
