"""A model's network in the NumPy reference: the stages of its layout, run forward and back, and its objective.

`network(layout, spec)` lists the stages (`fastbp.reference_stages`) of any model, with the parameter blocks each
reads: a plain MLP is "dense" and "activate" stages on rows of shape (n, d); an ensemble or a model with inputs
reads X through "inputs" (when it has them), repeats each row for its k "members" and runs "linear" and "activate"
stages on (n, k, d). A training pass's dropout masks are the "mask" blocks of the activations. Nothing here needs
the compiled core: the layout is `fastbp.layout`'s, decided in Python.

`loss_and_grad` is the objective of a batch, (1/S) sum_i w_i L_i plus the L2 penalty (alpha / 2S) of the penalized
blocks, with k members the mean over the members of each member's objective, and its gradient laid out like the
model's flat params; `output` is the members' mean of the output activations (probabilities, not logits).
"""

import numpy as np

from fastbp import reference
from fastbp.layout import Block, Joined, write
from fastbp.reference_stages import Stage, backward_chain, forward_chain


def inputs_stage(layout):
    """(stage, owners) of the "inputs" stage of a layout with `fastbp.layout.Inputs`."""
    inputs, embedding = layout.inputs, layout.inputs.embedding
    stage = Stage("inputs", n_numeric=inputs.n_numeric, cardinalities=tuple(inputs.categories),
                  embedding=None if embedding is None else embedding.kind,
                  activation=bool(embedding is not None and embedding.activation),
                  lite=bool(getattr(embedding, "lite", False)))
    owners = {block.role.replace("embedding_", ""): block for block in layout.blocks if block.layer < 0}
    if embedding is not None and embedding.kind == "piecewise_linear":
        owners["encoding_weight"], owners["encoding_bias"] = embedding.encoding()
    return stage, owners


def dropout_masks(layout, spec, n_rows, dropout):
    """Each hidden layer's inverted-dropout factor for a training pass over n_rows rows with dropout = (seed, step),
    shaped as the layer's activations ((n_rows, n_out), or (n_rows, k, n_out) for k members: member m's unit j is
    unit m n_out + j of `fastbp.reference.dropout_mask`), None where the layer's rate is 0 or dropout is None."""
    k, masks = layout.members, []
    for l in range(layout.n_layers - 1):
        rate = spec.dropout[l] if spec.dropout else 0.0
        if dropout is None or rate == 0:
            masks.append(None)
            continue
        n_out = layout.layer_sizes[l + 1]
        mask = reference.dropout_mask(*dropout, l, n_rows, k * n_out, rate, np.float64)
        masks.append(mask.reshape(n_rows, k, n_out) if layout.staged else mask)
    return masks


def network(layout, spec, n_rows=0, dropout=None):
    """(stages, owners) of the model of `layout` and `spec`: its inputs (when the layout has them) and members (of
    an ensemble or a model with inputs), then each layer's "dense" (a plain network) or "linear" stage and a hidden
    layer's activation, with its dropout mask for a pass of n_rows rows when dropout = (seed, step) is given.
    owners[i] maps each role of stage i to its `fastbp.layout.Block` (the first layer's W and r with categorical
    columns to a ``fastbp.layout.Joined`` pair; a mask's or an encoding's to the array itself)."""
    k = layout.members
    stages, owners = [], []
    if layout.inputs is not None:
        stage, stage_owners = inputs_stage(layout)
        stages.append(stage)
        owners.append(stage_owners)
    if layout.staged:
        stages.append(Stage("members", k))
        owners.append({})
    masks = dropout_masks(layout, spec, n_rows, dropout)
    for l in range(layout.n_layers):
        stages.append(Stage("linear", k) if layout.staged else Stage("dense", data=l == 0))
        owners.append({role: layout.whole(role, l) for role in ("weight", "bias", "in_scale", "out_scale")
                       if layout.find(role, l) is not None})
        if l < layout.n_layers - 1:
            stages.append(Stage("activate", k, unit=spec.activations[l]))
            owners.append({} if masks[l] is None else {"mask": masks[l]})
    return stages, owners


def views(owners, params):
    """Each stage's blocks as arrays: views of `params` where a block owns them; a mask as it is (float64), other
    fixed arrays in params' dtype."""
    return [{role: owner.view(params) if isinstance(owner, (Block, Joined))
             else owner if role == "mask" else owner.astype(params.dtype)
             for role, owner in stage.items()} for stage in owners]


def objective(spec, Z, Y, sample_weight=None, weight_sum=None):
    """(objective, dL/dZ) of the logits Z, (n, n_outputs) of one network or (n, k, n_outputs) of k members, for
    targets Y (n, n_outputs): the mean over the members of (1/S) sum_i w_i L(Z[i, m], Y[i]), S the sum of the
    weights (n without them) or `weight_sum`."""
    rows_of = Z if Z.ndim == 3 else Z[:, None, :]
    n, k, n_outputs = rows_of.shape
    w, S = reference.sample_weights(rows_of[:, 0], sample_weight, weight_sum)
    rows, targets = rows_of.reshape(n * k, n_outputs), np.repeat(Y, k, axis=0)  # row i's member m at i k + m
    losses = reference.sample_losses(spec, rows, targets).reshape(n, k)
    gradient = reference.output_gradient(spec, rows, targets).reshape(Z.shape)
    share = (w / (S * k)).reshape((n,) + (1,) * (Z.ndim - 1))
    return float(np.dot(w, losses.sum(axis=1))) / (S * k), (gradient * share).astype(Z.dtype, copy=False)


def activations(spec, Z):
    """The output activations of the logits Z, of the same shape: each member's with k members."""
    return reference.OUTPUTS[spec.output](Z.reshape(-1, Z.shape[-1])).reshape(Z.shape)


def prediction(spec, Z):
    """The output activations (n, n_outputs): with k members, the mean of the members' (probabilities, not
    logits)."""
    return activations(spec, Z).mean(axis=1) if Z.ndim == 3 else activations(spec, Z)


def logits(layout, spec, params, X):
    """The logits, (n, n_outputs) of a plain network or the members' (n, k, n_outputs), with no dropout."""
    stages, owners = network(layout, spec)
    return forward_chain(stages, views(owners, params), X)[0]


def output(layout, spec, params, X, members=False):
    """The output activations: the members' (n, k, n_outputs) with `members` (k = 1 for a plain network), else
    their mean (n, n_outputs)."""
    Z = logits(layout, spec, params, X)
    if not members:
        return prediction(spec, Z)
    return activations(spec, Z)[:, None, :] if Z.ndim == 2 else activations(spec, Z)


def loss_and_grad(layout, spec, params, X, Y, sample_weight=None, alpha=0.0, weight_sum=None, dropout=None,
                  gradient=True):
    """(objective, gradient (n_params,), y_hat) of a batch: the objective (the mean of the members' with k) plus
    the L2 penalty (alpha / 2S) ||W||^2 of the penalized blocks, its gradient laid out like params (None without
    `gradient`: a forward pass only), and the output activations (`prediction`). With dropout = (seed, step), the
    hidden layers drop units with those masks."""
    stages, owners = network(layout, spec, X.shape[0], dropout)
    blocks = views(owners, params)
    Z, caches = forward_chain(stages, blocks, X)
    loss, delta = objective(spec, Z, Y, sample_weight, weight_sum)
    S = reference.sample_weights(X, sample_weight, weight_sum)[1]
    penalized = [block for block in layout.blocks if block.penalized]
    loss += 0.5 * alpha * sum(float(np.sum(block.view(params).astype(np.float64) ** 2)) for block in penalized) / S
    if not gradient:
        return loss, None, prediction(spec, Z)
    _, grads = backward_chain(stages, blocks, caches, delta)
    grad = np.empty_like(params)
    for stage_owners, stage_grads in zip(owners, grads):
        for role, g in stage_grads.items():
            write(stage_owners[role], grad, g)
    for block in penalized if alpha else ():
        block.view(grad)[...] += (alpha / S) * block.view(params)
    return loss, grad, prediction(spec, Z)
