"""Results do not depend on the number of OpenMP threads."""

import numpy as np
import pytest

import fastbp
from conftest import ACTIVATIONS, OUTPUTS, make_targets


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_and_two_threads_give_bitwise_identical_results(activation, output, dtype, rng):
    # Large enough that every elementwise pass crosses the threshold where the core starts threads.
    n_samples, sizes = 600, [50, 300, 120, 4]
    one = fastbp.MLP(sizes, activation, output, dtype=dtype, random_state=0, n_threads=1)
    two = fastbp.MLP(sizes, activation, output, dtype=dtype, random_state=0, n_threads=2)
    X = rng.randn(n_samples, sizes[0])
    Y = make_targets(output, n_samples, sizes[-1], rng)
    sw = rng.rand(n_samples)

    np.testing.assert_array_equal(one.forward(X), two.forward(X))
    loss1, grad1 = one.loss_and_grad(X, Y, sw, alpha=0.1)
    loss2, grad2 = two.loss_and_grad(X, Y, sw, alpha=0.1)
    assert loss1 == loss2
    np.testing.assert_array_equal(grad1, grad2)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_blocked_passes_match_the_reference(activation, dtype, rng):
    # Work above the threading threshold, so the core cuts it into blocks: columns for the wide layers
    # (300, 200 units), rows for the narrow one (100 units) and for the loss.
    from conftest import assert_close, term_magnitudes

    sizes = [40, 300, 100, 200, 3]
    net = fastbp.MLP(sizes, activation, "softmax", dtype=dtype, random_state=0, n_threads=2)
    ref = net.copy(backend="numpy")
    X = rng.randn(130, sizes[0])
    Y = make_targets("softmax", 130, sizes[-1], rng)
    sw = rng.rand(130)
    loss, grad = net.loss_and_grad(X, Y, sw, alpha=0.1)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, sw, alpha=0.1)
    forward_terms, loss_terms, grad_terms = term_magnitudes(net, X, Y, sw, alpha=0.1)
    assert_close(net.forward(X), ref.forward(X), dtype, "forward", forward_terms)
    assert_close(loss, ref_loss, dtype, "loss", loss_terms)
    assert_close(grad, ref_grad, dtype, "grad", grad_terms)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("n_samples", [20, 130], ids=["one-block", "blocked"])
def test_loss_without_gradient_equals_the_objective_of_loss_and_grad(backend, n_samples, dtype, rng):
    # `loss` runs a forward pass only; it must give exactly the objective the backward pass reports.
    sizes = [40, 300, 100, 3]
    net = fastbp.MLP(sizes, "tanh", "softmax", dtype=dtype, random_state=0, backend=backend, n_threads=2)
    X = rng.randn(n_samples, sizes[0])
    Y = make_targets("softmax", n_samples, sizes[-1], rng)
    sw = rng.rand(n_samples)
    assert net.loss(X, Y, sw, alpha=0.3) == net.loss_and_grad(X, Y, sw, alpha=0.3)[0]
    assert net.loss(X, Y) == net.loss_and_grad(X, Y)[0]
