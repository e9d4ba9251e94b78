"""The `tabm` package as the oracle of fastbp's ensembles: a `tabm.TabM` of the same architecture with random
weights, and the map between its tensors and a layout's blocks (`fastbp.bench.tabm_peer`). Needs torch and tabm."""

import tabm
import torch

from fastbp.bench.tabm_peer import ARCH, UNITS, flat, load, tensors

__all__ = ["flat", "load", "tensors", "tabm_model", "member_losses", "numpy", "train_adamw"]


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


def member_losses(output, Z, Y):
    """(n, k) losses of each row's members, as fastbp defines its outputs' losses."""
    Y = Y[:, None, :]
    if output == "logistic":
        return (torch.nn.functional.softplus(Z) - Y * Z).sum(-1)
    if output == "softmax":
        return -(Y * torch.log_softmax(Z, dim=-1)).sum(-1)
    return 0.5 * ((Z - Y) ** 2).sum(-1)


def train_adamw(model, groups, X, Y, output, schedule, epochs, batch_size, rate=0.01, clip_norm=0.5):
    """torch.optim.AdamW (betas 0.9, 0.99, eps 1e-8) on `model` in minibatches of X in order, each step's rate from
    the fastbp `schedule`, the gradient clipped to `clip_norm`: what fastbp's Trainer does with shuffle=False."""
    optimizer = torch.optim.AdamW(groups, lr=rate, betas=(0.9, 0.99), eps=1e-8)
    t = 0
    for _ in range(epochs):
        for first in range(0, len(X), batch_size):
            for group in optimizer.param_groups:
                group["lr"] = schedule.rate(t, rate)
            optimizer.zero_grad()
            Z = model(torch.tensor(X[first:first + batch_size]))
            member_losses(output, Z, torch.tensor(Y[first:first + batch_size])).mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            t += 1
    return t
