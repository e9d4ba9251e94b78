"""
=========================================
Early stopping with validation curves
=========================================

A network with more weights than training samples learns its training set ever
better, while its loss on data it has not seen, after falling for a while,
starts to rise: it overfits. Early stopping watches a validation quantity after
every epoch and stops once it has not improved for a while, keeping the weights
of the best epoch.

Here a 64-128-10 network learns the digits from only 300 examples, with 600
more held out for validation, once for 200 epochs and once with
:class:`fastbp.EarlyStopping` on the validation loss.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer, StandardScaler

import fastbp

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X, y, train_size=300, test_size=600, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
# A softmax output takes one column per class (one-hot targets).
labels = LabelBinarizer().fit(y)
Y_train, Y_val = labels.transform(y_train), labels.transform(y_val)


def train(**settings):
    """A trained fresh network: the same initial weights and shuffles."""
    net = fastbp.MLP([64, 128, 10], activation="relu", output="softmax",
                     random_state=0)
    trainer = fastbp.Trainer(net, fastbp.Adam(learning_rate=0.003),
                             batch_size=32, max_epochs=200, random_state=0,
                             **settings)
    trainer.fit(X_train, Y_train, validation_data=(X_val, Y_val))
    return trainer


# %%
# Two runs
# --------
# The runs share their initial weights and shuffles, so the early-stopped one
# follows the long one exactly until it stops. ``monitor="val_loss"`` watches
# the validation loss; ``n_iter_no_change=10`` stops at the eleventh epoch in a
# row without an improvement; ``restore_best_weights=True`` then puts back the
# weights of the best epoch.

full = train()
stopper = fastbp.EarlyStopping(monitor="val_loss", n_iter_no_change=10,
                               restore_best_weights=True)
early = train(early_stopping=stopper)

best, stopped = stopper.best_epoch, len(early.history)
print(f"without early stopping: {len(full.history)} epochs, validation "
      f"loss {full.history.val_loss[-1]:.4f}, "
      f"accuracy {full.history.val_score[-1]:.4f}")
print(f"with early stopping: stopped after {stopped} epochs "
      f"({early.stop_reason});\n  best epoch {best}, "
      f"validation loss {stopper.best:.4f}")
# The restored weights are those of the best epoch: their validation loss is
# the one recorded then.
restored = early.net.loss(X_val, Y_val)
accuracy = np.mean(early.net.predict(X_val) == y_val)
print(f"the model now holds epoch {best}'s weights: validation loss "
      f"{restored:.4f}, accuracy {accuracy:.4f}")

# %%
# The curves
# ----------

epochs = np.arange(len(full.history))
fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(9, 4),
                                        layout="constrained")
ax_loss.plot(epochs, full.history.loss, label="training loss")
ax_loss.plot(epochs, full.history.val_loss, label="validation loss")
ax_loss.set_yscale("log")
ax_loss.set_ylabel("cross-entropy (log scale)")
ax_score.plot(epochs, full.history.val_score, color="C1",
              label="validation accuracy")
ax_score.set_ylim(0.85, 1.0)
ax_score.set_ylabel("accuracy")
for ax in (ax_loss, ax_score):
    ax.axvline(best, color="C2", linestyle="--",
               label=f"best epoch ({best}), weights kept")
    ax.axvline(stopped - 1, color="C3", linestyle=":",
               label=f"early stopping ends ({stopped - 1})")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle("64-128-10 network on 300 digits; 600 held out for validation")
plt.show()

# %%
# After its best epoch the validation loss rises slowly while the training loss
# keeps falling by orders of magnitude: the network becomes ever more
# confident, also about the held-out digits it gets wrong. The accuracy barely
# moves, which is why the loss is the more sensitive thing to watch.
#
# With the scikit-learn drop-ins the same rule is ``early_stopping=True``:
# :class:`fastbp.MLPClassifier` then holds out ``validation_fraction`` of the
# training data, watches the validation accuracy, and records
# ``validation_scores_`` and (fastbp's addition) ``validation_loss_curve_``.
