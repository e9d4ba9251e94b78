"""Optimizer steps equal scikit-learn's optimizers, and Adam written out by hand, bit for bit, on the same
gradients."""

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


class AdamByHand:
    """Adam with every operation's dtype written out: the moments in the model's dtype, the bias-corrected
    step size and the update in float64, rounded once into the parameters. scikit-learn's AdamOptimizer
    computes this under NumPy 2's promotion rules; under NumPy 1's, its float32 update stays float32."""

    def __init__(self, params, learning_rate, beta_1, beta_2, epsilon):
        self.lr, self.b1, self.b2, self.eps, self.t = learning_rate, beta_1, beta_2, epsilon, 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        self.t += 1
        step = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, g, m, v in zip(params, grads, self.ms, self.vs):
            kind = p.dtype.type
            m[...] = kind(self.b1) * m + kind(1 - self.b1) * g
            v[...] = kind(self.b2) * v + kind(1 - self.b2) * (g * g)
            denominator = (np.sqrt(v) + kind(self.eps)).astype(np.float64)
            p[...] = (p.astype(np.float64) + (-step) * m.astype(np.float64) / denominator).astype(p.dtype)


def test_adam_equals_adam_by_hand(dtype, rng):
    ours = fastbp.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7)
    flat, theirs = run_both(ours, lambda p: AdamByHand(p, 0.01, 0.8, 0.99, 1e-7), dtype, rng)
    assert ours.t == 6
    np.testing.assert_array_equal(flat, theirs)


def test_adam_equals_scikit_learn(dtype, rng):
    ours = fastbp.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7)
    flat, theirs = run_both(ours, lambda p: AdamOptimizer(p, 0.01, 0.8, 0.99, 1e-7), dtype, rng)
    if dtype == np.float64:
        np.testing.assert_array_equal(flat, theirs)
    else:  # one rounding of the update apart at most, whichever NumPy promotion rules scikit-learn runs under
        np.testing.assert_array_max_ulp(flat, theirs, maxulp=1)


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


# The ideas of scikit-learn's sklearn/neural_network/tests/test_stochastic_optimizers.py, on fastbp's flat
# buffers: one step from a given state equals its formula written out in NumPy, bit for bit.
SHAPES = [(4, 6), (6, 8), (7, 8, 9)]  # scikit-learn's parameter shapes, laid end to end
N_PARAMS = sum(int(np.prod(shape)) for shape in SHAPES)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_without_momentum_steps_by_rate_times_gradient(nesterov):
    rng = np.random.RandomState(0)
    params = np.zeros(N_PARAMS)
    for lr in [10.0**i for i in range(-3, 4)]:
        grad = rng.random_sample(N_PARAMS)
        expected = params - lr * grad
        fastbp.SGD(learning_rate=lr, momentum=0.0, nesterov=nesterov).step(params, grad)
        np.testing.assert_array_equal(params, expected)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_step_from_a_given_velocity(nesterov):
    rng = np.random.RandomState(0)
    lr = 0.1
    for momentum in np.arange(0.5, 0.9, 0.1):
        params = np.zeros(N_PARAMS)
        opt = fastbp.SGD(learning_rate=lr, momentum=momentum, nesterov=nesterov)
        velocity = rng.random_sample(N_PARAMS)
        opt.state_for(params)["velocity"][...] = velocity
        grad = rng.random_sample(N_PARAMS)
        update = momentum * velocity - lr * grad
        if nesterov:
            update = momentum * update - lr * grad
        expected = params + update
        opt.step(params, grad)
        np.testing.assert_array_equal(params, expected)
        np.testing.assert_array_equal(opt.state_for(params)["velocity"], momentum * velocity - lr * grad)


def test_adam_step_from_given_moments_and_step_count():
    rng = np.random.RandomState(0)
    lr, epsilon, t = 0.001, 1e-8, 10
    for beta_1 in (0.9, 0.95):
        # scikit-learn's np.arange(0.995, 1.0, 0.001) also yields 1.0 by rounding, which fastbp refuses.
        for beta_2 in (0.995, 0.996, 0.997, 0.998, 0.999):
            params = np.zeros(N_PARAMS)
            opt = fastbp.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
            m, v = rng.random_sample(N_PARAMS), rng.random_sample(N_PARAMS)
            state = opt.state_for(params)
            state["m"][...], state["v"][...] = m, v
            opt.t = t - 1
            grad = rng.random_sample(N_PARAMS)
            m = beta_1 * m + (1 - beta_1) * grad
            v = beta_2 * v + (1 - beta_2) * grad**2
            rate = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            expected = params + -rate * m / (np.sqrt(v) + epsilon)
            opt.step(params, grad)
            assert opt.t == t
            np.testing.assert_array_equal(params, expected)
            np.testing.assert_array_equal(state["m"], m)
            np.testing.assert_array_equal(state["v"], v)


@pytest.mark.parametrize("schedule", ["constant", "adaptive"])
def test_a_plateau_stops_or_divides_an_adaptive_rate_by_five_while_above_1e_6(schedule):
    """scikit-learn's trigger_stopping: a constant rate stops at the first plateau; an adaptive rate of 2e-6
    is divided by 5 at the first and stops at the second, once it is at most 1e-6."""
    rng = np.random.RandomState(0)
    X, Y = rng.randn(20, 3), rng.randn(20, 1)
    net = fastbp.MLP([3, 2, 1], output="identity", random_state=0)
    # tol 1e9: every epoch after the first is no improvement, so a plateau comes every second epoch.
    stopper = fastbp.EarlyStopping("loss", n_iter_no_change=1, tol=1e9)
    trainer = fastbp.Trainer(net, fastbp.SGD(learning_rate=2e-6), batch_size=20, max_epochs=50, schedule=schedule,
                             early_stopping=stopper)
    history = trainer.fit(X, Y)
    if schedule == "constant":
        assert trainer.stop_reason == "early_stopping" and history.learning_rate == [2e-6] * 3
    else:
        assert trainer.stop_reason == "learning_rate"
        assert history.learning_rate == [2e-6] * 3 + [2e-6 / 5] * 2
        assert trainer.learning_rate == 2e-6 / 5
