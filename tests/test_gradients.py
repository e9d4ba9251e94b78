"""Analytic gradients against fourth-order central differences of the loss."""

import numpy as np
import pytest

import fastbp
from _helpers import ACTIVATIONS, OUTPUTS, make_targets
from fastbp import reference

# Measured over every case below: at most 2e-7 in float64 and 2.9e-5 in float32 (with gradcheck's floor of
# 1e-6 and 1e-3 times the largest entry, under which entries are judged absolutely).
TOLERANCE = {np.float64: 1e-6, np.float32: 1e-4}


def data_away_from_relu_kinks(net, rng, n_samples, margin=0.02):
    """X whose hidden pre-activations all stay `margin` away from 0, where relu has no derivative."""
    for _ in range(1000):
        X = rng.randn(n_samples, net.n_features)
        a, near_kink = X, False
        for W, b in zip(net.coefs[:-1], net.intercepts[:-1]):
            z = a @ W.astype(np.float64) + b
            near_kink |= bool((np.abs(z) < margin).any())
            a = np.maximum(z, 0)
        if not near_kink:
            return X
    raise AssertionError("could not draw data away from the relu kinks")


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_central_differences(activation, output, alpha, weighted, backend, dtype, rng):
    net = fastbp.MLP([4, 5, 3, 3], activation, output, dtype=dtype, random_state=3, backend=backend)
    X = data_away_from_relu_kinks(net, rng, 7) if activation == "relu" else rng.randn(7, 4)
    Y = make_targets(output, 7, 3, rng)
    sample_weight = rng.uniform(0.1, 2.0, 7) if weighted else None
    error = fastbp.gradcheck(net, X, Y, sample_weight=sample_weight, alpha=alpha)
    assert error <= TOLERANCE[dtype]


def test_gradcheck_detects_a_wrong_gradient(rng, monkeypatch):
    """The oracle itself must be able to fail: break the reference's derivative and watch it."""
    net = fastbp.MLP([3, 4, 1], "tanh", "logistic", random_state=0, backend="numpy")
    X, Y = rng.randn(6, 3), rng.rand(6, 1)
    monkeypatch.setitem(reference.DERIVATIVES, "tanh", lambda a: 1 - a)
    assert fastbp.gradcheck(net, X, Y) > 1e-2


def test_gradcheck_in_float32_detects_a_gradient_wrong_by_3e_4(rng, monkeypatch):
    """A bug far subtler than a wrong formula: tanh' off by a factor 1 + 3e-4, in float32, where rounding
    alone errs by at most 2.9e-5 here. (The float32 tolerance was 1e-3 before, which let it through.)"""
    net = fastbp.MLP([4, 5, 3, 3], "tanh", "identity", dtype=np.float32, random_state=3, backend="numpy")
    X, Y = rng.randn(7, 4), rng.randn(7, 3)
    assert fastbp.gradcheck(net, X, Y) <= TOLERANCE[np.float32]
    derivative = reference.DERIVATIVES["tanh"]
    monkeypatch.setitem(reference.DERIVATIVES, "tanh", lambda a: derivative(a) * np.float32(1 + 3e-4))
    assert TOLERANCE[np.float32] < fastbp.gradcheck(net, X, Y) < 1e-3
