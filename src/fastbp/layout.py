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

# role -> (penalized, decayed)
POLICY = {"weight": (True, True), "bias": (False, False)}
ROLES = tuple(POLICY)


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
    """The blocks of a network of `layer_sizes` ([n_features, hidden..., n_outputs]) in buffer order."""

    layer_sizes: tuple
    blocks: tuple

    @property
    def n_layers(self):
        return len(self.layer_sizes) - 1

    @property
    def n_params(self):
        return self.blocks[-1].stop

    def block(self, role, layer):
        """The block of `role` in `layer`."""
        return self._by_key[role, layer]

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
        """Multiply-adds of one row through every layer's product."""
        return sum(block.size for block in self.blocks if block.role == "weight")


def make_block(role, layer, offset, shape):
    penalized, decayed = POLICY[role]
    return Block(f"{'W' if role == 'weight' else 'b'}{layer}", role, layer, offset, tuple(shape), penalized,
                 decayed)


def dense_layout(layer_sizes):
    """The layout of a stack of dense layers: W[l] (n_in, n_out) for every layer, then b[l] (n_out,)."""
    sizes = tuple(int(size) for size in layer_sizes)
    blocks, offset = [], 0
    for role in ROLES:
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            block = make_block(role, layer, offset, (n_in, n_out) if role == "weight" else (n_out,))
            blocks.append(block)
            offset = block.stop
    return Layout(sizes, tuple(blocks))
