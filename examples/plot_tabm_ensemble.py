"""
=============================================
TabM: an ensemble of MLPs trained in one pass
=============================================

TabM (Gorishniy et al., ICLR 2025) trains k MLPs at once as one network: every hidden layer shares its weight
matrix W among the members and gives each member its own input scaling r, output scaling s and bias,
``y = ((x * r) W) * s + b``. The k members see the same minibatches, their losses are averaged, and the model's
prediction is the mean of theirs. Here TabM with k = 16 members learns Friedman's regression problem #1; the
figure compares each member's test error with the ensemble's and with a plain MLP of the same width trained the
same way, and adds TabM-mini (one scaling r per member before shared layers) reading piecewise-linear embeddings
of the features (``fastbp.embeddings.PiecewiseLinear``), the combination the TabM paper recommends.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.model_selection import train_test_split

import fastbp

X, y = make_friedman1(n_samples=3000, n_features=8, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
mean, std = X_train.mean(axis=0), X_train.std(axis=0)
X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
center, scale = y_train.mean(), y_train.std()
Y_train = ((y_train - center) / scale)[:, None]


def rmse(prediction):
    return float(np.sqrt(np.mean((prediction.reshape(-1) * scale + center - y_test) ** 2)))


# %%
# Two models, one recipe
# ----------------------
# TabM (``ensemble_size=16``, the BatchEnsemble form ``ensemble="batch"``, ``tabm``'s initialization
# ``init="torch"``) and a plain MLP, both 8-128-128-1 with ReLU, dropout 0.1, AdamW at 2e-3 with weight decay
# on the weights and scalings (not the biases), batches of 64 rows, 40 epochs.


def fit(**ensemble):
    net = fastbp.MLP([8, 128, 128, 1], "relu", "identity", random_state=0, dropout=0.1, init="torch", **ensemble)
    fastbp.Trainer(net, fastbp.AdamW(2e-3, weight_decay=1e-4), batch_size=64, max_epochs=40,
                   random_state=0).fit(X_train, Y_train)
    return net


tabm = fit(ensemble_size=16, ensemble="batch")
plain = fit()
members = [rmse(tabm.forward(X_test, members=True)[:, m]) for m in range(tabm.ensemble_size)]
print(f"plain MLP {rmse(plain.forward(X_test)):.3f}, TabM members {np.mean(members):.3f} on average "
      f"(best {min(members):.3f}), "
      f"TabM {rmse(tabm.forward(X_test)):.3f} (test RMSE)")

# %%
# With piecewise-linear embeddings
# --------------------------------
# Each feature is encoded over 32 quantile bins of the training data and mapped to 8 units before the first
# layer (``rtdl_num_embeddings``' version "B"); TabM-mini shares every hidden layer among its members.

bins = fastbp.embeddings.compute_bins(X_train, n_bins=32)
ple = fit(ensemble_size=16, ensemble="mini", embedding=fastbp.embeddings.PiecewiseLinear(bins, d_embedding=8))
print(f"TabM-mini with piecewise-linear embeddings {rmse(ple.forward(X_test)):.3f} (test RMSE)")

# %%
# Members against the ensemble
# ----------------------------
# On this problem each member alone already beats the plain MLP (the shared W is trained by every member's
# rows), and the members' mean beats the best of them: the printed line gives the numbers of this run.

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(range(len(members)), members, color="tab:blue", alpha=0.6, label="each member")
ax.axhline(rmse(tabm.forward(X_test)), color="tab:red", label="TabM: the members' mean")
ax.axhline(rmse(plain.forward(X_test)), color="k", linestyle="--", label="plain MLP")
ax.axhline(rmse(ple.forward(X_test)), color="tab:green", linestyle=":", label="TabM-mini, embeddings")
ax.set_xlabel("member")
ax.set_ylabel("test RMSE")
ax.set_ylim(0.9 * min(members + [rmse(tabm.forward(X_test)), rmse(ple.forward(X_test))]), 1.05 * max(members))
ax.legend(loc="upper right")
fig.tight_layout()
plt.show()
