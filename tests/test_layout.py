"""The parameter layout: named blocks with roles and policies, decided in Python and obeyed by the core by role,
never by position in the buffer."""

import numpy as np
import pytest

import fastbp
from fastbp import reference, reference_network, steps
from fastbp._core import _network, _optim
from fastbp._core._epoch import EpochKernel
from fastbp._core._network import CoreNet
from fastbp.backends import Training
from fastbp.layout import POLICY, ROLES, Layout, dense_layout, make_block

SIZES = (5, 7, 4, 3)
SPEC = reference.Spec(activations=("tanh", "relu"), output="softmax")


def interleaved_layout(sizes):
    """A layout no backend makes: each layer's bias right after its weights (b0 between W0 and W1)."""
    blocks, offset = [], 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for role, shape in (("weight", (n_in, n_out)), ("bias", (n_out,))):
            blocks.append(make_block(role, layer, offset, shape))
            offset = blocks[-1].stop
    return Layout(tuple(sizes), tuple(blocks))


def problem(dtype=np.float64, n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, SIZES[0]).astype(dtype)
    Y = np.eye(SIZES[-1], dtype=dtype)[rng.randint(SIZES[-1], size=n)]
    return X, Y


def test_dense_layout_packs_every_weight_then_every_bias_as_scikit_learn_does():
    layout = dense_layout(SIZES)
    assert [block.name for block in layout.blocks] == ["W0", "W1", "W2", "b0", "b1", "b2"]
    assert [block.offset for block in layout.blocks] == [0, 35, 63, 75, 82, 86]
    assert layout.n_params == 89 == fastbp.MLP(SIZES).n_params
    assert layout.block("bias", 1).shape == (4,) and layout.block("weight", 2).shape == (4, 3)
    np.testing.assert_array_equal(layout.spans("penalized"), [[0, 75]])
    np.testing.assert_array_equal(layout.spans("decayed"), [[0, 75]])
    assert layout.macs_per_row == 75


def test_the_weights_are_penalized_and_decayed_and_the_biases_are_not():
    """And an ensemble's scalings r and s are decayed (`tabm`'s recipe: every parameter but the biases), not
    penalized; the first layer's rows for categorical columns are weights; of an embedding only the linear maps'
    weights are decayed (the recipe's groups), and alpha covers none of it."""
    assert POLICY == {"weight": (True, True), "bias": (False, False), "in_scale": (False, True),
                      "out_scale": (False, True), "category_weight": (True, True), "category_scale": (False, True),
                      "embedding_weight": (False, True), "embedding_bias": (False, False),
                      "linear_weight": (False, False), "linear_bias": (False, False), "frequencies": (False, False)}
    for block in dense_layout(SIZES).blocks:
        assert (block.penalized, block.decayed) == (block.role == "weight",) * 2


def test_the_core_numbers_the_roles_in_the_layouts_order():
    assert ROLES == tuple(_network.ROLES) and [_network.ROLES[role] for role in ROLES] == list(range(len(ROLES)))


def test_spans_merge_adjacent_blocks_only():
    layout = interleaved_layout(SIZES)
    np.testing.assert_array_equal(layout.spans("decayed"), [[0, 35], [42, 70], [74, 86]])


def test_a_model_reads_its_arrays_where_its_layout_puts_them():
    net = fastbp.MLP(SIZES, random_state=0)
    for l, (W, b) in enumerate(zip(net.coefs, net.intercepts)):
        assert np.shares_memory(W, net.params) and W.shape == net.layout.block("weight", l).shape
        np.testing.assert_array_equal(W, net.layout.block("weight", l).view(net.params))
        np.testing.assert_array_equal(b, net.layout.block("bias", l).view(net.params))
    assert net.n_coefs == 75


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_core_penalizes_by_role_not_by_position(dtype):
    """With the biases between the weights, the core's objective and gradient are still the reference's: the
    penalty goes to the weights wherever they are."""
    layout = interleaved_layout(SIZES)
    rng = np.random.RandomState(1)
    params = (rng.randn(layout.n_params) * 0.5).astype(dtype)
    X, Y = problem(dtype)
    grad = np.empty_like(params)
    core = CoreNet(layout, SPEC.activations, SPEC.output)
    loss = core.loss_and_grad(params, X, Y, None, X.shape[0], 0.3, grad, 1, False)
    expected, expected_grad, _ = reference_network.loss_and_grad(layout, SPEC, params, X, Y, alpha=0.3)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(loss, expected, rtol=rtol)
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("optimizer, settings", [
    ("AdamW", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "weight_decay": 0.5}),
    ("SGD", {"momentum": 0.9, "nesterov": False, "weight_decay": 0.5}),
])
@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_an_epoch_decays_by_role_not_by_position(optimizer, settings, clip_norm):
    """A compiled epoch on the interleaved layout (each layer stepped as backward writes it; with clipping, the
    whole buffer after it) equals the reference's steps with weight decay on the layout's decayed spans."""
    layout = interleaved_layout(SIZES)
    rng = np.random.RandomState(2)
    start = rng.randn(layout.n_params) * 0.5
    X, Y = problem(n=50)
    names = _optim.STATE_NAMES[optimizer]
    params, state = start.copy(), {name: np.zeros(layout.n_params) for name in names}
    kernel = EpochKernel(CoreNet(layout, SPEC.activations, SPEC.output), 16, np.float64, optimizer, settings,
                         {"alpha": 0.1, "clip_norm": clip_norm, "schedule": None, "dropout_seed": None}, 1, False)
    result = kernel.train_epoch(params, X, Y, None, None, state, 0.05, 0)

    expected, expected_state = start.copy(), {name: np.zeros(layout.n_params) for name in names}

    def gradient(rows, dropout):
        return reference_network.loss_and_grad(layout, SPEC, expected, X[rows], Y[rows], None, 0.1)[:2]

    def update(grad, rate, t):
        reference.optimizer_step(optimizer, settings, expected, grad, expected_state, rate, t + 1,
                                 layout.spans("decayed"))

    steps.train_steps(steps.minibatches(50, 16, None, None), gradient, update, Training(0.1, clip_norm), 0.05, 0)
    assert result.steps == 4
    np.testing.assert_allclose(params, expected, rtol=1e-11, atol=1e-13)
    # The biases were not decayed: with the weights' decay on them too, the result moves away.
    assert not np.allclose(params, start)


def test_the_optimizer_step_decays_exactly_the_given_spans():
    settings = {"momentum": 0.0, "nesterov": False, "weight_decay": 0.5}
    params, grad = np.arange(1.0, 11.0), np.zeros(10)
    _optim.step("SGD", settings, params, grad, {"velocity": np.zeros(10)}, 0.1, 1,
                np.array([[1, 3], [6, 10]], dtype=np.intp))
    keep = 1 - 0.1 * 0.5
    np.testing.assert_array_equal(params, [1, 2 * keep, 3 * keep, 4, 5, 6, 7 * keep, 8 * keep, 9 * keep, 10 * keep])


def test_the_core_runs_a_table_of_stages():
    """The passes interpret `CoreNet.stages`: the inputs (when the model has an embedding or categories) then one
    stage per layer, of its kind; each block belongs to one stage (its layer, -1 for the inputs)."""

    def stages(**options):
        net = fastbp.MLP([4, 8, 8, 2], "relu", "identity", random_state=0, **options)
        return CoreNet(net.layout, net.activations, net.output).stages

    assert stages() == [("dense", 0), ("dense", 1), ("dense", 2)]
    assert stages(ensemble_size=3) == [("members", 0), ("members", 1), ("members", 2)]
    assert stages(categories=[3]) == [("inputs", -1), ("dense", 0), ("dense", 1), ("dense", 2)]
    periodic = fastbp.embeddings.Periodic(3, 2, n_frequencies=2)
    assert stages(ensemble_size=2, embedding=periodic, categories=[3])[:2] == [("inputs", -1), ("members", 0)]
