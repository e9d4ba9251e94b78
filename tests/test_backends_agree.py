"""The compiled core computes what the NumPy reference computes, for random architectures and data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbp
from _helpers import ACTIVATIONS, OUTPUTS, make_targets, net_pair
from _oracle import assert_close, error_bounds
from fastbp._threads import ThreadPlan
from fastbp.backends import Training
from fastbp.epochs import FitLoop


@st.composite
def problems(draw):
    output = draw(st.sampled_from(OUTPUTS))
    min_out = 2 if output == "softmax" else 1
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    layer_sizes = [draw(st.integers(1, 9))] + sizes + [draw(st.integers(min_out, 4))]
    return dict(
        layer_sizes=layer_sizes,
        activation=draw(st.sampled_from(ACTIVATIONS)),
        output=output,
        dtype=draw(st.sampled_from([np.float64, np.float32])),
        n_samples=draw(st.integers(1, 40)),
        weighted=draw(st.booleans()),
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.5])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@settings(max_examples=150, deadline=None)
@given(problems())
def test_cython_backend_equals_numpy_backend(p):
    rng = np.random.RandomState(p["seed"])
    core, ref = net_pair(p["layer_sizes"], p["activation"], p["output"], p["dtype"], seed=p["seed"])
    X = rng.randn(p["n_samples"], p["layer_sizes"][0]) * 2
    Y = make_targets(p["output"], p["n_samples"], p["layer_sizes"][-1], rng)
    sw = rng.uniform(0, 3, p["n_samples"]) + 0.01 if p["weighted"] else None

    forward_bound, loss_bound, grad_bound = error_bounds(ref, X, Y, sw, p["alpha"])
    assert_close(core.forward(X), ref.forward(X), p["dtype"], "forward", forward_bound)
    loss, grad = core.loss_and_grad(X, Y, sw, p["alpha"])
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, sw, p["alpha"])
    assert grad.dtype == ref_grad.dtype == p["dtype"]
    assert_close(loss, ref_loss, p["dtype"], "loss", loss_bound)
    assert_close(grad, ref_grad, p["dtype"], "gradient", grad_bound)


def _nan_at(net, where):
    """net with one NaN parameter: a first-layer weight (every hidden unit it feeds becomes NaN) or an
    output weight (only the deltas flowing back are NaN, through units of every sign)."""
    if where == "first-layer":
        net.coefs[0][0, 0] = np.nan
    else:
        net.coefs[-1][0, 0] = np.nan
    return net


@pytest.mark.parametrize("where", ["first-layer", "output-layer"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_nan_weights_give_nan_exactly_where_the_reference_does(activation, output, where, dtype, rng):
    core, ref = (_nan_at(net, where) for net in net_pair([3, 6, 2], activation, output, dtype, seed=1))
    X = rng.randn(8, 3)  # every unit's sign occurs: relu's zeros multiply NaN deltas too
    Y = make_targets(output, 8, 2, rng)
    with np.errstate(invalid="ignore"):
        results = [(net.forward(X), net.loss(X, Y), *net.loss_and_grad(X, Y)) for net in (core, ref)]
    for name, got, expected in zip(("forward", "loss", "loss_and_grad loss", "gradient"), *results):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=name)
        assert np.isnan(expected).any(), name  # the NaN reaches every result
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, err_msg=name)  # NaN where NaN


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_an_epoch_stops_at_a_minibatch_whose_loss_nan_weights_make_nan(activation, backend, rng):
    """An epoch checks each minibatch objective before its update: NaN weights must show there."""
    net = _nan_at(fastbp.MLP([3, 6, 1], activation, random_state=0, backend=backend), "first-layer")
    before = net.params.copy()
    optimizer = fastbp.SGD(0.1)
    X, Y = rng.randn(12, 3), (rng.rand(12, 1) > 0.5).astype(float)
    loop = FitLoop(net, optimizer, net.check_batch(X, Y), None, batch_size=4, training=Training(), shuffle=False,
                   plan=ThreadPlan(1))
    result = loop.train_pass(0.1)
    # Stopped at the first minibatch, before its update.
    assert not result.finite and result.loss_sum == 0 and result.steps == 0 and optimizer.t == 0
    np.testing.assert_array_equal(net.params, before)


# Overflow of the model's dtype: (output, weight, bias, x, y) of a one-weight network MLP([1, 1]) in float32.
OVERFLOWS = {
    "exp-output": ("exp", 1.0, 0.0, 100.0, 1.0),             # exp(100) overflows float32: y_hat and delta inf
    "exp-gradient": ("exp", 0.885, 0.0, 100.0, 1.0),         # y_hat 2.7e38 fits; x * delta does not
    "identity-residual": ("identity", 1.0, 0.0, 3e38, -3e38),  # y_hat - y = 6e38 does not fit float32
}


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("case", OVERFLOWS)
def test_a_gradient_that_overflows_comes_with_an_infinite_loss(case, backend):
    """What an optimizer reads (L-BFGS a finite objective first of all) must not hide an infinite gradient."""
    output, weight, bias, x, y = OVERFLOWS[case]
    net = fastbp.MLP([1, 1], output=output, dtype="float32", backend=backend)
    net.params[:] = [weight, bias]
    with np.errstate(over="ignore", invalid="ignore"):
        loss, grad = net.loss_and_grad([[x]], [y])
    assert not np.isfinite(grad).all()
    assert loss == np.inf


def _data(case):
    """(core, ref, X, Y, relative error to inject): a tanh network on inputs of 1e300, whose saturated units
    pass on no error from their inputs, and an ordinary float32 network three hidden layers deep."""
    rng = np.random.RandomState(0)
    if case == "float64-huge-inputs":
        core, ref = net_pair([4, 6, 5, 2], "tanh", "identity", np.float64, seed=0)
        return core, ref, rng.randn(10, 4) * 1e300, rng.randn(10, 2), 1e-9
    core, ref = net_pair([9, 9, 9, 9, 4], "tanh", "logistic", np.float32, seed=0)
    return core, ref, rng.randn(40, 9) * 2, make_targets("logistic", 40, 4, rng), 5e-4


@pytest.mark.parametrize("case", ["float64-huge-inputs", "float32-deep"])
def test_the_error_bounds_catch_small_discrepancies(case):
    """The oracle must be able to fail: errors far smaller than a bug makes fail, the core's own results pass.
    (The bounds before these carried input magnitudes through saturated units as if they were linear,
    allowing 1e289 on the first case's loss of 1.2, and let every injected error here through but the
    float32 gradient's.)"""
    core, ref, X, Y, error = _data(case)
    forward_bound, loss_bound, grad_bound = error_bounds(ref, X, Y)
    results = (core.forward(X), *core.loss_and_grad(X, Y))
    expected = (ref.forward(X), *ref.loss_and_grad(X, Y))
    bounds = (forward_bound, loss_bound, grad_bound)
    # dW[1] = A[1]^T delta[2], A[1] the tanh units' outputs. (dW[0] = X^T delta[1] is 1e300 times the
    # rounding of tanh' where tanh rounds to +-1: a last-place difference in tanh moves it by 1e284.)
    second_layer = slice(ref.coefs[0].size, ref.coefs[0].size + ref.coefs[1].size)
    for name, got, want, bound in zip(("forward", "loss", "gradient"), results, expected, bounds):
        assert_close(got, want, ref.dtype, name, bound)
        wrong = np.array(got, dtype=np.float64)
        if name == "gradient":
            wrong[second_layer] += error * np.abs(wrong).max()
        else:
            wrong *= 1 + error
        with pytest.raises(AssertionError, match="differ by more than their error bound"):
            assert_close(wrong, want, ref.dtype, name, bound)


def test_softmax_over_more_classes_than_one_exp_sweep_equals_numpy_backend(dtype):
    # The core's softmax takes exp() over rows in chunks of 256 entries: 600 classes need three.
    rng = np.random.RandomState(0)
    core, ref = net_pair([5, 8, 600], "tanh", "softmax", dtype, seed=0)
    X = rng.randn(30, 5) * 3
    Y = make_targets("softmax", 30, 600, rng)
    forward_bound, loss_bound, grad_bound = error_bounds(ref, X, Y)
    y_hat = core.forward(X)
    assert_close(y_hat, ref.forward(X), dtype, "forward", forward_bound)
    np.testing.assert_allclose(y_hat.sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)
    loss, grad = core.loss_and_grad(X, Y)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y)
    assert_close(loss, ref_loss, dtype, "loss", loss_bound)
    assert_close(grad, ref_grad, dtype, "gradient", grad_bound)
