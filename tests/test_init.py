"""Initial weights: scikit-learn's Glorot-uniform draws, in its order, for the same random_state."""

import warnings

import numpy as np
import pytest

import fastbp


def sklearn_initial_weights(hidden, activation, X, y, seed):
    """Weights of a scikit-learn MLPRegressor before training: one SGD step with a learning rate so small
    that no weight moves (|lr * grad| is far below half an ulp of any weight)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    reg = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, solver="sgd", learning_rate_init=1e-300,
                       momentum=0.0, max_iter=1, shuffle=False, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    return reg.coefs_, reg.intercepts_


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
def test_same_random_state_gives_scikit_learns_initial_weights(activation, dtype, rng):
    X, y = rng.randn(20, 4).astype(dtype), rng.randn(20, 2).astype(dtype)
    coefs, intercepts = sklearn_initial_weights((5, 3), activation, X, y, seed=7)
    net = fastbp.MLP([4, 5, 3, 2], activation=activation, output="identity", dtype=dtype, random_state=7)
    for mine, theirs in zip(net.coefs + net.intercepts, coefs + intercepts):
        assert mine.dtype == theirs.dtype == dtype
        np.testing.assert_array_equal(mine, theirs)


def test_sigmoid_is_an_alias_of_logistic():
    a = fastbp.MLP([3, 4, 1], activation="sigmoid", random_state=1)
    b = fastbp.MLP([3, 4, 1], activation="logistic", random_state=1)
    assert a.activation == "logistic"
    np.testing.assert_array_equal(a.params, b.params)


def test_layers_are_views_into_one_flat_buffer():
    net = fastbp.MLP([3, 4, 2], random_state=0)
    assert net.params.flags.c_contiguous and net.params.ndim == 1
    assert net.n_params == 3 * 4 + 4 * 2 + 4 + 2
    net.params[:] = np.arange(net.n_params)
    np.testing.assert_array_equal(net.coefs[0], np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(net.coefs[1], np.arange(12, 20).reshape(4, 2))
    np.testing.assert_array_equal(net.intercepts[0], [20, 21, 22, 23])
    np.testing.assert_array_equal(net.intercepts[1], [24, 25])
    coefs, intercepts = net.unflatten(net.params)
    assert all(np.shares_memory(c, net.params) for c in coefs + intercepts)
