"""Bad input raises TypeError or ValueError naming the argument; nothing crashes or runs on bad data.

Bad sparse X (its index arrays, its values) is in test_sparse.py."""

import numpy as np
import pytest
import scipy.sparse

import fastbp

GOOD_X = np.random.RandomState(0).randn(6, 3)
GOOD_Y = np.random.RandomState(1).rand(6, 1)


@pytest.fixture
def net():
    return fastbp.MLP([3, 4, 1], random_state=0)


@pytest.mark.parametrize(
    "X, error, words",
    [
        (GOOD_X[:, :2], ValueError, "X has 2 features"),
        (GOOD_X[:0], ValueError, "X is empty"),
        (GOOD_X[0], ValueError, "X must be 2-D"),
        (GOOD_X[None], ValueError, "X must be 2-D"),
        (np.where(np.eye(6, 3) > 0, np.nan, GOOD_X), ValueError, "X contains NaN or infinity"),
        (np.where(np.eye(6, 3) > 0, np.inf, GOOD_X), ValueError, "X contains NaN or infinity"),
        (GOOD_X.astype(object), TypeError, "X must hold real numbers"),
        (GOOD_X.astype(str), TypeError, "X must hold real numbers"),
        (GOOD_X.astype(complex), TypeError, "X must hold real numbers"),
        ([[1, 2, 3], [4, 5]], TypeError, "X could not be converted"),
    ],
    ids=["features", "empty", "1-D", "3-D", "nan", "inf", "object", "string", "complex", "ragged"],
)
def test_bad_X_is_refused(net, X, error, words):
    with pytest.raises(error, match=words):
        net.forward(X)
    with pytest.raises(error, match=words):
        net.loss_and_grad(X, GOOD_Y)


def test_X_too_large_for_float32_is_refused():
    net = fastbp.MLP([3, 1], dtype="float32")
    with pytest.raises(ValueError, match="X contains NaN or infinity after conversion to float32"):
        net.forward(GOOD_X * 1e300)


@pytest.mark.parametrize(
    "output, Y, words",
    [
        ("logistic", GOOD_Y[:5], r"Y has shape \(5, 1\), expected \(6, 1\)"),
        ("logistic", np.c_[GOOD_Y, GOOD_Y], r"Y has shape \(6, 2\)"),
        ("logistic", GOOD_Y[:, :, None], "Y must be 2-D"),
        ("logistic", np.where(np.eye(6, 1) > 0, np.nan, GOOD_Y), "Y contains NaN or infinity"),
        ("logistic", GOOD_Y + 1, r"Y must lie in \[0, 1\]"),
        ("logistic", GOOD_Y - 1, r"Y must lie in \[0, 1\]"),
        ("exp", -GOOD_Y, "Y must be >= 0"),
        ("logistic", GOOD_Y.astype(str), "Y must hold real numbers"),
        ("logistic", scipy.sparse.csr_matrix(GOOD_Y), "Y is a sparse matrix; pass a dense array"),
    ],
)
def test_bad_Y_is_refused(output, Y, words):
    net = fastbp.MLP([3, 4, 1], output=output)
    with pytest.raises((ValueError, TypeError), match=words):
        net.loss_and_grad(GOOD_X, Y)


@pytest.mark.parametrize(
    "Y", [np.full((6, 3), 0.5), -np.eye(6, 3) + np.eye(6, 3, 1) * 2, np.zeros((6, 3))],
    ids=["sums-to-1.5", "negative", "all-zero"],
)
def test_softmax_targets_must_be_probability_rows(Y):
    net = fastbp.MLP([3, 4, 3], output="softmax")
    with pytest.raises(ValueError, match="Y rows must be one-hot or probabilities"):
        net.loss_and_grad(GOOD_X, Y)


def test_one_dimensional_Y_needs_a_single_output():
    net = fastbp.MLP([3, 4, 2])
    with pytest.raises(ValueError, match="Y must be 2-D"):
        net.loss_and_grad(GOOD_X, GOOD_Y[:, 0])
    single = fastbp.MLP([3, 4, 1], random_state=0)
    assert single.loss(GOOD_X, GOOD_Y[:, 0]) == single.loss(GOOD_X, GOOD_Y)


@pytest.mark.parametrize(
    "sample_weight, words",
    [
        (np.ones(5), r"sample_weight must have shape \(6,\)"),
        (np.ones((6, 1)), r"sample_weight must have shape \(6,\)"),
        (-np.ones(6), "sample_weight must be non-negative"),
        (np.zeros(6), "sample_weight must have a positive sum"),
        (np.r_[np.nan, np.ones(5)], "sample_weight contains NaN"),
        (np.array(["a"] * 6), "sample_weight must hold real numbers"),
    ],
)
def test_bad_sample_weight_is_refused(net, sample_weight, words):
    with pytest.raises((ValueError, TypeError), match=words):
        net.loss_and_grad(GOOD_X, GOOD_Y, sample_weight)


@pytest.mark.parametrize("alpha, error", [(-1.0, ValueError), (np.nan, ValueError), ("0.1", TypeError)])
def test_bad_alpha_is_refused(net, alpha, error):
    with pytest.raises(error, match="alpha"):
        net.loss_and_grad(GOOD_X, GOOD_Y, alpha=alpha)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(layer_sizes=[3, 0, 1]), ValueError, r"layer_sizes\[1\] must be >= 1"),
        (dict(layer_sizes=[3, -2, 1]), ValueError, r"layer_sizes\[1\] must be >= 1"),
        (dict(layer_sizes=[3]), ValueError, "layer_sizes needs at least"),
        (dict(layer_sizes=[3, 2.5, 1]), TypeError, r"layer_sizes\[1\] must be an integer"),
        (dict(layer_sizes=[3, True, 1]), TypeError, r"layer_sizes\[1\] must be an integer"),
        (dict(layer_sizes=5), TypeError, "layer_sizes must be a sequence"),
        (dict(layer_sizes="321"), TypeError, "layer_sizes must be a sequence"),
        (dict(activation="softsign"), ValueError, "activation must be one of"),
        (dict(activation=["relu", "tanh"]), ValueError, "activation must give one value per hidden layer"),
        (dict(layer_sizes=[3, 4, 4, 1], activation=["relu", "swoosh"]), ValueError, r"activation\[1\] must be one of"),
        (dict(dropout=1.0), ValueError, "dropout must be in"),
        (dict(dropout=[0.1, 0.2]), ValueError, "dropout must give one value per hidden layer"),
        (dict(dropout="0.1"), TypeError, "dropout"),
        (dict(loss="huber"), ValueError, "loss must be one of 'log_loss' or None for output='logistic'"),
        (dict(output="identity", loss="hinge"), ValueError, "loss must be one of"),
        (dict(output="identity", loss="huber", huber_delta=0.0), ValueError, "huber_delta must be > 0"),
        (dict(output="identity", label_smoothing=0.1), ValueError, "label_smoothing is for output='logistic'"),
        (dict(label_smoothing=1.0), ValueError, "label_smoothing must be in"),
        (dict(init="xavier"), ValueError, "init must be one of"),
        (dict(activation=None), ValueError, "activation must be one of"),
        (dict(output="sigmoid"), ValueError, "output must be one of"),
        (dict(layer_sizes=[3, 1], output="softmax"), ValueError, "softmax' needs at least 2 output units"),
        (dict(dtype="float16"), ValueError, "dtype must be float32 or float64"),
        (dict(dtype="nonsense"), TypeError, "dtype must be float32 or float64"),
        (dict(backend="torch"), ValueError, "backend must be one of"),
        (dict(n_threads=0), ValueError, "n_threads must be >= 1"),
        (dict(n_threads=1.5), TypeError, "n_threads must be an integer"),
        (dict(random_state="seed"), TypeError, "random_state must be"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs, error, words):
    kwargs = {"layer_sizes": [3, 4, 1], **kwargs}
    with pytest.raises(error, match=words):
        fastbp.MLP(**kwargs)


def test_unflatten_checks_the_length(net):
    with pytest.raises(ValueError, match="flat must have shape"):
        net.unflatten(np.zeros(net.n_params + 1))
