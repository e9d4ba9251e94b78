"""The training-step protocol, written once for the loops that run it in Python: the NumPy reference backend's
epoch (`fastbp.backends`) and data-parallel training's (`fastbp.distributed`). The compiled core's epoch
(``epoch_loop`` in ``_core/_epoch.pyx``) is the same protocol in C, with the GIL released; the tests hold the
three to the same results.

For each minibatch of the epoch that carries weight (a minibatch whose sample weights are all zero carries no
information, and 0/0 gradients: it is skipped), with t the optimizer's step count before the step:

1. the objective and its gradient, with the dropout masks of (seed, t);
2. a non-finite objective ends the epoch there, before any update;
3. the step's learning rate: the schedule's rate at t (the epoch's rate without a schedule);
4. the gradient scaled to norm ``clip_norm`` when it is larger (its norm over every block);
5. the optimizer's step, t + 1;
6. the epoch's loss sum adds the objective times the minibatch's rows.
"""

from collections import namedtuple

import numpy as np

from fastbp import reference

EpochResult = namedtuple("EpochResult", ["loss_sum", "steps", "finite", "last_rate"])
EpochResult.__doc__ = """How an epoch ended: the sum of its minibatch objectives weighted by their sizes
(scikit-learn's epoch loss before it divides by n_samples), the optimizer's step count after it, whether
every minibatch objective was finite (the epoch stops at the first that is not, before its step), and the
learning rate of its last step (without a step, the rate the next one would take)."""


def step_rate(training, learning_rate, t):
    """The learning rate of step t: the schedule's (a `fastbp.schedules.Schedule`), or the epoch's."""
    return learning_rate if training.schedule is None else training.schedule.rate(t, learning_rate)


def train_steps(minibatches, gradient, update, training, learning_rate, t):
    """Run the protocol over `minibatches`, an iterable of (minibatch, n_rows) that leaves out those without
    weight; `gradient(minibatch, dropout)` returns (objective, gradient), dropout = (seed, t) or None, and
    `update(gradient, rate, t)` takes step t + 1. `training` is a `fastbp.backends.Training`; t the step count
    before the epoch. Returns an `EpochResult`."""
    loss_sum, rate = 0.0, step_rate(training, learning_rate, t)
    for minibatch, n_rows in minibatches:
        dropout = None if training.dropout_seed is None else (training.dropout_seed, t)
        loss, grad = gradient(minibatch, dropout)
        if not np.isfinite(loss):
            return EpochResult(loss_sum, t, False, rate)
        rate = step_rate(training, learning_rate, t)
        if training.clip_norm is not None:
            reference.clip(grad, training.clip_norm)
        update(grad, rate, t)
        loss_sum += loss * n_rows
        t += 1
    return EpochResult(loss_sum, t, True, rate)


def minibatches(n_rows, batch_size, order, sample_weight):
    """(rows, n_rows) of each minibatch of an epoch over n_rows rows in `order` (None: as they are) that carries
    weight: rows a slice or an index array."""
    for first in range(0, n_rows, batch_size):
        rows = slice(first, first + batch_size) if order is None else order[first:first + batch_size]
        if sample_weight is not None and not sample_weight[rows].sum(dtype=np.float64) > 0:
            continue
        yield rows, min(batch_size, n_rows - first)
