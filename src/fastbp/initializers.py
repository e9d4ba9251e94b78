"""The initial weights of a model, by scheme (`fastbp.MLP`'s ``init``), drawn in place into its blocks.

Layer by layer, each layer's weights then its biases; an ensemble draws each member's in turn where the members
have their own (one draw for what they share). An ensemble's scalings are `tabm.TabM.make`'s: the first layer's r
random signs (+1 or -1, each feature and member its own), the others' r and every s ones; and a BatchEnsemble
layer's k biases start equal (one draw, as `tabm.LinearBatchEnsemble` does). With ``init="torch"`` every weight
and bias of an ensemble has the distribution `tabm` gives it: U(-1/sqrt(n_in), 1/sqrt(n_in)).

A model with categorical columns draws its first layer's W for every input unit, one-hot ones included (their
rows are the "category_weight" block); with inputs, the first layer's r is ``tabm``'s chunked draw: one value per
feature and member, shared by the feature's units (its embedding's d, or its one-hot units), random signs without
an embedding and N(0, 1) with one. An embedding draws its own arrays last (``fastbp.embeddings``).
"""

import numpy as np

from fastbp.layout import write


def draw(rng, init, fan_in, fan_out, activation):
    """(W (fan_in, fan_out), b (fan_out,)) of one layer with the scheme `init`; `activation` is what the layer's
    outputs feed (scikit-learn's factor depends on it)."""
    if init == "sklearn":
        bound = np.sqrt((2.0 if activation == "logistic" else 6.0) / (fan_in + fan_out))
        return rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)
    if init in ("glorot_uniform", "he_uniform", "torch"):
        limit = {"glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "he_uniform": np.sqrt(6.0 / fan_in),
                 "torch": 1.0 / np.sqrt(fan_in)}[init]
        W = rng.uniform(-limit, limit, (fan_in, fan_out))
        return W, rng.uniform(-limit, limit, fan_out) if init == "torch" else np.zeros(fan_out)
    std = {"glorot_normal": np.sqrt(2.0 / (fan_in + fan_out)), "he_normal": np.sqrt(2.0 / fan_in),
           "lecun_normal": np.sqrt(1.0 / fan_in)}[init]
    return rng.normal(0.0, std, (fan_in, fan_out)), np.zeros(fan_out)


def initialize(layout, params, init, activations, rng):
    """Draw every block of `layout` in `params` (a flat buffer, written in place) with the scheme `init`; the
    `activations` (one per hidden layer, or the model's one when it has none) choose scikit-learn's factor, the
    last one for the output layer."""
    inputs = layout.inputs
    for l in range(layout.n_layers):
        fan_in, fan_out = layout.layer_sizes[l], layout.layer_sizes[l + 1]
        activation = activations[min(l, len(activations) - 1)]
        weight = layout.whole("weight", l)
        W, b = weight.view(params), layout.block("bias", l).view(params)  # W: a copy where it is joined
        fan_in = W.shape[-2]
        if W.ndim == 2:  # shared by the members (or a plain layer)
            W[...], bias = draw(rng, init, fan_in, fan_out, activation)
            b[...] = bias  # a BatchEnsemble layer's k biases start equal
        else:
            for m in range(layout.members):
                W[m], b[m] = draw(rng, init, fan_in, fan_out, activation)
        write(weight, params, W)
        r, s = layout.find("in_scale", l), layout.find("out_scale", l)
        if r is not None and l == 0 and inputs is not None:
            d = 1 if inputs.embedding is None else inputs.embedding.d_embedding
            chunks = [d] * inputs.n_numeric + list(inputs.categories)
            values = rng.standard_normal((r.shape[0], len(chunks))) if inputs.embedding is not None \
                else rng.randint(0, 2, (r.shape[0], len(chunks))) * 2.0 - 1.0
            write(layout.whole("in_scale", 0), params, np.repeat(values, chunks, axis=1))
        elif r is not None:
            r.view(params)[...] = rng.randint(0, 2, r.shape) * 2.0 - 1.0 if l == 0 else 1.0
        if s is not None:
            s.view(params)[...] = 1.0
    if inputs is not None and inputs.embedding is not None:
        inputs.embedding.initialize({block.role: block.view(params) for block in layout.blocks if block.layer < 0},
                                    rng)
