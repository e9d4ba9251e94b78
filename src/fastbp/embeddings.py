"""Embeddings of numeric features: the quantile bins of piecewise-linear embeddings.

The TabM issue brings embeddings of each numeric feature before a network's first layer (piecewise-linear
encodings over quantile bins, periodic embeddings), as ``rtdl_num_embeddings`` defines them. Their math is written
in ``fastbp.reference_stages`` and held to that package; this module has what is already usable on its own:
`compute_bins`, the bins a piecewise-linear embedding encodes each feature over.

Examples
--------
>>> import numpy as np
>>> import fastbp
>>> X = np.column_stack([np.arange(10.0), np.arange(10.0) % 2])
>>> [edges.tolist() for edges in fastbp.embeddings.compute_bins(X, n_bins=3)]
[[0.0, 3.0, 6.0, 9.0], [0.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fastbp import _validation as v
from fastbp import reference_stages


def compute_bins(X: npt.ArrayLike, n_bins: int = 48) -> list[np.ndarray]:
    """The edges of quantile bins of each column of X, as ``rtdl_num_embeddings.compute_bins`` computes them
    without trees.

    Each column's edges are its quantiles at ``linspace(0, 1, n_bins + 1)`` (linear interpolation), with
    repeated values kept once: a column with few distinct values gets fewer bins.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The training data's numeric features: finite, at least two rows, each column with at least two
        distinct values.
    n_bins : int, default=48
        Bins per feature, at most; more than 1 and fewer than n_samples.

    Returns
    -------
    list of ndarray
        One increasing float64 array per feature, of 2 to ``n_bins + 1`` edges.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp.embeddings import compute_bins
    >>> X = np.random.RandomState(0).randn(1000, 3)
    >>> [len(edges) for edges in compute_bins(X, n_bins=8)]
    [9, 9, 9]
    """
    data: np.ndarray = v.check_X(X, np.shape(X)[1] if np.ndim(X) == 2 else 0, np.float64)
    n_bins = v.check_int("n_bins", n_bins, minimum=2)
    if data.shape[0] < 2:
        raise ValueError(f"X must have at least two rows to have bins, got {data.shape[0]}")
    if n_bins >= data.shape[0]:
        raise ValueError(f"n_bins must be less than the number of rows ({data.shape[0]}), got {n_bins}")
    constant = np.flatnonzero((data == data[0]).all(axis=0))
    if constant.size:
        raise ValueError(f"X's columns {constant.tolist()} hold a single value: a column needs at least two "
                         "distinct values to have bins")
    return reference_stages.compute_bins(data, n_bins)
