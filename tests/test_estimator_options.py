"""The drop-ins' model options (fastbp's parameters beyond scikit-learn's): each is validated with a clear
error, trains what the same `fastbp.Trainer` fit trains, survives clone, pickle and warm starts, and
`to_sklearn` refuses what scikit-learn cannot represent. scikit-learn's estimator checks with these options
set run in test_estimator_checks.py; the defaults' parity with scikit-learn in test_estimator_parity.py."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.utils._param_validation import InvalidParameterError

import fastbp
from fastbp import MLPClassifier, MLPRegressor, schedules

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("params, error, message", [
    (dict(dropout=1.0), InvalidParameterError, "'dropout' parameter"),
    (dict(dropout="a lot"), InvalidParameterError, "'dropout' parameter"),
    (dict(dropout=[0.1, 0.2]), ValueError, "dropout must give one value per hidden layer"),
    (dict(activation="softsign"), InvalidParameterError, "'activation' parameter"),
    (dict(activation=["relu", "gelu"]), ValueError, "activation must give one value per hidden layer"),
    (dict(hidden_layer_sizes=(4, 4), activation=["relu", "gelo"]), ValueError, r"activation\[1\] must be one of"),
    (dict(init="xavier"), InvalidParameterError, "'init' parameter"),
    (dict(weight_decay=-1.0), InvalidParameterError, "'weight_decay' parameter"),
    (dict(solver="adam", weight_decay=0.1), ValueError, "weight_decay is for solver='sgd' or 'adamw'"),
    (dict(solver="rmsprop", weight_decay=0.1), ValueError, "weight_decay is for solver='sgd' or 'adamw'"),
    (dict(clip_norm=0.0), InvalidParameterError, "'clip_norm' parameter"),
    (dict(solver="lbfgs", clip_norm=1.0), ValueError, "clip_norm is for the stochastic solvers"),
    (dict(solver="lbfgs", dropout=0.1), ValueError, "dropout is for the stochastic solvers"),
    (dict(solver="lbfgs", weight_decay=0.1), ValueError, "weight_decay is for the stochastic solvers"),
    (dict(solver="nadam"), InvalidParameterError, "'solver' parameter"),
    (dict(learning_rate="cosine"), InvalidParameterError, "'learning_rate' parameter"),
    (dict(warmup_fraction=1.0), InvalidParameterError, "'warmup_fraction' parameter"),
    (dict(learning_rate="one_cycle", max_iter=1, batch_size=150), ValueError, "one_cycle' needs more than one step"),
])
def test_bad_option_values_are_refused_naming_the_parameter(Estimator, params, error, message, iris):
    X, y = iris
    with pytest.raises(error, match=message):
        Estimator(hidden_layer_sizes=params.pop("hidden_layer_sizes", (4,)), **params).fit(X, y)


@pytest.mark.parametrize("params, error, message", [
    (dict(label_smoothing=1.0), InvalidParameterError, "'label_smoothing' parameter"),
    (dict(label_smoothing=-0.1), InvalidParameterError, "'label_smoothing' parameter"),
])
def test_bad_classifier_options_are_refused(params, error, message, iris):
    with pytest.raises(error, match=message):
        MLPClassifier(**params).fit(*iris)


@pytest.mark.parametrize("params, error, message", [
    (dict(loss="hinge"), InvalidParameterError, "'loss' parameter"),
    (dict(loss="huber", huber_delta=0.0), InvalidParameterError, "'huber_delta' parameter"),
])
def test_bad_regressor_options_are_refused(params, error, message, iris):
    with pytest.raises(error, match=message):
        MLPRegressor(**params).fit(*iris)


def trainer_fit(X, Y, layer_sizes, net_options, optimizer, schedule, batch_size, max_iter, seed, clip_norm=None,
                output="softmax"):
    """What the drop-in's fit does, written with `fastbp.Trainer`: the initial weights, then (with dropout)
    the mask seed, then the shuffles, from one RandomState."""
    rng = np.random.RandomState(seed)
    net = fastbp.MLP(layer_sizes, output=output, random_state=rng, **net_options)
    trainer = fastbp.Trainer(net, optimizer, batch_size=batch_size, max_epochs=max_iter, random_state=rng,
                             alpha=1e-4, schedule=schedule, clip_norm=clip_norm)
    trainer.fit(X, Y)
    return net, trainer


def test_the_modern_options_train_what_the_trainer_trains(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation=["gelu", "silu"], solver="adamw",
                        learning_rate="warmup_cosine", warmup_fraction=0.2, learning_rate_init=0.01, dropout=[0.1, 0.2],
                        clip_norm=1.0, label_smoothing=0.1, init="he_uniform", weight_decay=0.05, batch_size=32,
                        max_iter=30, tol=0.0, n_iter_no_change=1000, random_state=0).fit(X, y)
    steps = 30 * 5  # 150 rows in minibatches of 32
    net, trainer = trainer_fit(
        X, np.eye(3)[y], [4, 16, 8, 3],
        dict(activation=["gelu", "silu"], dropout=[0.1, 0.2], label_smoothing=0.1, init="he_uniform"),
        fastbp.AdamW(0.01, weight_decay=0.05), schedules.WarmupCosine(round(0.2 * steps), steps), 32, 30, 0,
        clip_norm=1.0)
    np.testing.assert_array_equal(np.concatenate([c.ravel() for c in clf.coefs_ + clf.intercepts_]),
                                  np.concatenate([c.ravel() for c in net.coefs + net.intercepts]))
    assert clf.loss_curve_ == trainer.history.loss and clf.n_iter_ == 30


@pytest.mark.parametrize("solver, optimizer", [
    ("rmsprop", lambda: fastbp.RMSprop(0.01, epsilon=1e-8)), ("adagrad", lambda: fastbp.Adagrad(0.01, epsilon=1e-8)),
    ("sgd", lambda: fastbp.SGD(0.01, momentum=0.9, nesterov=True, weight_decay=0.01))])
def test_each_solver_is_its_fastbp_optimizer(solver, optimizer, iris):
    X, y = iris
    reg = MLPRegressor(loss="huber", huber_delta=0.5, hidden_layer_sizes=(8,), activation="elu", solver=solver,
                       learning_rate="one_cycle", learning_rate_init=0.01, batch_size=50, max_iter=12, tol=0.0,
                       weight_decay=0.01 if solver == "sgd" else None, random_state=1).fit(X[:, :3], X[:, 3])
    net, _ = trainer_fit(X[:, :3], X[:, 3:], [3, 8, 1], dict(activation="elu", loss="huber", huber_delta=0.5),
                         optimizer(), schedules.OneCycle(0.01, 12 * 3), 50, 12, 1, output="identity")
    np.testing.assert_array_equal(reg.coefs_[0], net.coefs[0])
    np.testing.assert_array_equal(reg.intercepts_[-1], net.intercepts[-1])


def test_the_defaults_of_the_options_are_todays_fit(iris):
    """Setting every option to its default changes nothing, bit for bit."""
    X, y = iris
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    explicit = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0, dropout=0.0, init="sklearn",
                             weight_decay=None, clip_norm=None, label_smoothing=0.0, warmup_fraction=None).fit(X, y)
    for a, b in zip(plain.coefs_ + plain.intercepts_, explicit.coefs_ + explicit.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adamw", "rmsprop", "adagrad"])
def test_partial_fit_continues_the_new_solvers(solver, iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, dropout=0.2, random_state=0, learning_rate_init=0.01)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and clf.t_ == 450 and len(clf.loss_curve_) == 3
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_options_survive_clone_and_pickle(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), activation=["mish", "tanh"], dropout=[0.2, 0.0], solver="adamw",
                        label_smoothing=0.1, max_iter=5, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.get_params() == clf.get_params() == clone(clf).get_params()
    copy.set_params(max_iter=3, warm_start=True).fit(X, y)  # continues with the same network and options
    assert copy.n_iter_ == 3


def test_set_params_between_warm_started_fits_keeps_the_weights_under_new_options(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="relu", max_iter=5, warm_start=True, random_state=0)
    clf.fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(activation="gelu", dropout=0.3, max_iter=1, learning_rate_init=1e-12)
    clf.fit(X, y)  # a near-zero step: the weights carried over
    np.testing.assert_allclose(clf.coefs_[0], before[0], atol=1e-9)
    gelu = fastbp.MLP([4, 8, 3], "gelu", "softmax")
    gelu.params[...] = np.concatenate([c.ravel() for c in clf.coefs_] + [b for b in clf.intercepts_])
    np.testing.assert_allclose(clf.predict_proba(X), gelu.forward(X), rtol=1e-12)


@pytest.mark.parametrize("params, parameter", [
    (dict(activation="gelu"), "activation='gelu'"), (dict(activation=["relu", "tanh"]), "activation=\\['relu'"),
    (dict(solver="adamw"), "solver='adamw'"), (dict(solver="rmsprop"), "solver='rmsprop'"),
    (dict(learning_rate="warmup_cosine"), "learning_rate='warmup_cosine'")])
def test_to_sklearn_refuses_what_sklearn_cannot_represent_naming_the_parameter(params, parameter, iris):
    clf = MLPClassifier(hidden_layer_sizes=(4, 4), max_iter=3, random_state=0, **params).fit(*iris)
    with pytest.raises(ValueError, match=f"cannot represent {parameter}"):
        clf.to_sklearn()


def test_to_sklearn_refuses_the_robust_losses(iris):
    X, y = iris
    reg = MLPRegressor(loss="absolute_error", hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match="cannot represent loss='absolute_error'"):
        reg.to_sklearn()


def test_a_model_trained_with_dropout_and_smoothing_converts_and_predicts_the_same(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8, 8), activation=["tanh", "tanh"], dropout=0.3, label_smoothing=0.1,
                        init="glorot_normal", weight_decay=0.01, solver="sgd", clip_norm=2.0, max_iter=10,
                        random_state=0).fit(X, y)
    theirs = clf.to_sklearn()
    assert theirs.activation == "tanh"
    np.testing.assert_allclose(theirs.predict_proba(X), clf.predict_proba(X), rtol=1e-12)
