"""Ensembles of k members trained as one network, in the compiled core, against PyTorch's `tabm` modules with the
same weights copied in: every member's logits, the ensemble's prediction, the objective (the mean of the members'
losses, with sample weights and the L2 penalty) and the gradient of every block (float64, relative 1e-10)."""

import numpy as np
import pytest

from fastbp._core._network import CoreNet
from fastbp.layout import ensemble_layout

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
pytest.importorskip("tabm", reason="tabm is the oracle of the ensembles: pip install tabm")
from _tabm_oracle import flat, member_losses, numpy, tabm_model, tensors  # noqa: E402

K, SIZES = 4, (3, 8, 8, 2)  # tabm makes every hidden layer d_block wide


def targets(output, n, rng):
    if output == "softmax":
        return np.eye(SIZES[-1])[rng.randint(SIZES[-1], size=n)]
    return rng.rand(n, SIZES[-1]) if output == "logistic" else rng.randn(n, SIZES[-1])


@pytest.mark.parametrize("ensemble", ["batch", "mini", "independent"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("output", ["identity", "logistic", "softmax"])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_core_computes_what_tabm_computes(ensemble, activation, output, weighted):
    layout = ensemble_layout(SIZES, K, ensemble)
    model = tabm_model(ensemble, activation, SIZES, K)
    params = flat(model, layout)
    core = CoreNet(layout, (activation,) * (len(SIZES) - 2), output)
    rng = np.random.RandomState(5)
    n, alpha = 30, 0.3
    X, Y = rng.randn(n, SIZES[0]), targets(output, n, rng)
    w = rng.rand(n) + 0.5 if weighted else None
    S = n if w is None else w.sum()

    Z = model(torch.tensor(X))
    proba = {"logistic": torch.sigmoid, "softmax": lambda z: torch.softmax(z, -1)}.get(output, lambda z: z)(Z)
    weights = torch.ones(n, dtype=torch.float64) if w is None else torch.tensor(w)
    penalty = sum((tensor ** 2).sum() for (role, _), (tensor, _) in tensors(model, layout).items()
                  if role == "weight")
    loss_t = (weights[:, None] * member_losses(output, Z, torch.tensor(Y))).sum() / (S * K) + 0.5 * alpha * penalty / S
    loss_t.backward()

    np.testing.assert_allclose(core.forward(params, X, 1, False, True), numpy(proba), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(core.forward(params, X, 1, False), numpy(proba.mean(dim=1)), rtol=1e-10, atol=1e-13)
    grad = np.empty_like(params)
    loss = core.loss_and_grad(params, X, Y, w, S, alpha, grad, 1, False)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    objective, y_hat = core.objective_and_output(params, X, Y, w, S, alpha, 1, False)
    assert objective == pytest.approx(loss_t.item(), rel=1e-12)
    for (role, layer), (tensor, as_block) in tensors(model, layout).items():
        np.testing.assert_allclose(layout.block(role, layer).view(grad), as_block(numpy(tensor.grad)), rtol=1e-10,
                                   atol=1e-13, err_msg=f"{role} {layer}")


@pytest.mark.parametrize("ensemble", ["batch", "mini", "independent"])
def test_dropout_masks_each_member_on_its_own_and_the_gradient_is_the_objectives(ensemble):
    """With a fixed dropout seed, central differences of the objective equal the gradient, and the members' masks
    differ (each member drops its own units)."""
    layout = ensemble_layout(SIZES, K, ensemble)
    core = CoreNet(layout, ("tanh", "tanh"), "identity", dropout=(0.3, 0.2))
    rng = np.random.RandomState(8)
    params = rng.randn(layout.n_params) * 0.5
    X, Y = rng.randn(12, SIZES[0]), rng.randn(12, SIZES[-1])
    grad = np.empty_like(params)
    core.loss_and_grad(params, X, Y, None, 12, 0.0, grad, 1, False, 11, 3)
    h = 1e-6
    for i in rng.choice(layout.n_params, 40, replace=False):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        difference = (core.objective_and_output(up, X, Y, None, 12, 0.0, 1, False, 11, 3)[0]
                      - core.objective_and_output(down, X, Y, None, 12, 0.0, 1, False, 11, 3)[0]) / (2 * h)
        assert difference == pytest.approx(grad[i], rel=1e-5, abs=1e-8)
    with_dropout = core.objective_and_output(params, X, Y, None, 12, 0.0, 1, False, 11, 3)[0]
    assert with_dropout != core.objective_and_output(params, X, Y, None, 12, 0.0, 1, False)[0]


def test_one_member_is_the_plain_network():
    assert ensemble_layout(SIZES, 1, "batch") == ensemble_layout(SIZES, 1, "independent")
    assert [block.name for block in ensemble_layout(SIZES, 1, "mini").blocks] == ["W0", "W1", "W2", "b0", "b1", "b2"]


def test_the_blocks_of_each_form():
    names = {form: [(block.name, block.shape) for block in ensemble_layout((3, 8, 2), 4, form).blocks]
             for form in ("batch", "mini", "independent")}
    assert names["batch"] == [("W0", (3, 8)), ("W1", (4, 8, 2)), ("b0", (4, 8)), ("b1", (4, 2)), ("r0", (4, 3)),
                              ("s0", (4, 8))]
    assert names["mini"] == [("W0", (3, 8)), ("W1", (4, 8, 2)), ("b0", (8,)), ("b1", (4, 2)), ("r0", (4, 3))]
    assert names["independent"] == [("W0", (4, 3, 8)), ("W1", (4, 8, 2)), ("b0", (4, 8)), ("b1", (4, 2))]
