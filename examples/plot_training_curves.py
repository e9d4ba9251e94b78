"""
=====================================================
Training curves of the solvers and learning schedules
=====================================================

How fast does the training loss fall with plain SGD, SGD with momentum or
Nesterov momentum, a decaying (``invscaling``) or ``adaptive`` learning rate,
and Adam? This is scikit-learn's comparison of stochastic learning strategies,
run by fastbp's drop-in :class:`fastbp.MLPClassifier`: the same parameters, the
same ``loss_curve_``, trained by the compiled core.

A fastbp callback also records the learning rate each epoch used, which shows
what the schedules do.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits, load_iris, make_circles, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastbp

# %%
# The strategies
# --------------
# Each is a set of :class:`~fastbp.MLPClassifier` parameters (scikit-learn's
# defaults otherwise: momentum 0.9, Nesterov's, a constant learning rate). The
# SGD variants start from a learning rate of 0.2; Adam adapts its steps per
# weight and starts from 0.01.

SGD = dict(solver="sgd", learning_rate_init=0.2)
STRATEGIES = {
    "constant": dict(SGD, momentum=0.0),
    "constant, momentum": dict(SGD, nesterovs_momentum=False),
    "constant, Nesterov": dict(SGD),
    "invscaling": dict(SGD, learning_rate="invscaling", momentum=0.0),
    "invscaling, Nesterov": dict(SGD, learning_rate="invscaling"),
    "adaptive, Nesterov": dict(SGD, learning_rate="adaptive"),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}
COLORS = {"constant": "C0", "invscaling": "C1", "adaptive": "C2", "adam": "C3"}
LINES = {"momentum": "--", "Nesterov": ":"}


def style(label):
    """Colour by schedule, line style by momentum."""
    schedule, _, momentum = label.partition(", ")
    return dict(color=COLORS[schedule], linestyle=LINES.get(momentum, "-"),
                label=label)


class LearningRates(fastbp.Callback):
    """Record each epoch's learning rate from its history record."""

    def __init__(self):
        self.rates = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.rates.append(logs["learning_rate"])


# %%
# Four small data sets
# --------------------
# Two bundled with scikit-learn and two generated; the features are
# standardised.

datasets = {
    "iris": load_iris(return_X_y=True),
    "digits": load_digits(return_X_y=True),
    "circles": make_circles(noise=0.2, factor=0.5, random_state=1),
    "moons": make_moons(noise=0.3, random_state=0),
}

# %%
# Training
# --------
# Every run has the same initial weights (``random_state=0``) and at most 150
# epochs. A run stops earlier when the training loss has not improved by
# ``tol`` for ``n_iter_no_change`` epochs (with the adaptive schedule: when the
# learning rate, divided by 5 at each such plateau, gets too small).

curves, rates = {}, {}
for name, (X, y) in datasets.items():
    X = StandardScaler().fit_transform(X)
    for label, params in STRATEGIES.items():
        recorder = LearningRates()
        clf = fastbp.MLPClassifier(max_iter=150, random_state=0,
                                   callbacks=[recorder], **params)
        with warnings.catch_warnings():
            # Some strategies would need more epochs to converge.
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        curves[name, label] = clf.loss_curve_
        rates[name, label] = recorder.rates

print("final training loss".ljust(22), *(f"{name:>8}" for name in datasets))
for label in STRATEGIES:
    print(label.ljust(22), *(f"{curves[name, label][-1]:8.3f}"
                             for name in datasets))

# %%
# The loss curves
# ---------------

fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True,
                         layout="constrained")
for ax, name in zip(axes.ravel(), datasets):
    for label in STRATEGIES:
        ax.plot(curves[name, label], **style(label))
    ax.set_title(name)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
for ax in axes[1]:
    ax.set_xlabel("epoch")
for ax in axes[:, 0]:
    ax.set_ylabel("training loss (log scale)")
fig.legend(*axes[0, 0].get_legend_handles_labels(),
           loc="outside lower center", ncols=4)
fig.suptitle("Training loss per epoch, fastbp.MLPClassifier")

# %%
# Momentum makes the largest difference for SGD; Adam, with a learning rate
# twenty times smaller, falls about as fast. As the scikit-learn example says,
# the ranking depends on ``learning_rate_init``: a strategy that is too slow
# here may be the best one with another starting rate.
#
# The learning rates
# ------------------
# What each schedule did on the digits: ``constant`` keeps 0.2, ``invscaling``
# divides it by the square root of the number of samples seen
# (``power_t=0.5``), and ``adaptive`` divides it by 5 each time the loss
# stalls. Adam's rate stays constant (its per-weight steps adapt instead).

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for label in ("constant", "invscaling", "adaptive, Nesterov", "adam"):
    ax.plot(rates["digits", label], **style(label))
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate (log scale)")
ax.set_title("Learning rate per epoch on the digits, recorded by a callback")
ax.grid(alpha=0.3)
ax.legend()

plt.show()
