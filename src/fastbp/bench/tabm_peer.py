"""The `tabm` package's model of a fastbp ensemble: the benchmark's PyTorch peer, and the map between its tensors
and the blocks of a `fastbp.layout.Layout`. Needs torch and tabm (bench and test only, never fastbp's runtime)."""

import numpy as np

ARCH = {"batch": "tabm", "mini": "tabm-mini", "independent": "tabm-packed"}
UNITS = {"relu": "ReLU", "tanh": "Tanh", "gelu": "GELU", "logistic": "Sigmoid"}


def num_embeddings(embedding):
    """The ``rtdl_num_embeddings`` module of a fastbp embedding (None for None)."""
    import rtdl_num_embeddings as rtdl
    import torch

    if embedding is None:
        return None
    if embedding.kind == "piecewise_linear":
        return rtdl.PiecewiseLinearEmbeddings([torch.tensor(edges) for edges in embedding.bins],
                                              embedding.d_embedding, activation=embedding.activation, version="B")
    return rtdl.PeriodicEmbeddings(embedding.n_features, embedding.d_embedding, n_frequencies=embedding.n_frequencies,
                                   frequency_init_scale=embedding.frequency_init_scale,
                                   activation=embedding.activation, lite=embedding.lite)


def make(net, dropout=0.0):
    """A `tabm.TabM` with the architecture of the fastbp ensemble `net` (every hidden layer as wide: tabm's
    d_block; one hidden activation; its embedding and categorical columns), in net's dtype, with `dropout` after
    each hidden activation and net's weights copied in. Called on X as fastbp takes it (the categorical codes in
    its last columns)."""
    import torch

    sizes, inputs = net.layer_sizes, net.layout.inputs
    if len(set(sizes[1:-1])) != 1 or len(set(net.activations)) != 1:
        raise ValueError("tabm's TabM has hidden layers of one width and one activation")
    n_numeric = sizes[0] if inputs is None else inputs.n_numeric
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # rtdl computes the fixed encoding in the default dtype
    try:
        model = make_tabm(net, dropout, n_numeric)
    finally:
        torch.set_default_dtype(default)
    model = model.to(dtype)
    load(model, net.layout, net.params)
    return model if inputs is None or not inputs.categories else Columns(model, n_numeric)


def make_tabm(net, dropout, n_numeric):
    import tabm

    sizes, inputs = net.layer_sizes, net.layout.inputs
    return tabm.TabM.make(n_num_features=n_numeric, d_out=sizes[-1], k=net.ensemble_size, n_blocks=len(sizes) - 2,
                           d_block=sizes[1], dropout=dropout, arch_type=ARCH[net.ensemble],
                           activation=UNITS[net.activations[0]],
                           cat_cardinalities=None if inputs is None else list(inputs.categories) or None,
                           num_embeddings=num_embeddings(None if inputs is None else inputs.embedding))


def Columns(model, n_numeric):
    """`model` called on one matrix whose last columns are categorical codes: model(x_num, x_cat)."""
    import torch

    class Split(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tabm = model

        def forward(self, X):
            return self.tabm(X[:, :n_numeric] if n_numeric else None, X[:, n_numeric:].long())

    return Split()


def same(array):
    return array


def transposed(array):
    return array.T


class Part:
    """A block as part of a tensor: ``transform(tensor)[index]``."""

    def __init__(self, transform, index=Ellipsis):
        self.transform, self.index = transform, index

    def __call__(self, array):
        return self.transform(array)[self.index]


def tensors(model, layout):
    """{(role, layer): (the model's tensor, the `Part` of it that is the block)}."""
    import tabm

    model = getattr(model, "tabm", model)  # a `Columns` wrapper's
    backbone, found = model.backbone, {}
    width = layout.layer_sizes[0]

    def first(role, tensor, transform):
        """Layer 0's W or r: with categorical columns, the rows of their one-hot units are a block of their own."""
        rest = {"weight": "category_weight", "in_scale": "category_scale"}[role]
        if layout.find(rest, 0) is None:
            found[role, 0] = (tensor, Part(transform))
            return
        rows = (Ellipsis, slice(None, width), slice(None)) if role == "weight" else (slice(None), slice(None, width))
        others = (Ellipsis, slice(width, None), slice(None)) if role == "weight" else (slice(None), slice(width, None))
        found[role, 0], found[rest, 0] = (tensor, Part(transform, rows)), (tensor, Part(transform, others))

    if isinstance(backbone, tabm.MLPBackboneMiniEnsemble):
        first("in_scale", backbone.affine.weight, same)
    for l, block in enumerate(backbone.blocks):
        linear = block[0]
        # nn.Linear and LinearBatchEnsemble keep W as (out, in); LinearEnsemble as (k, in, out), fastbp's.
        transform = same if isinstance(linear, tabm.LinearEnsemble) else transposed
        if l == 0:
            first("weight", linear.weight, transform)
        else:
            found["weight", l] = (linear.weight, Part(transform))
        found["bias", l] = (linear.bias, Part(same))
        if isinstance(linear, tabm.LinearBatchEnsemble):
            if l == 0:
                first("in_scale", linear.r, same)
            else:
                found["in_scale", l] = (linear.r, Part(same))
            found["out_scale", l] = (linear.s, Part(same))
    last = layout.n_layers - 1
    found["weight", last], found["bias", last] = (model.output.weight, Part(same)), (model.output.bias, Part(same))
    embedding = model.num_module
    if embedding is not None and hasattr(embedding, "linear0"):  # piecewise linear
        found["embedding_weight", -1] = (embedding.linear.weight, Part(same))
        found["linear_weight", -1] = (embedding.linear0.weight, Part(same))
        found["linear_bias", -1] = (embedding.linear0.bias, Part(same))
    elif embedding is not None:  # periodic
        lite = embedding.linear.weight.ndim == 2
        found["frequencies", -1] = (embedding.periodic.weight, Part(same))
        found["embedding_weight", -1] = (embedding.linear.weight, Part(transposed if lite else same))
        found["embedding_bias", -1] = (embedding.linear.bias, Part(same))
    assert set(found) == {(block.role, block.layer) for block in layout.blocks}
    return found


def flat(model, layout, gradient=False):
    """The model's parameters (or their gradients) as a flat float64 buffer laid out by `layout`."""
    out = np.empty(layout.n_params)
    for (role, layer), (tensor, part) in tensors(model, layout).items():
        value = tensor.grad if gradient else tensor
        layout.block(role, layer).view(out)[...] = part(value.detach().numpy())
    return out


def load(model, layout, params):
    """Set the model's parameters to the flat buffer `params` laid out by `layout`."""
    import torch

    with torch.no_grad():
        for (role, layer), (tensor, part) in tensors(model, layout).items():
            part(tensor.detach().numpy())[...] = layout.block(role, layer).view(params)


def parameter_groups(model, layout, weight_decay):
    """torch.optim's parameter groups of `model` with fastbp's decay policy (`fastbp.layout.POLICY`): weight decay
    on the tensors whose blocks are decayed, none on the others."""
    decayed, kept = {}, {}
    for (role, layer), (tensor, _) in tensors(model, layout).items():
        (decayed if layout.block(role, layer).decayed else kept)[id(tensor)] = tensor
    return [{"params": list(decayed.values()), "weight_decay": weight_decay},
            {"params": [tensor for key, tensor in kept.items() if key not in decayed], "weight_decay": 0.0}]
