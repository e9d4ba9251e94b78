r"""
====================================================
The 3-2-1 network, worked by hand and checked
====================================================

The smallest network that shows all of backpropagation: 3 inputs, 2 logistic
hidden units, 1 logistic output with binary cross-entropy. This example
computes its forward pass and its gradient by hand with NumPy, following the
chain rule of :doc:`/user_guide/backpropagation`, and checks both against
fastbp's compiled core (:meth:`fastbp.MLP.loss_and_grad`) and against central
differences of the loss (:func:`fastbp.gradcheck`). Then it takes a few steps
of gradient descent, :math:`W \leftarrow W - \eta\,\partial J / \partial W`.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastbp

# %%
# The network and one sample
# --------------------------
# ``coefs[l]`` has shape (n_in, n_out), as scikit-learn's ``coefs_``: row i
# holds the weights leaving input i. All eleven numbers live in one flat
# buffer, ``net.params``; the per-layer arrays are views of it.

net = fastbp.MLP([3, 2, 1], activation="logistic", random_state=0)
W1, W2 = net.coefs
b1, b2 = net.intercepts
print(f"W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}: "
      f"{net.n_params} parameters")

x = np.array([[1.0, 2.0, -1.5]])  # one sample, a row
y = np.array([[1.0]])  # its target

# %%
# Forward pass by hand
# --------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


z1 = x @ W1 + b1  # (1, 2) hidden pre-activations
h = sigmoid(z1)  # (1, 2) hidden activations
z2 = h @ W2 + b2  # (1, 1) the output's logit
y_hat = sigmoid(z2)  # (1, 1) the predicted probability
# Binary cross-entropy -[y log y_hat + (1 - y) log(1 - y_hat)], written stably
# from the logit: log(1 + exp(z)) - y z.
loss = (np.logaddexp(0.0, z2) - y * z2).item()
print(f"y_hat = {y_hat.item():.6f} (fastbp's forward pass: "
      f"{net.forward(x).item():.6f}), loss = {loss:.6f}")

# %%
# Backward pass by hand
# ---------------------
# The output's error is :math:`\hat y - y`; each layer's weight gradient is its
# input, transposed, times the error arriving at it; the error goes back
# through the transposed weights and the sigmoid's derivative :math:`h(1-h)`.

delta2 = y_hat - y  # (1, 1)
dW2 = h.T @ delta2  # (2, 1), shaped like W2
db2 = delta2.sum(axis=0)  # (1,)
delta1 = (delta2 @ W2.T) * h * (1 - h)  # (1, 2)
dW1 = x.T @ delta1  # (3, 2), shaped like W1
db1 = delta1.sum(axis=0)  # (2,)

# %%
# fastbp's gradient, and central differences
# ------------------------------------------
# :meth:`~fastbp.MLP.loss_and_grad` returns the loss and the flat gradient,
# laid out like ``net.params``; :meth:`~fastbp.MLP.unflatten` splits it into
# arrays shaped like the layers.

core_loss, grad = net.loss_and_grad(x, y)
coef_grads, intercept_grads = net.unflatten(grad)
hand = np.concatenate([dW1.ravel(), dW2.ravel(), db1, db2])
print(f"loss: by hand {loss:.12f}, fastbp {core_loss:.12f}")
print(f"gradient: largest difference from the hand-worked one "
      f"{np.abs(grad - hand).max():.1e}")
print("shapes:", [g.shape for g in coef_grads],
      [g.shape for g in intercept_grads])
# The largest relative error against central differences of the loss:
print(f"gradcheck: {fastbp.gradcheck(net, x, y):.1e}")

# %%
# The network with its weights and their gradients
# ------------------------------------------------
# Each edge carries its weight :math:`w` and :math:`\partial J/\partial w`;
# each unit its bias and the bias's gradient. All gradients come from the flat
# buffer fastbp returned.

positions = {("x", i): (0.0, 2.0 - 1.5 * i) for i in range(3)}
positions.update({("h", j): (1.0, 1.25 - 2.5 * j) for j in range(2)})
positions[("y", 0)] = (2.0, 0.0)
fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
layers = [("x", "h", W1, coef_grads[0]), ("h", "y", W2, coef_grads[1])]
for layer_in, layer_out, W, dW in layers:
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            x0, y0 = positions[(layer_in, i)]
            x1, y1 = positions[(layer_out, j)]
            ax.plot([x0, x1], [y0, y1], color="0.6", zorder=1)
            # Where along the edge its label sits: apart from the others.
            t = (0.28, 0.62)[j] if layer_in == "x" else 0.5
            ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0),
                    f"w={W[i, j]:+.3f}\n∂J/∂w={dW[i, j]:+.4f}",
                    ha="center", va="center", fontsize=8.5,
                    bbox=dict(boxstyle="round", fc="white", ec="0.75"))


def unit(name, value, bias, bias_grad):
    return f"{name} = {value:.3f}\nb={bias:+.3f}\n∂J/∂b={bias_grad:+.4f}"


labels = {("x", i): f"x{i + 1} = {x[0, i]:g}" for i in range(3)}
for j in range(2):
    labels[("h", j)] = unit(f"h{j + 1}", h[0, j], b1[j], intercept_grads[0][j])
labels[("y", 0)] = unit("ŷ", y_hat.item(), b2[0], intercept_grads[1][0])
colors = {"x": "#c6dbef", "h": "#fdd0a2", "y": "#c7e9c0"}
for node, (px, py) in positions.items():
    ax.text(px, py, labels[node], ha="center", va="center", fontsize=10,
            zorder=3, bbox=dict(boxstyle="round,pad=0.6", fc=colors[node[0]],
                                ec="0.4"))
ax.set_title(f"3-2-1 network, input x = (1, 2, -1.5), target y = 1: "
             f"loss {core_loss:.4f}")
ax.set_xlim(-0.3, 2.3)
ax.set_ylim(-1.8, 2.4)
ax.set_axis_off()

# %%
# Gradient descent
# ----------------
# Steps of :math:`W \leftarrow W - \eta\,\partial J/\partial W` on the flat
# buffer, with :math:`\eta = 0.5`: the prediction moves towards the target and
# the loss falls. (:class:`fastbp.Trainer` runs such steps for whole epochs of
# minibatches in one compiled call.)

losses = []
for _ in range(40):
    step_loss, grad = net.loss_and_grad(x, y)
    losses.append(step_loss)
    net.params[:] -= 0.5 * grad
print(f"after 40 steps: loss {net.loss(x, y):.4f}, "
      f"y_hat {net.forward(x).item():.4f}")

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(losses, marker="o", markersize=3)
ax.set_xlabel("gradient step")
ax.set_ylabel("loss")
ax.set_title("Gradient descent on the one sample, learning rate 0.5")
ax.grid(alpha=0.3)
plt.show()
