"""The NumPy reference of the ensemble and embedding stage kinds (`fastbp.reference_stages`) against their
definitions in PyTorch's `tabm` and `rtdl_num_embeddings`: forward values and, through autograd, the gradients
of every parameter block and of the input, with the modules' weights copied in (float64, relative 1e-10)."""

import numpy as np
import pytest
import scipy.sparse

import fastbp
from fastbp import reference_network
from fastbp import reference_stages as rs
from fastbp.reference_stages import Stage

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
tabm = pytest.importorskip("tabm", reason="tabm is the oracle of the ensemble stages: pip install tabm")
rtdl = pytest.importorskip("rtdl_num_embeddings", reason="rtdl_num_embeddings is the oracle of the embeddings: "
                                                         "pip install rtdl-num-embeddings")

torch.set_default_dtype(torch.float64)
N, K = 7, 4
# rtdl warns of a feature with a single bin, which the embedding tests include on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The .* feature has just two bin edges:UserWarning")


def numpy(t):
    return t.detach().numpy().copy()


def randomize(module, seed):
    """Random values (not the modules' initialization, which can hold zeros or ones) in every parameter."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return module


def check(stage, blocks, module, x, named, input_grad=True, seed=0):
    """Forward and backward of `stage` against `module`: `named` maps each block's role to the module's tensor
    (already laid out as the block is, by the function given with it)."""
    xt = torch.tensor(x, requires_grad=input_grad)
    out_t = module(xt)
    out, cache = rs.FORWARD[stage.kind](stage, blocks, x)
    np.testing.assert_allclose(out, numpy(out_t), rtol=1e-10, atol=1e-12)
    G = np.random.RandomState(seed).randn(*out.shape)
    (out_t * torch.tensor(G)).sum().backward()
    delta_in, grads = rs.BACKWARD[stage.kind](stage, blocks, cache, G)
    assert set(grads) == set(named)
    for role, (tensor, layout) in named.items():
        np.testing.assert_allclose(grads[role], layout(numpy(tensor.grad)), rtol=1e-10, atol=1e-12, err_msg=role)
    if input_grad:
        np.testing.assert_allclose(delta_in, numpy(xt.grad), rtol=1e-10, atol=1e-12)


def same(array):
    return array


def transposed(array):
    return array.T


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("scaling", ["both", "in", "out"])
def test_a_batch_ensemble_layer_is_tabms(scaling, bias):
    module = tabm.LinearBatchEnsemble(5, 3, k=K, scaling_init="normal", first_scaling_init_chunks=None, bias=bias)
    randomize(module, 1)
    if scaling != "both":  # one scaling fixed at ones: the same as not having it
        with torch.no_grad():
            (module.s if scaling == "in" else module.r).fill_(1.0)
    x = np.random.RandomState(2).randn(N, K, 5)
    blocks = {"weight": numpy(module.weight).T}
    named = {"weight": (module.weight, transposed)}
    if scaling in ("both", "in"):
        blocks["in_scale"], named["in_scale"] = numpy(module.r), (module.r, same)
    if scaling in ("both", "out"):
        blocks["out_scale"], named["out_scale"] = numpy(module.s), (module.s, same)
    if bias:
        blocks["bias"], named["bias"] = numpy(module.bias), (module.bias, same)
    check(Stage("linear", K), blocks, module, x, named)


@pytest.mark.parametrize("bias", [True, False])
def test_an_independent_ensemble_layer_is_tabms(bias):
    module = randomize(tabm.LinearEnsemble(5, 3, k=K, bias=bias), 3)
    x = np.random.RandomState(4).randn(N, K, 5)
    blocks, named = {"weight": numpy(module.weight)}, {"weight": (module.weight, same)}
    if bias:
        blocks["bias"], named["bias"] = numpy(module.bias), (module.bias, same)
    check(Stage("linear", K), blocks, module, x, named)


def test_a_shared_layer_applied_to_every_member_is_a_linear_layer():
    module = randomize(torch.nn.Linear(5, 3), 5)
    x = np.random.RandomState(6).randn(N, K, 5)
    check(Stage("linear", K), {"weight": numpy(module.weight).T, "bias": numpy(module.bias)}, module, x,
          {"weight": (module.weight, transposed), "bias": (module.bias, same)})


def test_a_dense_layer_is_a_linear_layer_and_one_that_reads_sparse_data_gives_no_input_gradient():
    module = randomize(torch.nn.Linear(5, 3), 11)
    blocks = {"weight": numpy(module.weight).T, "bias": numpy(module.bias)}
    named = {"weight": (module.weight, transposed), "bias": (module.bias, same)}
    check(Stage("dense"), blocks, module, np.random.RandomState(12).randn(N, 5), named)
    X = scipy.sparse.random(N, 5, density=0.4, format="csr", random_state=13)
    module.zero_grad()
    out, cache = rs.FORWARD["dense"](Stage("dense", data=True), blocks, X)
    out_t = module(torch.tensor(X.toarray()))
    np.testing.assert_allclose(out, numpy(out_t), rtol=1e-12)
    G = np.random.RandomState(14).randn(*out.shape)
    (out_t * torch.tensor(G)).sum().backward()
    delta_in, grads = rs.BACKWARD["dense"](Stage("dense", data=True), blocks, cache, G)
    assert delta_in is None and isinstance(grads["weight"], np.ndarray)
    np.testing.assert_allclose(grads["weight"], numpy(module.weight.grad).T, rtol=1e-12)
    np.testing.assert_allclose(grads["bias"], numpy(module.bias.grad), rtol=1e-12)


@pytest.mark.parametrize("shape", [(N, 5), (N, K, 5)], ids=["plain", "members"])
def test_an_activation_with_a_dropout_mask_multiplies_by_it(shape):
    x = np.random.RandomState(15).randn(*shape)
    mask = np.where(np.random.RandomState(16).rand(*shape) < 0.3, 0.0, 1 / 0.7)
    check(Stage("activate", unit="gelu"), {"mask": mask}, lambda t: torch.nn.functional.gelu(t) * torch.tensor(mask),
          x, {})


def test_tabm_minis_scaling_is_an_elementwise_affine_without_bias():
    module = randomize(tabm.ElementwiseAffine((K, 5), bias=False, scaling_init="normal"), 7)
    x = np.random.RandomState(8).randn(N, K, 5)
    check(Stage("scale", K), {"in_scale": numpy(module.weight)}, module, x, {"in_scale": (module.weight, same)})


def test_members_and_their_mean():
    x = np.random.RandomState(9).randn(N, 5)
    check(Stage("members", K), {}, lambda t: tabm.EnsembleView(k=K)(t), x, {})
    check(Stage("mean_members", K), {}, lambda t: t.mean(dim=1), np.random.RandomState(10).randn(N, K, 3), {})


def bins_of(X, n_bins):
    return rtdl.compute_bins(torch.tensor(X), n_bins=n_bins)


@pytest.mark.parametrize("n_bins", [2, 5, 48])
def test_compute_bins_is_rtdls(n_bins):
    rng = np.random.RandomState(11)
    X = np.column_stack([rng.randn(200), rng.randint(0, 3, 200), rng.exponential(size=200).round(1)])
    ours, theirs = rs.compute_bins(X, n_bins), bins_of(X, n_bins)
    assert [len(edges) for edges in ours] == [len(edges) for edges in theirs]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, numpy(b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", [False, True])
def test_piecewise_linear_embeddings_are_rtdls_version_b(activation):
    rng = np.random.RandomState(12)
    # Features of many bins, of two bins and of one bin (two distinct values), so the encoding pads some.
    X = np.column_stack([rng.randn(300), rng.randint(0, 3, 300), rng.randint(0, 2, 300)]).astype(float)
    bins = bins_of(X, 8)
    module = rtdl.PiecewiseLinearEmbeddings(bins, 4, activation=activation, version="B")
    randomize(module, 13)  # also the (zero-initialized) weight, so that the gradients are not trivial
    encoding_weight, encoding_bias = rs.encoding([numpy(edges) for edges in bins])
    np.testing.assert_array_equal(encoding_weight, numpy(module.impl.weight))
    np.testing.assert_array_equal(encoding_bias, numpy(module.impl.bias))
    x = np.concatenate([X[:5], [[-4.0, -1.0, -1.0], [4.0, 5.0, 3.0]]])  # beyond the edges on both sides
    blocks = {"encoding_weight": encoding_weight, "encoding_bias": encoding_bias, "weight": numpy(module.linear.weight),
              "linear_weight": numpy(module.linear0.weight), "linear_bias": numpy(module.linear0.bias)}
    check(Stage("piecewise_linear", activation=activation), blocks, module, x,
          {"weight": (module.linear.weight, same), "linear_weight": (module.linear0.weight, same),
           "linear_bias": (module.linear0.bias, same)}, input_grad=False)


@pytest.mark.parametrize("lite, activation", [(False, True), (False, False), (True, True)])
def test_periodic_embeddings_are_rtdls(lite, activation):
    module = rtdl.PeriodicEmbeddings(3, 6, n_frequencies=5, frequency_init_scale=0.5, activation=activation,
                                     lite=lite)
    randomize(module, 14)
    x = np.random.RandomState(15).randn(N, 3)
    weight, bias = module.linear.weight, module.linear.bias
    blocks = {"frequencies": numpy(module.periodic.weight), "weight": numpy(weight).T if lite else numpy(weight),
              "bias": numpy(bias)}
    check(Stage("periodic", activation=activation, lite=lite), blocks, module, x,
          {"frequencies": (module.periodic.weight, same),
           "weight": (weight, (transposed) if lite else same), "bias": (bias, same)}, input_grad=False)


def test_one_hot_codes_are_tabms_and_unknown_codes_are_zeros():
    codes = np.array([[0, 2], [1, 0], [2, 1], [3, -1]])  # 3 and -1: unknown
    out, _ = rs.FORWARD["one_hot"](Stage("one_hot", cardinalities=(3, 3)), {}, codes)
    known = np.array([[0, 2], [1, 0], [2, 1]])
    encoded = tabm._OneHotEncoding([3, 3])(torch.tensor(known))
    np.testing.assert_array_equal(out[:3], numpy(encoded))
    np.testing.assert_array_equal(out[3], np.zeros(6))


def chain_of(model, k):
    """fastbp's stages, blocks and (for each block) the tabm model's tensor, for a `tabm.TabM` without
    categorical columns: what its forward pass does, stage by stage."""
    stages, blocks, named = [], [], []

    def add(stage, parts=None):
        parts = parts or {}
        stages.append(stage)
        blocks.append({role: layout(numpy(tensor)) for role, (tensor, layout) in parts.items()})
        named.append(parts)

    if isinstance(model.num_module, rtdl.PiecewiseLinearEmbeddings):
        embedding = model.num_module
        add(Stage("piecewise_linear", activation=embedding.activation is not None),
            {"weight": (embedding.linear.weight, same), "linear_weight": (embedding.linear0.weight, same),
             "linear_bias": (embedding.linear0.bias, same)})
        blocks[-1]["encoding_weight"], blocks[-1]["encoding_bias"] = numpy(embedding.impl.weight), numpy(
            embedding.impl.bias)
        add(Stage("flatten"))
    add(Stage("members", k))
    backbone = model.backbone
    if isinstance(backbone, tabm.MLPBackboneMiniEnsemble):
        add(Stage("scale", k), {"in_scale": (backbone.affine.weight, same)})
    for block in backbone.blocks:
        linear = block[0]
        if isinstance(linear, tabm.LinearBatchEnsemble):
            parts = {"weight": (linear.weight, transposed), "in_scale": (linear.r, same),
                     "out_scale": (linear.s, same), "bias": (linear.bias, same)}
        elif isinstance(linear, tabm.LinearEnsemble):
            parts = {"weight": (linear.weight, same), "bias": (linear.bias, same)}
        else:
            parts = {"weight": (linear.weight, transposed), "bias": (linear.bias, same)}
        add(Stage("linear", k), parts)
        add(Stage("activate", k, unit="relu"))
    add(Stage("linear", k), {"weight": (model.output.weight, same), "bias": (model.output.bias, same)})
    return stages, blocks, named


@pytest.mark.parametrize("output", ["identity", "softmax"])
@pytest.mark.parametrize("arch_type, embedding", [("tabm", None), ("tabm-mini", "piecewise_linear"),
                                                  ("tabm-packed", None)])
def test_a_whole_tabm_network_and_its_loss_are_tabms(arch_type, embedding, output):
    """Members, every ensemble form, an embedding, activations and k output heads, composed: the logits of
    every member, the ensemble's prediction, the objective (the mean of the members' losses) and every gradient."""
    rng = np.random.RandomState(16)
    X = rng.randn(40, 3)
    num_embeddings = None
    if embedding is not None:
        num_embeddings = rtdl.PiecewiseLinearEmbeddings(bins_of(X, 6), 4, activation=True, version="B")
    model = tabm.TabM.make(n_num_features=3, d_out=3, k=K, n_blocks=2, d_block=8, dropout=0.0, arch_type=arch_type,
                           num_embeddings=num_embeddings)
    randomize(model, 17)
    stages, blocks, named = chain_of(model, K)
    Y = np.eye(3)[rng.randint(0, 3, 40)] if output == "softmax" else rng.randn(40, 3)
    spec = fastbp.reference.Spec((), output)

    Z_t = model(torch.tensor(X))
    Yt = torch.tensor(Y)
    if output == "softmax":
        loss_t = torch.nn.functional.cross_entropy(Z_t.flatten(0, 1), Yt.repeat_interleave(K, dim=0))
        proba = Z_t.softmax(dim=-1).mean(dim=1)
    else:
        loss_t = 0.5 * ((Z_t - Yt[:, None, :]) ** 2).sum(dim=-1).mean()
        proba = Z_t.mean(dim=1)
    loss_t.backward()

    Z, caches = rs.forward_chain(stages, blocks, X)
    np.testing.assert_allclose(Z, numpy(Z_t), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reference_network.prediction(spec, Z), numpy(proba), rtol=1e-10, atol=1e-12)
    loss, delta = reference_network.objective(spec, Z, Y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    _, grads = rs.backward_chain(stages, blocks, caches, delta)
    for i, parts in enumerate(named):
        assert set(grads[i]) == set(parts), stages[i]
        for role, (tensor, layout) in parts.items():
            np.testing.assert_allclose(grads[i][role], layout(numpy(tensor.grad)), rtol=1e-10, atol=1e-12,
                                       err_msg=f"stage {i} ({stages[i].kind}) {role}")
