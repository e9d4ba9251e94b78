"""The `tabm` package as the oracle of fastbp's ensembles: a `tabm.TabM` of the same architecture, and the map
between its tensors and the blocks of a `fastbp.layout.Layout` (test-only: needs torch and tabm)."""

import numpy as np
import tabm
import torch

ARCH = {"batch": "tabm", "mini": "tabm-mini", "independent": "tabm-packed"}
UNITS = {"relu": "ReLU", "tanh": "Tanh"}


def numpy(t):
    return t.detach().numpy().copy()


def tabm_model(ensemble, activation, sizes, k, seed=3, randomize=True):
    """A float64 `tabm.TabM` of layer sizes `sizes` (every hidden layer as wide: tabm's d_block), k members, no
    dropout; with `randomize`, random values in every parameter (not the initialization, which holds ones)."""
    torch.manual_seed(seed)
    model = tabm.TabM.make(n_num_features=sizes[0], d_out=sizes[-1], k=k, n_blocks=len(sizes) - 2,
                           d_block=sizes[1], dropout=0.0, arch_type=ARCH[ensemble], activation=UNITS[activation])
    model = model.double()
    if randomize:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64) * 0.5)
    return model


def same(array):
    return array


def transposed(array):
    return array.T


def tensors_of(model, layout):
    """{(role, layer): (the model's tensor, the function that lays it out as the block)}."""
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


def flat_of(model, layout):
    """The model's parameters as a flat buffer laid out by `layout`."""
    params = np.empty(layout.n_params)
    for (role, layer), (tensor, as_block) in tensors_of(model, layout).items():
        layout.block(role, layer).view(params)[...] = as_block(numpy(tensor))
    return params


def load_into(model, layout, params):
    """Set the model's parameters to the flat buffer `params` laid out by `layout`."""
    with torch.no_grad():
        for (role, layer), (tensor, as_block) in tensors_of(model, layout).items():
            tensor.copy_(torch.tensor(as_block(layout.block(role, layer).view(params).astype(np.float64))))


def grad_of(model, layout):
    """The models' gradients as a flat buffer laid out by `layout`."""
    grad = np.empty(layout.n_params)
    for (role, layer), (tensor, as_block) in tensors_of(model, layout).items():
        layout.block(role, layer).view(grad)[...] = as_block(numpy(tensor.grad))
    return grad


def member_losses(output, Z, Y):
    """(n, k) losses of each row's members, as fastbp defines its outputs' losses."""
    Y = Y[:, None, :]
    if output == "logistic":
        return (torch.nn.functional.softplus(Z) - Y * Z).sum(-1)
    if output == "softmax":
        return -(Y * torch.log_softmax(Z, dim=-1)).sum(-1)
    return 0.5 * ((Z - Y) ** 2).sum(-1)
