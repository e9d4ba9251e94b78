"""The training-step protocol (`fastbp.steps`), written once in Python for the reference backend's epoch and
data-parallel training's, and in C in the compiled epoch kernel: the kernel must take the steps that the protocol
takes with the kernel's own gradient and optimizer step, and end the epoch the same way."""

import numpy as np
import pytest

import fastbp
from fastbp import steps
from fastbp.backends import Batch, Training


def problem(order=None, n=70, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    X[:, 3] = rng.randint(-1, 3, n)  # a categorical column, for the models with one
    Y = rng.randn(n, 2)
    w = rng.rand(n)
    w[np.arange(16, 32) if order is None else order[16:32]] = 0  # the second minibatch has no weight: no step
    return X, Y, w


def protocol_epoch(net, optimizer, training, X, Y, w, order, batch_size, learning_rate):
    """One epoch of `steps.train_steps` with the compiled backend's gradient and optimizer step."""
    def gradient(rows, dropout):
        batch = Batch(X[rows], Y[rows], w[rows], float(w[rows].sum()))
        return net.batch_loss_and_grad(batch, training.alpha, dropout=dropout)

    def update(grad, rate, t):
        net.engine.step(optimizer, net.params, grad, rate)

    return steps.train_steps(steps.minibatches(X.shape[0], batch_size, order, w), gradient, update, training,
                             learning_rate, optimizer.t)


@pytest.mark.parametrize("options", [{}, {"ensemble_size": 3, "categories": [3]}], ids=["plain", "ensemble"])
@pytest.mark.parametrize("clip_norm", [None, 0.05])
def test_the_compiled_epoch_takes_the_protocols_steps(options, clip_norm):
    order = np.random.RandomState(1).permutation(70)
    X, Y, w = problem(order)
    if not options:
        X = np.ascontiguousarray(X[:, :3])
    net = fastbp.MLP([X.shape[1], 8, 2], "tanh", "identity", dropout=0.2, random_state=0, n_threads=1, **options)
    training = Training(alpha=0.01, clip_norm=clip_norm, schedule=fastbp.schedules.WarmupCosine(2, 6),
                        dropout_seed=5)
    ours, optimizer = net.copy(), fastbp.AdamW(0.01, weight_decay=0.1)
    expected = protocol_epoch(ours, optimizer, training, X, Y, w, order, 16, 0.01)

    kernel_net, kernel_optimizer = net.copy(), fastbp.AdamW(0.01, weight_decay=0.1)
    kernel = kernel_net.engine.epoch_kernel(kernel_net, kernel_optimizer, training, 16, kernel_net.thread_plan())
    state = kernel_optimizer.state_for(kernel_net.params)
    result = kernel.train_epoch(kernel_net.params, X, Y, w, order, state, 0.01, 0)

    assert result.steps == expected.steps == 4  # 5 minibatches, one without weight
    assert result.finite and expected.finite
    assert result.last_rate == expected.last_rate == fastbp.schedules.WarmupCosine(2, 6).rate(3, 0.01)
    assert result.loss_sum == pytest.approx(expected.loss_sum, rel=1e-12)
    np.testing.assert_allclose(kernel_net.params, ours.params, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_an_epoch_ends_before_the_update_of_a_non_finite_objective(backend):
    """The fourth minibatch's objective is infinite: two steps (the second minibatch has no weight), the rate of the
    second, the params as the protocol left them after two steps."""
    X, Y, w = problem()
    X = np.ascontiguousarray(X[:, :3])
    Y[56] = np.inf
    net = fastbp.MLP([3, 8, 2], "tanh", "identity", random_state=0, backend=backend)
    training = Training(schedule=fastbp.schedules.WarmupCosine(3, 10))
    expected_net, expected_optimizer = net.copy(backend="cython"), fastbp.Adam(0.01)
    expected = protocol_epoch(expected_net, expected_optimizer, training, X, Y, w, None, 16, 0.01)
    optimizer = fastbp.Adam(0.01)
    kernel = net.engine.epoch_kernel(net, optimizer, training, 16, net.thread_plan())
    result = kernel.train_epoch(net.params, X, Y, w, None, optimizer.state_for(net.params), 0.01, 0)
    assert (result.steps, result.finite) == (expected.steps, expected.finite) == (2, False)
    assert result.last_rate == expected.last_rate == fastbp.schedules.WarmupCosine(3, 10).rate(1, 0.01)
    np.testing.assert_allclose(net.params, expected_net.params, rtol=1e-12)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_an_epoch_without_a_step_reports_the_rate_the_next_step_takes(backend):
    X, Y, _ = problem()
    net = fastbp.MLP([4, 5, 2], "tanh", "identity", random_state=0, backend=backend)
    schedule = fastbp.schedules.WarmupCosine(3, 10)
    optimizer = fastbp.SGD(0.1)
    kernel = net.engine.epoch_kernel(net, optimizer, Training(schedule=schedule), 16, net.thread_plan())
    result = kernel.train_epoch(net.params, X, Y, np.zeros(len(X)), None, optimizer.state_for(net.params), 0.1, 7)
    assert result == (0.0, 7, True, schedule.rate(7, 0.1))
