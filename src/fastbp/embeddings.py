"""Embeddings of numeric features before a network's first layer, as ``rtdl_num_embeddings`` defines them.

`PiecewiseLinear` encodes each feature over its quantile bins (`compute_bins`) and maps the encoding to d units;
`Periodic` maps each feature through cos and sin of trained frequencies and a linear map. Give one to
`fastbp.MLP` as ``embedding=``: the compiled core computes it, trains its arrays with the rest of the model
(their blocks in ``net.layout``, at layer -1: before the first layer), and the NumPy reference computes the same
math (``fastbp.reference_stages``).

Examples
--------
>>> import numpy as np
>>> import fastbp
>>> X = np.column_stack([np.arange(10.0), np.arange(10.0) % 2])
>>> [edges.tolist() for edges in fastbp.embeddings.compute_bins(X, n_bins=3)]
[[0.0, 3.0, 6.0, 9.0], [0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class _Frozen:
    """Settings fixed at construction: a model's layout follows from them, so they cannot change under it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__}.{name} is read-only: make a new embedding (and model)")
        object.__setattr__(self, name, value)

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)


class PiecewiseLinear(_Frozen):
    """Piecewise-linear embeddings of numeric features, as ``rtdl_num_embeddings.PiecewiseLinearEmbeddings(bins,
    d_embedding, activation, version="B")`` computes them.

    Feature i's value x is encoded over its bins (edges e): bin j is (x - e[j]) / (e[j + 1] - e[j]) clamped to
    [0, 1], except that the first bin is not clamped below and the last not above. The encoding (a fixed map,
    kept with the model, not trained) goes through the feature's own linear map W_i (B x d, no bias), then a
    ReLU with `activation`, and the value's linear embedding ``x * w_i + b_i`` (d each) is added:
    ``out_i = x w_i + b_i + act(encode_i(x) W_i)``. The model's first layer reads the n_features embeddings of a
    row one after another (n_features d units).

    Parameters
    ----------
    bins : list of array-like
        Each feature's bin edges, increasing, 2 or more: what `compute_bins` returns for the training data.
    d_embedding : int >= 1, default=16
    activation : bool, default=False
        A ReLU after the encoding's linear map.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(200, 3)
    >>> embedding = fastbp.embeddings.PiecewiseLinear(fastbp.embeddings.compute_bins(X, n_bins=8), d_embedding=4)
    >>> net = fastbp.MLP([3, 16, 1], "relu", "identity", embedding=embedding, random_state=0)
    >>> net.layout.block("embedding_weight", -1).shape
    (3, 8, 4)
    """

    kind = "piecewise_linear"

    def __init__(self, bins: Sequence[npt.ArrayLike], d_embedding: int = 16, activation: bool = False) -> None:
        if isinstance(bins, np.ndarray) and bins.ndim == 2:
            bins = list(bins)
        if not isinstance(bins, Sequence) or isinstance(bins, str) or len(bins) == 0:
            raise TypeError("bins must be a non-empty list of each feature's bin edges (see compute_bins)")
        edges = []
        for i, feature in enumerate(bins):
            e = np.asarray(feature, dtype=np.float64)
            if e.ndim != 1 or e.size < 2 or not np.isfinite(e).all() or not (np.diff(e) > 0).all():
                raise ValueError(f"bins[{i}] must be at least two finite, strictly increasing edges")
            e = e.copy()
            e.flags.writeable = False
            edges.append(e)
        self.bins = tuple(edges)
        self.d_embedding = v.check_int("d_embedding", d_embedding, minimum=1)
        self.activation = v.check_bool("activation", activation)
        self._freeze()

    @property
    def n_features(self) -> int:
        return len(self.bins)

    @property
    def n_bins(self) -> int:
        """B: the most bins of a feature (each feature's encoding is B wide)."""
        return max(len(edges) - 1 for edges in self.bins)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The trained arrays by role: W (n_features, B, d), and the linear embedding's w and b (n_features, d)."""
        f, d = self.n_features, self.d_embedding
        return {"embedding_weight": (f, self.n_bins, d), "linear_weight": (f, d), "linear_bias": (f, d)}

    def encoding(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed (weight, bias), (n_features, B) each, of the encoding: bin j of a feature is weight[j] x +
        bias[j] before its clamp (a feature of fewer bins has its last in column B - 1, zeros between)."""
        return reference_stages.encoding(self.bins)

    def initialize(self, blocks: dict[str, np.ndarray], rng: np.random.RandomState) -> None:
        """``rtdl_num_embeddings``'s: w and b U(-1/sqrt(d), 1/sqrt(d)), W zeros (version "B")."""
        bound = self.d_embedding ** -0.5
        for role in ("linear_weight", "linear_bias"):
            blocks[role][...] = rng.uniform(-bound, bound, blocks[role].shape)
        blocks["embedding_weight"][...] = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "bins": [edges.tolist() for edges in self.bins], "d_embedding": self.d_embedding,
                "activation": self.activation}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PiecewiseLinear) and self.d_embedding == other.d_embedding \
            and self.activation == other.activation and len(self.bins) == len(other.bins) \
            and all(np.array_equal(a, b) for a, b in zip(self.bins, other.bins))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"PiecewiseLinear(<bins of {self.n_features} features, at most {self.n_bins}>, "
                f"d_embedding={self.d_embedding}, activation={self.activation})")


class Periodic(_Frozen):
    """Periodic embeddings of numeric features (PLR), as ``rtdl_num_embeddings.PeriodicEmbeddings`` computes them.

    Feature i's value x becomes ``[cos(2 pi f_i x), sin(2 pi f_i x)]`` for its m trained frequencies f_i, then a
    linear map to d units (each feature its own, or one shared with `lite`) and a ReLU with `activation`.

    Parameters
    ----------
    n_features : int >= 1
    d_embedding : int >= 1, default=24
    n_frequencies : int >= 1, default=48
    frequency_init_scale : float > 0, default=0.01
        The frequencies start as N(0, scale^2) truncated at three standard deviations.
    lite : bool, default=False
        One linear map shared by the features (with `activation` only).
    activation : bool, default=True
        A ReLU after the linear map.

    Examples
    --------
    >>> import fastbp
    >>> net = fastbp.MLP([2, 8, 1], "relu", "identity", random_state=0,
    ...                  embedding=fastbp.embeddings.Periodic(2, d_embedding=4, n_frequencies=3))
    >>> net.layout.block("frequencies", -1).shape, net.layout.block("embedding_weight", -1).shape
    ((2, 3), (2, 6, 4))
    """

    kind = "periodic"

    def __init__(self, n_features: int, d_embedding: int = 24, n_frequencies: int = 48,
                 frequency_init_scale: float = 0.01, lite: bool = False, activation: bool = True) -> None:
        self._n_features = v.check_int("n_features", n_features, minimum=1)
        self.d_embedding = v.check_int("d_embedding", d_embedding, minimum=1)
        self.n_frequencies = v.check_int("n_frequencies", n_frequencies, minimum=1)
        self.frequency_init_scale = v.check_float("frequency_init_scale", frequency_init_scale, minimum=0.0,
                                                  inclusive=False)
        self.lite = v.check_bool("lite", lite)
        self.activation = v.check_bool("activation", activation)
        if self.lite and not self.activation:
            raise ValueError("lite=True needs activation=True, as in rtdl_num_embeddings")
        self._freeze()

    @property
    def n_features(self) -> int:
        return self._n_features

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The trained arrays by role: the frequencies (n_features, m), the linear map's W (n_features, 2m, d) and
        b (n_features, d), or with `lite` (2m, d) and (d,)."""
        f, m, d = self.n_features, self.n_frequencies, self.d_embedding
        if self.lite:
            return {"frequencies": (f, m), "embedding_weight": (2 * m, d), "embedding_bias": (d,)}
        return {"frequencies": (f, m), "embedding_weight": (f, 2 * m, d), "embedding_bias": (f, d)}

    def initialize(self, blocks: dict[str, np.ndarray], rng: np.random.RandomState) -> None:
        """``rtdl_num_embeddings``'s: the frequencies as `frequency_init_scale` says, W and b
        U(-1/sqrt(2m), 1/sqrt(2m))."""
        sigma = self.frequency_init_scale
        frequencies = rng.normal(0.0, sigma, blocks["frequencies"].shape)
        outside = np.abs(frequencies) > 3 * sigma
        while outside.any():  # truncated: redraw what falls beyond three standard deviations
            frequencies[outside] = rng.normal(0.0, sigma, int(outside.sum()))
            outside = np.abs(frequencies) > 3 * sigma
        blocks["frequencies"][...] = frequencies
        bound = (2 * self.n_frequencies) ** -0.5
        for role in ("embedding_weight", "embedding_bias"):
            blocks[role][...] = rng.uniform(-bound, bound, blocks[role].shape)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_features": self.n_features, "d_embedding": self.d_embedding,
                "n_frequencies": self.n_frequencies, "frequency_init_scale": self.frequency_init_scale,
                "lite": self.lite, "activation": self.activation}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Periodic) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        settings = self.to_dict()
        del settings["kind"]
        return "Periodic(" + ", ".join(f"{name}={value!r}" for name, value in settings.items()) + ")"


Embedding = PiecewiseLinear | Periodic
KINDS = {PiecewiseLinear.kind: PiecewiseLinear, Periodic.kind: Periodic}


def from_dict(settings: dict[str, Any]) -> Embedding:
    """The embedding of `to_dict`'s settings (as a saved model holds them)."""
    settings = dict(settings)
    kind = settings.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"unknown embedding kind {kind!r}; expected one of {sorted(KINDS)}")
    return KINDS[kind](**settings)


def check_embedding(embedding: object) -> Embedding | None:
    """`fastbp.MLP`'s embedding argument: None, or an embedding of this module."""
    if embedding is not None and not isinstance(embedding, (PiecewiseLinear, Periodic)):
        raise TypeError("embedding must be None, fastbp.embeddings.PiecewiseLinear or fastbp.embeddings.Periodic, "
                        f"got {type(embedding).__name__}")
    return embedding
