"""Optimizer steps equal scikit-learn's optimizers, bit for bit, on the same gradients."""

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

import fastbp


def run_both(ours, theirs_factory, dtype, rng, n_steps=6):
    shapes = [(4, 3), (3,)]
    params = [rng.randn(*s).astype(dtype) for s in shapes]
    flat = np.concatenate([p.ravel() for p in params])
    theirs = theirs_factory(params)
    for _ in range(n_steps):
        grads = [rng.randn(*s).astype(dtype) for s in shapes]
        theirs.update_params(params, grads)
        ours.step(flat, np.concatenate([g.ravel() for g in grads]))
    return flat, np.concatenate([p.ravel() for p in params])


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)],
                         ids=["plain", "momentum", "nesterov"])
def test_sgd_equals_scikit_learn(momentum, nesterov, dtype, rng):
    ours = fastbp.SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    flat, theirs = run_both(ours, lambda p: SGDOptimizer(p, 0.05, "constant", momentum, nesterov), dtype, rng)
    np.testing.assert_array_equal(flat, theirs)


def test_adam_equals_scikit_learn(dtype, rng):
    ours = fastbp.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7)
    flat, theirs = run_both(ours, lambda p: AdamOptimizer(p, 0.01, 0.8, 0.99, 1e-7), dtype, rng)
    assert ours.t == 6
    np.testing.assert_array_equal(flat, theirs)


def test_sgd_step_by_hand():
    opt = fastbp.SGD(learning_rate=0.5, momentum=0.5, nesterov=False)
    params, grad = np.array([1.0, -2.0]), np.array([0.2, 0.4])
    opt.step(params, grad)            # v = -0.5 * g = [-0.1, -0.2]
    np.testing.assert_array_equal(params, [0.9, -2.2])
    opt.step(params, grad)            # v = 0.5 * v - 0.5 * g = [-0.15, -0.3]
    np.testing.assert_allclose(params, [0.75, -2.5], rtol=1e-15)


@pytest.mark.parametrize(
    "factory, error, words",
    [
        (lambda: fastbp.SGD(learning_rate=0), ValueError, "learning_rate must be > 0"),
        (lambda: fastbp.SGD(learning_rate=-1), ValueError, "learning_rate must be > 0"),
        (lambda: fastbp.SGD(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
        (lambda: fastbp.SGD(nesterov="yes"), TypeError, "nesterov must be a bool"),
        (lambda: fastbp.Adam(beta_1=1.0), ValueError, r"beta_1 must be in \[0, 1\)"),
        (lambda: fastbp.Adam(beta_2=-0.1), ValueError, "beta_2 must be >= 0"),
        (lambda: fastbp.Adam(epsilon=0), ValueError, "epsilon must be > 0"),
    ],
)
def test_bad_optimizer_arguments_are_refused(factory, error, words):
    with pytest.raises(error, match=words):
        factory()


def test_step_checks_buffers():
    opt = fastbp.SGD()
    with pytest.raises(ValueError, match="grad must be an array of shape"):
        opt.step(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="params must be a writeable"):
        opt.step(np.zeros(3, dtype=np.int64), np.zeros(3))
