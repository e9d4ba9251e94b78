"""Where a network's parameters live in its one flat buffer: named blocks, each with its role and its policy.

A `Block` is one array of the model (a layer's weight matrix, its bias vector) as a slice of ``params``. It
carries its role and what the training does to it: whether the L2 penalty ``alpha`` covers it (`penalized`)
and whether an optimizer's decoupled weight decay shrinks it (`decayed`). The policy is the role's
(``POLICY``): the weights, not the biases, as in scikit-learn's penalty and in ``tabm``'s recipe for weight
decay. Nothing infers a role from a position in the buffer.

The layout is decided here, in Python, for both backends: the NumPy reference reads it as it is and the
compiled core copies it into its own records (``_core._network.CoreNet``). The blocks are packed in
scikit-learn's order, every weight matrix first, layer by layer, then every bias vector, so that the
parameters of a model read and written by scikit-learn's packing are the same numbers in the same places.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# role -> (penalized, decayed). The scalings r and s of an ensemble's members are decayed as `tabm`'s recipe
# does (every parameter but the biases), not penalized: alpha is scikit-learn's penalty on the weights. The first
# layer's rows for the categorical columns' one-hot units are its weights like the others. Of an embedding, the
# recipe decays the linear maps' weights and no other array (the frequencies and the linear embedding of the
# value itself are ``rtdl_num_embeddings``' own modules, which it leaves alone); alpha covers none of them.
POLICY = {"weight": (True, True), "bias": (False, False), "in_scale": (False, True), "out_scale": (False, True),
          "category_weight": (True, True), "category_scale": (False, True), "embedding_weight": (False, True),
          "embedding_bias": (False, False), "linear_weight": (False, False), "linear_bias": (False, False),
          "frequencies": (False, False)}
ROLES = tuple(POLICY)
LETTERS = {"weight": "W", "bias": "b", "in_scale": "r", "out_scale": "s", "category_weight": "C",
           "category_scale": "rc", "embedding_weight": "E", "embedding_bias": "e", "linear_weight": "L",
           "linear_bias": "l", "frequencies": "F"}
ENSEMBLES = ("batch", "mini", "independent")


@dataclass(frozen=True)
class Block:
    """One array of the model: ``params[offset:offset + size]`` read as `shape` (row-major)."""

    name: str           # "W0", "b0", ...: the role's letter and the layer's number
    role: str           # one of ROLES
    layer: int          # the layer it belongs to, 0 for the first
    offset: int
    shape: tuple
    penalized: bool
    decayed: bool

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self):
        return self.offset + self.size

    def view(self, flat):
        """This block of a flat (n_params,) array, shaped: a view, not a copy."""
        return flat[self.offset:self.stop].reshape(self.shape)


@dataclass(frozen=True)
class Inputs:
    """What the first layer reads from a row of X when it is more than the row itself: the first `n_numeric`
    columns, through an ``embedding`` (of ``fastbp.embeddings``) or as they are, then one integer code per
    categorical column of the ``categories`` cardinalities, which the layer sees one-hot encoded (a code outside
    [0, cardinality) is unknown: all zeros) but reads as a lookup of its weights' rows."""

    n_numeric: int
    categories: tuple = ()
    embedding: object = None

    @property
    def n_columns(self):
        """X's width."""
        return self.n_numeric + len(self.categories)

    @property
    def width(self):
        """The units of the first layer's dense input: the embeddings (n_numeric d) or the numeric columns."""
        return self.n_numeric * (1 if self.embedding is None else self.embedding.d_embedding)

    @property
    def n_categories(self):
        """The one-hot units of the categorical columns: the sum of their cardinalities."""
        return int(sum(self.categories))

    @property
    def offsets(self):
        """(n_categorical + 1,) int32: column j's one-hot units are rows offsets[j]..offsets[j + 1] of the
        category blocks."""
        return np.concatenate([[0], np.cumsum(self.categories, dtype=np.int64)]).astype(np.int32)


@dataclass(frozen=True)
class Joined:
    """The first layer's W or r over all its input units: the dense units' block, then the one-hot units'."""

    dense: Block
    rest: Block

    @property
    def axis(self):
        return len(self.dense.shape) - 2 if self.dense.role == "weight" else 1

    def view(self, flat):
        """The joined array (a copy)."""
        return np.concatenate([self.dense.view(flat), self.rest.view(flat)], axis=self.axis)

    def write(self, flat, value):
        width = self.dense.shape[self.axis]
        self.dense.view(flat)[...] = np.take(value, np.arange(width), axis=self.axis)
        self.rest.view(flat)[...] = np.take(value, np.arange(width, value.shape[self.axis]), axis=self.axis)


def write(owner, flat, value):
    """Set the part of flat that `owner` (a `Block` or `Joined`) views to value."""
    if isinstance(owner, Joined):
        owner.write(flat, value)
    else:
        owner.view(flat)[...] = value


# The blocks of the categorical columns' rows of the first layer's W and r.
CATEGORY_ROLE = {"weight": "category_weight", "in_scale": "category_scale"}


def inputs_of(n_columns, categories=None, embedding=None):
    """The `Inputs` of a model of X's width `n_columns` with `categories` (cardinalities of its last columns, or
    None) and `embedding` (of its numeric columns, or None), checked; None when it has neither."""
    if categories is None and embedding is None:
        return None
    if categories is not None:
        if isinstance(categories, (str, bytes)) or not hasattr(categories, "__len__"):
            raise TypeError(f"categories must be a sequence of cardinalities (ints >= 1), got {categories!r}")
        for j, cardinality in enumerate(categories):
            if isinstance(cardinality, (bool, np.bool_)) or not isinstance(cardinality, (int, np.integer)) \
                    or cardinality < 1:
                raise ValueError(f"categories[{j}] must be a cardinality, an int >= 1, got {cardinality!r}")
    categories = tuple(int(cardinality) for cardinality in categories or ())
    if not categories and embedding is None:
        return None
    n_numeric = n_columns - len(categories)
    if n_numeric < 0:
        raise ValueError(f"categories name {len(categories)} columns, but X has {n_columns}")
    if n_numeric == 0 and embedding is not None:
        raise ValueError("embedding is for numeric columns, and every column of X is categorical")
    if embedding is not None and embedding.n_features != n_numeric:
        raise ValueError(f"embedding is for {embedding.n_features} numeric features; X has {n_numeric} "
                         f"({n_columns} columns, {len(categories)} of them categorical)")
    return Inputs(n_numeric, categories, embedding)


@dataclass(frozen=True)
class Layout:
    """The blocks of a network of `layer_sizes` ([the first layer's dense input, hidden..., n_outputs]) in buffer
    order, whose every layer computes ``members`` members (an ensemble of k, or 1: a plain network); ``inputs``
    says what the first layer reads when it is more than X itself (else None: layer_sizes[0] is X's width).
    Blocks of layer -1 belong to the embedding, before the first layer."""

    layer_sizes: tuple
    blocks: tuple
    members: int = 1
    inputs: Inputs | None = None

    @property
    def staged(self):
        """Whether the network is more than a stack of plain dense layers: an ensemble, or inputs."""
        return self.members > 1 or self.inputs is not None

    @property
    def n_layers(self):
        return len(self.layer_sizes) - 1

    @property
    def n_params(self):
        return self.blocks[-1].stop

    def block(self, role, layer):
        """The block of `role` in `layer`."""
        return self._by_key[role, layer]

    def find(self, role, layer):
        """The block of `role` in `layer`, or None when the layer has none."""
        return self._by_key.get((role, layer))

    @cached_property
    def _by_key(self):
        return {(block.role, block.layer): block for block in self.blocks}

    def whole(self, role, layer):
        """The block of `role` in `layer` over all the layer's input units: with categorical columns, the first
        layer's W or r joined with its rows for their one-hot units (a ``Joined``); None when the layer has none."""
        block = self.find(role, layer)
        rest = self.find(CATEGORY_ROLE[role], layer) if role in CATEGORY_ROLE else None
        return block if block is None or rest is None else Joined(block, rest)

    def spans(self, policy):
        """The (start, stop) runs of the buffer whose blocks have `policy` ("penalized" or "decayed") set,
        adjacent blocks merged: an (n_spans, 2) intp array, what the optimizer's decay and the penalty loop
        over."""
        runs = []
        for block in self.blocks:
            if not getattr(block, policy):
                continue
            if runs and runs[-1][1] == block.offset:
                runs[-1][1] = block.stop
            else:
                runs.append([block.offset, block.stop])
        return np.array(runs, dtype=np.intp).reshape(-1, 2)

    @property
    def macs_per_row(self):
        """Multiply-adds of one row through every layer's product, every member's."""
        sizes = self.layer_sizes
        macs = sum(self.members * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        if self.inputs is not None:  # the lookups, and the embedding's products
            macs += self.members * len(self.inputs.categories) * sizes[1]
            weight = self.find("embedding_weight", -1)
            if weight is not None:
                macs += self.inputs.n_numeric * weight.shape[-2] * weight.shape[-1]
        return macs


def make_block(role, layer, offset, shape):
    penalized, decayed = POLICY[role]
    name = LETTERS[role] + (str(layer) if layer >= 0 else "")
    return Block(name, role, layer, offset, tuple(shape), penalized, decayed)


def pack(layer_sizes, shapes, members=1, inputs=None):
    """The layout whose blocks have the `shapes` {(role, layer): shape}, packed role by role in ROLES order and
    layer by layer within a role (the embedding's layer -1 first)."""
    blocks, offset = [], 0
    for role in ROLES:
        for layer in range(-1, len(layer_sizes) - 1):
            if (role, layer) in shapes:
                blocks.append(make_block(role, layer, offset, shapes[role, layer]))
                offset = blocks[-1].stop
    return Layout(tuple(int(size) for size in layer_sizes), tuple(blocks), members, inputs)


def dense_layout(layer_sizes):
    """The layout of a stack of dense layers: W[l] (n_in, n_out) for every layer, then b[l] (n_out,)."""
    return ensemble_layout(layer_sizes, 1, "batch")


def ensemble_layout(layer_sizes, members, ensemble, inputs=None):
    """The layout of k = `members` MLPs of `layer_sizes` ([X's width, hidden..., n_outputs]) trained as one
    network, reading X through `inputs` (an `Inputs`, or None: X as it is). k = 1 is a plain MLP: W[l]
    (n_in, n_out) for every layer, then b[l] (n_out,).

    Every form of k > 1 ends in k output heads, one W (k, n_in, n_out) and b (k, n_out) per member
    (``tabm.LinearEnsemble``). Its hidden layers:

    - "batch" (TabM): BatchEnsemble layers (``tabm.LinearBatchEnsemble``): W (n_in, n_out) shared by the members,
      each member's r (k, n_in), s (k, n_out) and b (k, n_out);
    - "mini" (TabM-mini): one r (k, n_in) before the first layer, every hidden layer's W and b shared;
    - "independent": each member's own W (k, n_in, n_out) and b (k, n_out): k independent MLPs.

    With `inputs`, the first layer's n_in is its dense input's (``Inputs.width``), and the rows of its W and r for
    the categorical columns' one-hot units are blocks of their own: "category_weight" (n_categories, n_out),
    or (k, n_categories, n_out) where W is per member, and "category_scale" (k, n_categories) where the layer has
    r. The embedding's arrays are blocks of layer -1 (``fastbp.embeddings``' shapes).
    """
    sizes = tuple(int(size) for size in layer_sizes)
    if inputs is not None:
        sizes = (inputs.width,) + sizes[1:]
    k, last = members, len(sizes) - 2
    shapes = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        own = k > 1 and (layer == last or ensemble == "independent")
        shapes["weight", layer] = (k, n_in, n_out) if own else (n_in, n_out)
        shapes["bias", layer] = (k, n_out) if own or k > 1 and ensemble == "batch" else (n_out,)
        if k > 1 and (layer < last and ensemble == "batch" or layer == 0 and ensemble == "mini"):
            shapes["in_scale", layer] = (k, n_in)
        if k > 1 and layer < last and ensemble == "batch":
            shapes["out_scale", layer] = (k, n_out)
    if inputs is not None and inputs.categories:
        C, W0 = inputs.n_categories, shapes["weight", 0]
        shapes["category_weight", 0] = (C, W0[-1]) if len(W0) == 2 else (k, C, W0[-1])
        if ("in_scale", 0) in shapes:
            shapes["category_scale", 0] = (k, C)
    if inputs is not None and inputs.embedding is not None:
        shapes.update({(role, -1): shape for role, shape in inputs.embedding.shapes().items()})
    return pack(sizes, shapes, k, inputs)
