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
