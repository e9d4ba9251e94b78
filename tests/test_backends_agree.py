"""The compiled core computes what the NumPy reference computes, for random architectures and data."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ACTIVATIONS, OUTPUTS, assert_close, make_targets, net_pair, term_magnitudes


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

    forward_terms, loss_terms, grad_terms = term_magnitudes(ref, X, Y, sw, p["alpha"])
    assert_close(core.forward(X), ref.forward(X), p["dtype"], "forward", forward_terms)
    loss, grad = core.loss_and_grad(X, Y, sw, p["alpha"])
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, sw, p["alpha"])
    assert grad.dtype == ref_grad.dtype == p["dtype"]
    assert_close(loss, ref_loss, p["dtype"], "loss", loss_terms)
    assert_close(grad, ref_grad, p["dtype"], "gradient", grad_terms)


def test_softmax_over_more_classes_than_one_exp_sweep_equals_numpy_backend(dtype):
    # The core's softmax takes exp() over rows in chunks of 256 entries: 600 classes need three.
    rng = np.random.RandomState(0)
    core, ref = net_pair([5, 8, 600], "tanh", "softmax", dtype, seed=0)
    X = rng.randn(30, 5) * 3
    Y = make_targets("softmax", 30, 600, rng)
    forward_terms, loss_terms, grad_terms = term_magnitudes(ref, X, Y, None, 0.0)
    y_hat = core.forward(X)
    assert_close(y_hat, ref.forward(X), dtype, "forward", forward_terms)
    np.testing.assert_allclose(y_hat.sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)
    loss, grad = core.loss_and_grad(X, Y)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y)
    assert_close(loss, ref_loss, dtype, "loss", loss_terms)
    assert_close(grad, ref_grad, dtype, "gradient", grad_terms)
