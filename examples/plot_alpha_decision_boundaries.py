r"""
======================================================
Decision boundaries and the L2 penalty ``alpha``
======================================================

``alpha`` adds :math:`\frac{\alpha}{2S}\sum_l \lVert W_l \rVert^2` to the
objective (:math:`S` the number of samples), pulling the weights towards zero.
Small weights keep the logistic and tanh units in their nearly linear range, so
the larger ``alpha``, the smoother the boundary the network can draw. Here
:class:`fastbp.MLPClassifier` with two hidden layers of 20 units learns two
generated data sets, moons and circles, for four values of ``alpha``; the shade
is the predicted probability of the red class and the number in the corner the
accuracy on held-out points (drawn with a white edge).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_circles, make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier

alphas = [1e-4, 1e-1, 1.0, 5.0]
datasets = {
    "moons": make_moons(n_samples=300, noise=0.3, random_state=0),
    "circles": make_circles(n_samples=300, noise=0.2, factor=0.5,
                            random_state=1),
}
points = dict(cmap="RdBu_r", s=12)

fig, axes = plt.subplots(len(datasets), len(alphas), figsize=(10, 5.4),
                         sharex="row", sharey="row", layout="constrained")
for row, (name, (X, y)) in zip(axes, datasets.items()):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=42)
    for ax, alpha in zip(row, alphas):
        # Adam, the default solver, with a larger step than its default: each
        # epoch is one compiled call over these few hundred points.
        mlp = MLPClassifier(hidden_layer_sizes=(20, 20), activation="tanh",
                            alpha=alpha, learning_rate_init=0.01,
                            max_iter=2000, random_state=0)
        clf = make_pipeline(StandardScaler(), mlp).fit(X_train, y_train)
        score = clf.score(X_test, y_test)
        DecisionBoundaryDisplay.from_estimator(
            clf, X, response_method="predict_proba", cmap="RdBu_r", alpha=0.8,
            ax=ax, grid_resolution=150, vmin=0, vmax=1)
        ax.scatter(*X_train.T, c=y_train, edgecolors="k", linewidths=0.4,
                   **points)
        ax.scatter(*X_test.T, c=y_test, edgecolors="w", linewidths=0.6,
                   **points)
        ax.text(0.97, 0.04, f"{score:.2f}", transform=ax.transAxes,
                ha="right", fontsize=13,
                bbox=dict(facecolor="white", alpha=0.7, edgecolor="none"))
        ax.set(xticks=[], yticks=[], xlabel="", ylabel="",
               title=f"{name}, alpha={alpha:g}")
        largest = max(np.abs(W).max() for W in mlp.coefs_)
        print(f"{name:>7}, alpha={alpha:<6g} accuracy {score:.3f}, "
              f"{mlp.n_iter_:>4} epochs, largest |weight| {largest:5.2f}")

plt.show()

# %%
# With ``alpha=1e-4`` the network follows the noise of single training points;
# as ``alpha`` grows the weights shrink (see the largest weight printed above)
# and the boundary smooths out, until at ``alpha=5`` it cannot bend enough for
# the circles any more. Choosing ``alpha`` is a matter of cross-validation, for
# example with :class:`~sklearn.model_selection.GridSearchCV`, which accepts
# the fastbp estimators as it does scikit-learn's.
