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
# does (every parameter but the biases), not penalized: alpha is scikit-learn's penalty on the weights.
POLICY = {"weight": (True, True), "bias": (False, False), "in_scale": (False, True), "out_scale": (False, True)}
ROLES = tuple(POLICY)
LETTERS = {"weight": "W", "bias": "b", "in_scale": "r", "out_scale": "s"}
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
class Layout:
    """The blocks of a network of `layer_sizes` ([n_features, hidden..., n_outputs]) in buffer order, whose every
    layer computes ``members`` members (an ensemble of k, or 1: a plain network)."""

    layer_sizes: tuple
    blocks: tuple
    members: int = 1

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
        return sum(self.members * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def make_block(role, layer, offset, shape):
    penalized, decayed = POLICY[role]
    return Block(f"{LETTERS[role]}{layer}", role, layer, offset, tuple(shape), penalized, decayed)


def pack(layer_sizes, shapes, members=1):
    """The layout whose blocks have the `shapes` {(role, layer): shape}, packed role by role in ROLES order and
    layer by layer within a role."""
    blocks, offset = [], 0
    for role in ROLES:
        for layer in range(len(layer_sizes) - 1):
            if (role, layer) in shapes:
                blocks.append(make_block(role, layer, offset, shapes[role, layer]))
                offset = blocks[-1].stop
    return Layout(tuple(int(size) for size in layer_sizes), tuple(blocks), members)


def dense_layout(layer_sizes):
    """The layout of a stack of dense layers: W[l] (n_in, n_out) for every layer, then b[l] (n_out,)."""
    sizes = tuple(int(size) for size in layer_sizes)
    shapes = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes["weight", layer], shapes["bias", layer] = (n_in, n_out), (n_out,)
    return pack(sizes, shapes)


def ensemble_layout(layer_sizes, members, ensemble):
    """The layout of k = `members` MLPs of `layer_sizes` trained as one network (`dense_layout` when k is 1).

    Every form ends in k output heads, one W (k, n_in, n_out) and b (k, n_out) per member (``tabm.LinearEnsemble``).
    Its hidden layers:

    - "batch" (TabM): BatchEnsemble layers (``tabm.LinearBatchEnsemble``): W (n_in, n_out) shared by the members,
      each member's r (k, n_in), s (k, n_out) and b (k, n_out);
    - "mini" (TabM-mini): one r (k, n_features) before the first layer, every hidden layer's W and b shared;
    - "independent": each member's own W (k, n_in, n_out) and b (k, n_out): k independent MLPs.
    """
    if members == 1:
        return dense_layout(layer_sizes)
    sizes = tuple(int(size) for size in layer_sizes)
    k, last = members, len(sizes) - 2
    shapes = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        own = layer == last or ensemble == "independent"
        shapes["weight", layer] = (k, n_in, n_out) if own else (n_in, n_out)
        shapes["bias", layer] = (k, n_out) if own or ensemble == "batch" else (n_out,)
        if layer < last and ensemble == "batch" or layer == 0 and ensemble == "mini":
            shapes["in_scale", layer] = (k, n_in)
        if layer < last and ensemble == "batch":
            shapes["out_scale", layer] = (k, n_out)
    return pack(sizes, shapes, k)
