"""`gradcheck`: hold an analytic gradient to finite differences of the loss."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse

from fastbp._typing import Data
from fastbp.network import MLP


def gradcheck(net: MLP, X: Data, Y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None, alpha: float = 0.0,
              step: float | None = None, floor: float | None = None, dropout_seed: int | None = None) -> float:
    """Largest relative error between `net.loss_and_grad` and central differences of `net.loss`.

    The differences use the fourth-order central stencil
    (-f(p+2h) + 8 f(p+h) - 8 f(p-h) + f(p-2h)) / 12h on a float64 copy of the network (same backend), so
    they are accurate to about 1e-12 and a float32 network is judged against the true gradient.

    Parameters
    ----------
    net : fastbp.MLP
        The network, at the parameters to check.
    X, Y, sample_weight, alpha, dropout_seed
        As for `MLP.loss_and_grad`: with a dropout seed, the loss of every difference drops the same units
        (the masks of that seed), so the check holds dropout's gradient too.
    step : float, default=None
        The step h relative to ``max(1, |p_i|)`` for parameter p_i; default 1e-3.
    floor : float, default=None
        Entries are compared relative to ``max(|analytic|, |numeric|, floor * max(1, max|numeric|))``, so
        entries near zero are judged absolutely. Default 1e-6 for float64 networks, 1e-3 for float32.

    Returns
    -------
    float
        ``max_i |analytic_i - numeric_i| / max(|analytic_i|, |numeric_i|, floor scale)``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> net = fastbp.MLP([3, 2, 1], random_state=0)
    >>> X = np.array([[1.0, 2.0, -1.5], [0.5, -1.0, 2.0]])
    >>> Y = np.array([[1.0], [0.0]])
    >>> fastbp.gradcheck(net, X, Y) < 1e-8
    True
    """
    step = 1e-3 if step is None else float(step)
    if floor is None:
        floor = 1e-6 if net.dtype == np.float64 else 1e-3
    _, analytic = net.loss_and_grad(X, Y, sample_weight, alpha, dropout_seed=dropout_seed)
    probe = net.copy(dtype=np.float64)
    X64 = cast(Any, X).astype(np.float64) if scipy.sparse.issparse(X) else np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    sw64 = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    def loss_at(i, value):
        probe.params[i] = value
        return probe.loss(X64, Y64, sw64, alpha, dropout_seed=dropout_seed)

    numeric = np.empty(probe.n_params)
    for i, p in enumerate(probe.params.copy()):
        h = step * max(1.0, abs(p))
        numeric[i] = (-loss_at(i, p + 2 * h) + 8 * loss_at(i, p + h) - 8 * loss_at(i, p - h)
                      + loss_at(i, p - 2 * h)) / (12 * h)
        probe.params[i] = p
    analytic = analytic.astype(np.float64)
    scale = floor * max(1.0, float(np.abs(numeric).max()))
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), scale)
    return float(np.max(np.abs(analytic - numeric) / denominator))
