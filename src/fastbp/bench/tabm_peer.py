"""The `tabm` package's model of a fastbp ensemble: the benchmark's PyTorch peer, and the map between its tensors
and the blocks of a `fastbp.layout.Layout`. Needs torch and tabm (bench and test only, never fastbp's runtime)."""

import numpy as np

ARCH = {"batch": "tabm", "mini": "tabm-mini", "independent": "tabm-packed"}
UNITS = {"relu": "ReLU", "tanh": "Tanh", "gelu": "GELU", "logistic": "Sigmoid"}


def make(net, dropout=0.0):
    """A `tabm.TabM` with the architecture of the fastbp ensemble `net` (every hidden layer as wide: tabm's
    d_block; one hidden activation), in net's dtype, with `dropout` after each hidden activation and net's
    weights copied in."""
    import tabm
    import torch

    sizes = net.layer_sizes
    if len(set(sizes[1:-1])) != 1 or len(set(net.activations)) != 1:
        raise ValueError("tabm's TabM has hidden layers of one width and one activation")
    model = tabm.TabM.make(n_num_features=sizes[0], d_out=sizes[-1], k=net.ensemble_size, n_blocks=len(sizes) - 2,
                           d_block=sizes[1], dropout=dropout, arch_type=ARCH[net.ensemble],
                           activation=UNITS[net.activations[0]])
    model = model.to(torch.float32 if net.dtype == np.float32 else torch.float64)
    load(model, net.layout, net.params)
    return model


def same(array):
    return array


def transposed(array):
    return array.T


def tensors(model, layout):
    """{(role, layer): (the model's tensor, the function that lays it out as the block)}."""
    import tabm

    backbone, found = model.backbone, {}
    if isinstance(backbone, tabm.MLPBackboneMiniEnsemble):
        found["in_scale", 0] = (backbone.affine.weight, same)
    for l, block in enumerate(backbone.blocks):
        linear = block[0]
        # nn.Linear and LinearBatchEnsemble keep W as (out, in); LinearEnsemble as (k, in, out), fastbp's.
        found["weight", l] = (linear.weight, same if isinstance(linear, tabm.LinearEnsemble) else transposed)
        found["bias", l] = (linear.bias, same)
        if isinstance(linear, tabm.LinearBatchEnsemble):
            found["in_scale", l], found["out_scale", l] = (linear.r, same), (linear.s, same)
    last = layout.n_layers - 1
    found["weight", last], found["bias", last] = (model.output.weight, same), (model.output.bias, same)
    assert set(found) == {(block.role, block.layer) for block in layout.blocks}
    return found


def flat(model, layout, gradient=False):
    """The model's parameters (or their gradients) as a flat float64 buffer laid out by `layout`."""
    out = np.empty(layout.n_params)
    for (role, layer), (tensor, as_block) in tensors(model, layout).items():
        value = tensor.grad if gradient else tensor
        layout.block(role, layer).view(out)[...] = as_block(value.detach().numpy())
    return out


def load(model, layout, params):
    """Set the model's parameters to the flat buffer `params` laid out by `layout`."""
    import torch

    with torch.no_grad():
        for (role, layer), (tensor, as_block) in tensors(model, layout).items():
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(as_block(layout.block(role, layer).view(params)))))
