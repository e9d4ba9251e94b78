"""The NumPy reference of every stage kind a network is made of: the tables FORWARD and BACKWARD.

Each kind has a forward and a backward function, written as plainly as NumPy allows; they are the specification
the compiled core's kernels are held to, and the tests hold them to PyTorch (``torch.nn.Linear``, and the
`tabm` and `rtdl_num_embeddings` modules: tests/test_stage_oracle.py). `fastbp.reference_network` builds a
model's list of stages from its layout and runs them.

A plain network's activations have shape (n, d). A model of k members keeps k rows per input row: activations of
an ensemble have shape (n, k, d), member second, as in `tabm`. Parameters come in named blocks (a dict from role to
array):

- "dense"          (n, n_in) -> (n, n_out): z = a W + b, W (n_in, n_out), b (n_out,): a layer of one network. With
                   `data`, a reads the data (X, dense or a scipy.sparse CSR matrix): no gradient for it.
- "members"        (n, d) -> (n, k, d): every member sees the same row. No blocks.
- "linear"         (n, k, n_in) -> (n, k, n_out): z = ((a * r) @ W) * s + b. W is (n_in, n_out), shared by the
                   members (TabM's BatchEnsemble layer, `tabm.LinearBatchEnsemble` with W its weight
                   transposed), or (k, n_in, n_out), one per member (`tabm.LinearEnsemble`); "in_scale" r
                   (k, n_in), "out_scale" s (k, n_out) and "bias" b ((k, n_out) or (n_out,)) are optional.
- "scale"          (n, k, d) -> (n, k, d): a * r, r (k, d) (`tabm.ElementwiseAffine` without bias: TabM-mini).
- "mean_members"   (n, k, d) -> (n, d): the mean over the members (the ensemble's prediction).
- "piecewise_linear" (n, f) -> (n, f, d): `rtdl_num_embeddings.PiecewiseLinearEmbeddings(version="B")`: the
                   encoding of each feature over its bins (fixed "encoding_weight" and "encoding_bias", (f, B),
                   from `encoding`), times a per-feature "weight" (f, B, d) (then a ReLU, with activation), plus a
                   linear embedding of the value itself, x * "linear_weight" + "linear_bias" ((f, d) each).
- "periodic"       (n, f) -> (n, f, d): `rtdl_num_embeddings.PeriodicEmbeddings`: cos and sin of
                   2 pi x * "frequencies" (f, m), then a linear map, per feature ("weight" (f, 2m, d), "bias"
                   (f, d)) or shared with lite ((2m, d), (d,)), and a ReLU with activation.
- "activate"       any shape: f(z), each element, f one of the hidden activations (`fastbp.reference`); times
                   "mask" when the stage has one (a training pass's inverted dropout: float64, the product rounded
                   once to the activations' dtype).
- "flatten"        (n, f, d) -> (n, f d): the embeddings of a row, one after another, as a layer's input.
- "one_hot"        integer codes (n, c) -> (n, sum of cardinalities): each column's one-hot encoding; a code
                   outside [0, cardinality) is unknown: all zeros. No blocks, no gradient.
- "inputs"         X (n, n_numeric + c) -> (n, width + sum of cardinalities): a model's first layer's input, the
                   numeric columns through the stage's embedding ("piecewise_linear" or "periodic", its blocks;
                   flattened) or as they are, then the categorical columns' one-hot encoding.

forward(stage, blocks, a) returns (out, cache); backward(stage, blocks, cache, delta) returns (delta_in, grads):
delta = dL/d(out), delta_in = dL/da (None for a stage that reads the data), grads = dL/d(block) by role.
`forward_chain` and `backward_chain` run a list of stages.
"""

from dataclasses import dataclass

import numpy as np

from fastbp import reference


@dataclass(frozen=True)
class Stage:
    """One stage of a network: its kind and the settings its functions read (members k; activation, a ReLU
    after an embedding; lite, a periodic embedding's shared linear map; cardinalities, of "one_hot"; unit, the
    function of "activate", a name of `fastbp.reference.ACTIVATIONS`; data, a "dense" stage that reads X)."""

    kind: str
    members: int = 1
    activation: bool = False
    lite: bool = False
    cardinalities: tuple = ()
    unit: str = "relu"
    n_numeric: int = 0
    embedding: str | None = None
    data: bool = False


# --- dense layers of one network --------------------------------------------------------------------------------

def dense_forward(stage, blocks, a):
    return a @ blocks["weight"] + blocks["bias"], a


def dense_backward(stage, blocks, a, delta):
    # For a sparse X, X.T @ delta is scipy's sparse (CSC) x dense product: a dense (n_in, n_out) array.
    grads = {"weight": a.T @ delta, "bias": delta.sum(axis=0)}
    return (None if stage.data else delta @ blocks["weight"].T), grads


# --- members ------------------------------------------------------------------------------------------------

def members_forward(stage, blocks, a):
    return np.repeat(a[:, None, :], stage.members, axis=1), None


def members_backward(stage, blocks, cache, delta):
    return delta.sum(axis=1), {}


def mean_members_forward(stage, blocks, a):
    return a.mean(axis=1), a.shape[1]


def mean_members_backward(stage, blocks, k, delta):
    return np.repeat(delta[:, None, :] / k, k, axis=1), {}


# --- linear layers of an ensemble -----------------------------------------------------------------------------

def linear_forward(stage, blocks, a):
    W, r, s, b = (blocks.get(role) for role in ("weight", "in_scale", "out_scale", "bias"))
    u = a * r if r is not None else a
    z = np.einsum("nki,io->nko", u, W) if W.ndim == 2 else np.einsum("nki,kio->nko", u, W)
    out = z * s if s is not None else z
    return (out + b if b is not None else out), (a, u, z)


def linear_backward(stage, blocks, cache, delta):
    a, u, z = cache
    W, r, s, b = (blocks.get(role) for role in ("weight", "in_scale", "out_scale", "bias"))
    grads = {}
    if b is not None:
        grads["bias"] = delta.sum(axis=0) if b.ndim == 2 else delta.sum(axis=(0, 1))
    if s is not None:
        grads["out_scale"] = (delta * z).sum(axis=0)
        delta = delta * s
    if W.ndim == 2:
        grads["weight"] = np.einsum("nki,nko->io", u, delta)
        du = np.einsum("nko,io->nki", delta, W)
    else:
        grads["weight"] = np.einsum("nki,nko->kio", u, delta)
        du = np.einsum("nko,kio->nki", delta, W)
    if r is None:
        return du, grads
    grads["in_scale"] = (du * a).sum(axis=0)
    return du * r, grads


def scale_forward(stage, blocks, a):
    return a * blocks["in_scale"], a


def scale_backward(stage, blocks, a, delta):
    return delta * blocks["in_scale"], {"in_scale": (delta * a).sum(axis=0)}


# --- embeddings of numeric features ---------------------------------------------------------------------------

def compute_bins(X, n_bins=48):
    """The edges of `n_bins` quantile bins of each column of X (n, f), as `rtdl_num_embeddings.compute_bins`
    computes them without trees: the quantiles at linspace(0, 1, n_bins + 1) (linear interpolation), duplicates
    removed; a list of f increasing arrays, each of 2 to n_bins + 1 edges."""
    X = np.asarray(X)
    quantiles = np.quantile(X, np.linspace(0.0, 1.0, n_bins + 1), axis=0)
    return [np.unique(column) for column in quantiles.T]


def encoding(bins, dtype=np.float64):
    """The fixed (encoding_weight, encoding_bias), (f, B) each with B the most bins of a feature, of the
    piecewise-linear encoding: bin j of a feature with edges e is (x - e[j]) / (e[j + 1] - e[j]); a feature
    with fewer bins than B has its last bin in column B - 1 and zeros between."""
    n_bins = [len(edges) - 1 for edges in bins]
    weight = np.zeros((len(bins), max(n_bins)), dtype=dtype)
    bias = np.zeros_like(weight)
    for i, edges in enumerate(bins):
        width = np.diff(edges)
        w, b = 1.0 / width, -edges[:-1] / width
        weight[i, -1], bias[i, -1] = w[-1], b[-1]
        weight[i, :n_bins[i] - 1], bias[i, :n_bins[i] - 1] = w[:-1], b[:-1]
    return weight, bias


def piecewise_linear_encode(blocks, x):
    """The encoding (n, f, B): each bin's position clamped to [0, 1], except that the first bin is not clamped
    below and the last not above (unless a feature has one bin: then neither)."""
    e = blocks["encoding_bias"] + blocks["encoding_weight"] * x[..., None]
    if e.shape[-1] == 1:
        return e
    single = (blocks["encoding_weight"][:, :-1] == 0).all(axis=1)  # features of one bin (zeros but the last)
    last = np.where(single[:, None], e[..., -1:], np.maximum(e[..., -1:], 0))
    return np.concatenate([np.minimum(e[..., :1], 1), np.clip(e[..., 1:-1], 0, 1), last], axis=-1)


def relu_after(stage, z):
    return np.maximum(z, 0) if stage.activation else z


def piecewise_linear_forward(stage, blocks, x):
    e = piecewise_linear_encode(blocks, x)
    z = np.einsum("nfb,fbd->nfd", e, blocks["weight"])  # the ReLU (with activation) is of this part only
    return x[..., None] * blocks["linear_weight"] + blocks["linear_bias"] + relu_after(stage, z), (x, e, z)


def piecewise_linear_backward(stage, blocks, cache, delta):
    x, e, z = cache
    grads = {"linear_weight": (delta * x[..., None]).sum(axis=0), "linear_bias": delta.sum(axis=0)}
    if stage.activation:
        delta = delta * (z > 0)
    grads["weight"] = np.einsum("nfb,nfd->fbd", e, delta)
    return None, grads


def periodic_forward(stage, blocks, x):
    p = 2 * np.pi * blocks["frequencies"] * x[..., None]
    c = np.concatenate([np.cos(p), np.sin(p)], axis=-1)
    W = blocks["weight"]
    z = (np.einsum("nfc,cd->nfd", c, W) if stage.lite else np.einsum("nfc,fcd->nfd", c, W)) + blocks["bias"]
    return relu_after(stage, z), (x, p, c, z)


def periodic_backward(stage, blocks, cache, delta):
    x, p, c, z = cache
    if stage.activation:
        delta = delta * (z > 0)
    W = blocks["weight"]
    if stage.lite:
        grads = {"weight": np.einsum("nfc,nfd->cd", c, delta), "bias": delta.sum(axis=(0, 1))}
        dc = np.einsum("nfd,cd->nfc", delta, W)
    else:
        grads = {"weight": np.einsum("nfc,nfd->fcd", c, delta), "bias": delta.sum(axis=0)}
        dc = np.einsum("nfd,fcd->nfc", delta, W)
    m = p.shape[-1]
    dp = dc[..., m:] * np.cos(p) - dc[..., :m] * np.sin(p)
    grads["frequencies"] = (dp * 2 * np.pi * x[..., None]).sum(axis=0)
    return None, grads


# --- categorical columns ----------------------------------------------------------------------------------------

def one_hot_forward(stage, blocks, codes):
    columns = []
    for j, cardinality in enumerate(stage.cardinalities):
        code = codes[:, j]
        known = (code >= 0) & (code < cardinality)
        column = np.zeros((codes.shape[0], cardinality))
        column[np.nonzero(known)[0], code[known].astype(np.intp)] = 1
        columns.append(column)
    return np.concatenate(columns, axis=1), None


def one_hot_backward(stage, blocks, cache, delta):
    return None, {}


def inputs_forward(stage, blocks, X):
    x, codes = X[:, :stage.n_numeric], X[:, stage.n_numeric:]
    parts, cache = [x], None
    if stage.embedding is not None:
        e, cache = FORWARD[stage.embedding](stage, blocks, x)
        parts = [e.reshape(e.shape[0], -1)]
    if stage.cardinalities:
        parts.append(one_hot_forward(stage, blocks, codes)[0].astype(X.dtype))
    return np.concatenate(parts, axis=1), cache


def inputs_backward(stage, blocks, cache, delta):
    if stage.embedding is None:
        return None, {}
    width = delta.shape[1] - sum(stage.cardinalities)
    dE = delta[:, :width].reshape(delta.shape[0], stage.n_numeric, -1)
    return BACKWARD[stage.embedding](stage, blocks, cache, dE)


# --- activations and layout ---------------------------------------------------------------------------------------

def activate_forward(stage, blocks, z):
    a = reference.ACTIVATIONS[stage.unit](z)
    mask = blocks.get("mask")
    return (a if mask is None else (a * mask).astype(z.dtype)), (z, a)


def activate_backward(stage, blocks, cache, delta):
    z, a = cache
    slope = reference.derivative(stage.unit, z, a)
    if "mask" in blocks:  # the mask multiplies f' as it multiplied the activation
        slope = (slope * blocks["mask"]).astype(z.dtype)
    return delta * slope, {}


def flatten_forward(stage, blocks, e):
    return e.reshape(e.shape[0], -1), e.shape


def flatten_backward(stage, blocks, shape, delta):
    return delta.reshape(shape), {}


FORWARD = {"dense": dense_forward, "members": members_forward, "mean_members": mean_members_forward,
           "linear": linear_forward, "scale": scale_forward, "piecewise_linear": piecewise_linear_forward,
           "periodic": periodic_forward, "one_hot": one_hot_forward, "activate": activate_forward,
           "flatten": flatten_forward, "inputs": inputs_forward}
BACKWARD = {"dense": dense_backward, "members": members_backward, "mean_members": mean_members_backward,
            "linear": linear_backward, "scale": scale_backward, "piecewise_linear": piecewise_linear_backward,
            "periodic": periodic_backward, "one_hot": one_hot_backward, "activate": activate_backward,
            "flatten": flatten_backward, "inputs": inputs_backward}


# --- a network of stages ------------------------------------------------------------------------------------------

def forward_chain(stages, blocks, x):
    """The output of `stages` in order (blocks: one dict per stage) on x, and each stage's cache."""
    caches = []
    for stage, stage_blocks in zip(stages, blocks):
        x, cache = FORWARD[stage.kind](stage, stage_blocks, x)
        caches.append(cache)
    return x, caches


def backward_chain(stages, blocks, caches, delta):
    """(dL/dx, each stage's grads) from delta = dL/d(output), back through the stages of `forward_chain`."""
    grads = [{} for _ in stages]
    for i in reversed(range(len(stages))):
        delta, grads[i] = BACKWARD[stages[i].kind](stages[i], blocks[i], caches[i], delta)
        if delta is None:  # a stage that reads the data: nothing before it
            break
    return delta, grads
