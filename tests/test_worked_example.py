"""The classic worked example: a 3-2-1 logistic network on one sample, differentiated by hand."""

import numpy as np
import pytest

import fastbp


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


W1 = np.array([[0.1, -0.4], [0.3, 0.2], [-0.5, 0.6]])  # (n_in, n_out) = (3, 2)
b1 = np.array([0.05, -0.1])
W2 = np.array([[0.7], [-0.3]])                       # (2, 1)
b2 = np.array([0.2])
x = np.array([1.0, 2.0, -1.5])
y = 1.0


def worked_net(backend):
    net = fastbp.MLP([3, 2, 1], activation="logistic", output="logistic", backend=backend)
    net.coefs[0][...] = W1
    net.intercepts[0][...] = b1
    net.coefs[1][...] = W2
    net.intercepts[1][...] = b2
    return net


def by_hand():
    """Loss, y_hat and gradients (dW1, db1, dW2, db2) of the worked example, by the chain rule."""
    # Forward, one scalar at a time.
    a1 = np.array([sigmoid(x @ W1[:, j] + b1[j]) for j in range(2)])
    z2 = a1 @ W2[:, 0] + b2[0]
    y_hat = sigmoid(z2)
    loss_by_hand = -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))

    # Backward: the chain rule written out.
    dz2 = y_hat - y                                  # dL/dz2 = y_hat - y
    dW2 = a1 * dz2                                   # dL/dW2 = a1 (y_hat - y)
    db2 = dz2                                        # dL/db2 = y_hat - y
    dz1 = dz2 * W2[:, 0] * a1 * (1 - a1)             # (y_hat - y) W2 * a1 (1 - a1)
    dW1 = np.outer(x, dz1)                           # dL/dW1 = x (outer) dz1
    db1 = dz1
    return loss_by_hand, y_hat, (dW1, db1, dW2, db2)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_three_two_one_gradient_matches_the_chain_rule_by_hand(backend):
    net = worked_net(backend)
    loss_by_hand, y_hat, (dW1, db1, dW2, db2) = by_hand()

    loss, grad = net.loss_and_grad(x[None, :], np.array([[y]]))
    coef_grads, intercept_grads = net.unflatten(grad)

    assert [g.shape for g in coef_grads] == [W.shape for W in net.coefs] == [(3, 2), (2, 1)]
    assert [g.shape for g in intercept_grads] == [b.shape for b in net.intercepts] == [(2,), (1,)]
    np.testing.assert_allclose(loss, loss_by_hand, rtol=1e-14)
    np.testing.assert_allclose(coef_grads[1][:, 0], dW2, rtol=1e-14)
    np.testing.assert_allclose(intercept_grads[1], [db2], rtol=1e-14)
    np.testing.assert_allclose(coef_grads[0], dW1, rtol=1e-14)
    np.testing.assert_allclose(intercept_grads[0], db1, rtol=1e-14)
    np.testing.assert_allclose(net.forward(x[None, :]), [[y_hat]], rtol=1e-14)


# Velocity starts at zero, so the first step is -lr g times 1 (plain and classic momentum: v = -lr g) or
# 1 + momentum (Nesterov: params += momentum v - lr g).
@pytest.mark.parametrize("momentum, nesterov, factor", [(0.0, False, 1.0), (0.9, False, 1.0), (0.9, True, 1.9)])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_one_sgd_step_by_hand_equals_the_trainers_step(backend, momentum, nesterov, factor):
    net = worked_net(backend)
    _, _, (dW1, db1, dW2, db2) = by_hand()
    lr = 0.5
    trainer = fastbp.Trainer(net, fastbp.SGD(lr, momentum, nesterov), batch_size=1, max_epochs=1, shuffle=False)
    trainer.fit(x[None, :], [[y]])

    np.testing.assert_allclose(net.coefs[0], W1 - factor * lr * dW1, rtol=1e-14)
    np.testing.assert_allclose(net.intercepts[0], b1 - factor * lr * db1, rtol=1e-14)
    np.testing.assert_allclose(net.coefs[1][:, 0], W2[:, 0] - factor * lr * dW2, rtol=1e-14)
    np.testing.assert_allclose(net.intercepts[1], b2 - factor * lr * db2, rtol=1e-14)
