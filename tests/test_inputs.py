"""A model's first layer reading more than X: embeddings of the numeric columns (`fastbp.embeddings`) and
categorical columns read as lookups, in the compiled core, against PyTorch's `tabm` and `rtdl_num_embeddings`
modules with the same weights copied in (every ensemble form, both embeddings, categorical columns, float64,
relative 1e-10), against the NumPy reference, by central differences, and through the public API: 200 AdamW steps
follow torch.optim.AdamW, threads keep the bits, the model saves and loads, and bad arguments are refused."""

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import fastbp
from fastbp import embeddings, schedules
from fastbp._core._network import CoreNet
from fastbp.layout import ensemble_layout, inputs_of

K, CATEGORIES = 4, (3, 5)
# rtdl warns of a feature with a single bin, which some data here has on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The .* feature has just two bin edges:UserWarning")


def data(n=40, seed=0, categories=CATEGORIES, unknown=False):
    """X: three numeric columns (one of few values), then a code per categorical column; targets of 2 outputs."""
    rng = np.random.RandomState(seed)
    numeric = np.column_stack([rng.randn(n), rng.randint(0, 3, n), rng.randn(n) * 3])
    codes = [rng.randint(-1 if unknown else 0, c + (1 if unknown else 0), n) for c in categories]
    X = np.column_stack([numeric] + codes).astype(float)
    return X, rng.randn(n, 2)


def make_embedding(kind, X):
    numeric = X[:, :3]
    return {None: None,
            "piecewise_linear": embeddings.PiecewiseLinear(embeddings.compute_bins(numeric, 6), 4, activation=True),
            "piecewise_linear_b": embeddings.PiecewiseLinear(embeddings.compute_bins(numeric, 5), 3),
            "periodic": embeddings.Periodic(3, 4, n_frequencies=3, frequency_init_scale=0.5),
            "periodic_lite": embeddings.Periodic(3, 5, n_frequencies=2, lite=True),
            "periodic_b": embeddings.Periodic(3, 3, n_frequencies=4, activation=False)}[kind]


EMBEDDINGS = [None, "piecewise_linear", "piecewise_linear_b", "periodic", "periodic_lite", "periodic_b"]


def oracle_cases():
    for embedding in EMBEDDINGS:
        for categories in ((), CATEGORIES):
            if embedding is not None or categories:
                yield embedding, categories


@pytest.mark.parametrize("form", ["batch", "mini", "independent"])
@pytest.mark.parametrize("embedding, categories", list(oracle_cases()))
@pytest.mark.parametrize("output", ["identity", "logistic"])
def test_the_core_computes_what_tabm_computes(form, embedding, categories, output):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
    pytest.importorskip("tabm", reason="tabm is the oracle of the ensembles: pip install tabm")
    pytest.importorskip("rtdl_num_embeddings", reason="the oracle of the embeddings: pip install rtdl-num-embeddings")
    from _tabm_oracle import member_losses, numpy

    from fastbp.bench import tabm_peer

    X, Y = data(categories=categories)
    if output == "logistic":
        Y = (Y > 0).astype(float)
    net = fastbp.MLP([X.shape[1], 8, 8, 2], "relu", output, random_state=0, ensemble_size=K, ensemble=form,
                     embedding=make_embedding(embedding, X), categories=list(categories) or None)
    generator = np.random.RandomState(7)
    net.params[...] = generator.randn(net.n_params) * 0.5  # every block random: none trivially zero or one
    model = tabm_peer.make(net)
    w, alpha = generator.rand(len(X)) + 0.5, 0.3
    S = w.sum()

    Z = model(torch.tensor(X))
    proba = torch.sigmoid(Z) if output == "logistic" else Z
    penalty = sum((block.view(torch.tensor(net.params)) ** 2).sum() for block in net.layout.blocks if block.penalized)
    loss_t = (torch.tensor(w)[:, None] * member_losses(output, Z, torch.tensor(Y))).sum() / (S * K) \
        + 0.5 * alpha * penalty / S
    loss_t.backward()
    grad_t = tabm_peer.flat(model, net.layout, gradient=True)
    for block in net.layout.blocks:  # the penalty's gradient, computed on a copy of the weights above
        if block.penalized:
            block.view(grad_t)[...] += alpha / S * block.view(net.params)

    core = CoreNet(net.layout, net.activations, output)
    np.testing.assert_allclose(core.forward(net.params, X, 1, False, True), numpy(proba), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(net.forward(X), numpy(proba.mean(dim=1)), rtol=1e-10, atol=1e-13)
    grad = np.empty_like(net.params)
    loss = core.loss_and_grad(net.params, X, Y, w, S, alpha, grad, 1, False)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for block in net.layout.blocks:
        np.testing.assert_allclose(block.view(grad), block.view(grad_t), rtol=1e-10, atol=1e-12, err_msg=block.name)


@pytest.mark.parametrize("k, form", [(1, "batch"), (3, "batch"), (3, "mini"), (3, "independent")])
@pytest.mark.parametrize("embedding", EMBEDDINGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_backends_agree_with_unknown_codes(k, form, embedding, dtype):
    """Codes outside [0, cardinality) add nothing (the reference's all-zero one-hot); one member too."""
    X, Y = data(unknown=True)
    assert (X[:, 3:] < 0).any() and (X[:, 3] >= 3).any()
    nets = [fastbp.MLP([5, 8, 6, 2], "tanh", "identity", random_state=2, ensemble_size=k, ensemble=form,
                       embedding=make_embedding(embedding, X), categories=list(CATEGORIES), dtype=dtype,
                       backend=backend, dropout=0.2) for backend in ("cython", "numpy")]
    nets[1].params[...] = nets[0].params
    tolerance = {"float64": 1e-12, "float32": 2e-5}[dtype]
    results = [(net.forward(X), *net.loss_and_grad(X, Y, alpha=0.1, dropout_seed=3)) for net in nets]
    (y0, l0, g0), (y1, l1, g1) = results
    np.testing.assert_allclose(y0, y1, rtol=tolerance, atol=tolerance)
    assert l0 == pytest.approx(l1, rel=tolerance)
    np.testing.assert_allclose(g0, g1, rtol=tolerance, atol=tolerance * np.abs(g1).max())


@pytest.mark.parametrize("k, form", [(1, "batch"), (3, "batch"), (3, "mini"), (3, "independent")])
@pytest.mark.parametrize("embedding", ["piecewise_linear_b", "periodic_b"])  # no ReLU: no kink
def test_the_gradient_is_the_objectives_by_central_differences(k, form, embedding):
    X, Y = data(24)
    net = fastbp.MLP([5, 8, 2], "tanh", "identity", random_state=0, ensemble_size=k, ensemble=form,
                     embedding=make_embedding(embedding, X), categories=list(CATEGORIES), dropout=0.25, init="torch")
    net.params[...] += np.random.RandomState(1).randn(net.n_params) * 0.3  # W of piecewise linear starts at zero
    assert fastbp.gradcheck(net, X, Y, alpha=0.01, dropout_seed=4) < 1e-6


def test_two_hundred_steps_follow_torch_adamw_on_tabm_mini_with_embeddings_and_categories():
    pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
    pytest.importorskip("tabm", reason="tabm is the oracle of the ensembles: pip install tabm")
    pytest.importorskip("rtdl_num_embeddings", reason="the oracle of the embeddings: pip install rtdl-num-embeddings")
    from _tabm_oracle import train_adamw

    from fastbp.bench import tabm_peer

    X, Y = data(64)
    for backend in ("cython", "numpy"):
        net = fastbp.MLP([5, 16, 16, 2], "relu", "identity", random_state=3, ensemble_size=K, ensemble="mini",
                         init="torch", backend=backend, embedding=make_embedding("piecewise_linear", X),
                         categories=list(CATEGORIES))
        net.params[...] += np.random.RandomState(2).randn(net.n_params) * 0.1
        model = tabm_peer.make(net)
        schedule = schedules.WarmupCosine(20, 200, min_lr=1e-4)
        trainer = fastbp.Trainer(net, fastbp.AdamW(0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-8, weight_decay=0.05),
                                 batch_size=8, max_epochs=25, shuffle=False, schedule=schedule, clip_norm=0.5)
        trainer.fit(X, Y)
        groups = tabm_peer.parameter_groups(model, net.layout, 0.05)
        assert train_adamw(model, groups, X, Y, "identity", schedule, 25, 8) == trainer.optimizer.t == 200
        expected = tabm_peer.flat(model, net.layout)
        np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max(),
                                   err_msg=backend)


@pytest.mark.parametrize("k, form", [(1, "batch"), (4, "batch"), (4, "independent")])
@pytest.mark.parametrize("embedding", ["piecewise_linear", "periodic", "periodic_lite"])
def test_fixed_blocks_give_the_same_bits_for_any_thread_count(k, form, embedding):
    X, Y = data(600, seed=4)
    fits = []
    for n_threads in (1, 2, 2):
        net = fastbp.MLP([5, 64, 64, 2], "relu", "identity", random_state=0, ensemble_size=k, ensemble=form,
                         embedding=make_embedding(embedding, X), categories=list(CATEGORIES), dropout=0.1,
                         n_threads=n_threads, thread_invariant=True)
        fastbp.Trainer(net, fastbp.AdamW(1e-2), batch_size=256, max_epochs=2, random_state=0).fit(X, Y)
        fits.append(net.params.copy())
    np.testing.assert_array_equal(fits[0], fits[1])
    np.testing.assert_array_equal(fits[1], fits[2])


def test_the_initialization_draws_tabms_distributions():
    X, _ = data(200)
    for kind, scaling in (("piecewise_linear", "normal"), (None, "signs")):
        net = fastbp.MLP([5, 64, 2], "relu", "identity", random_state=0, ensemble_size=8, ensemble="batch",
                         init="torch", embedding=make_embedding(kind, X), categories=list(CATEGORIES))
        layout, width = net.layout, net.layout.layer_sizes[0]
        bound = 1 / np.sqrt(width + sum(CATEGORIES))  # tabm's d_in: every one-hot unit counts
        for role in ("weight", "category_weight"):
            values = layout.block(role, 0).view(net.params)
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound, role
        r = np.concatenate([layout.block("in_scale", 0).view(net.params),
                            layout.block("category_scale", 0).view(net.params)], axis=1)
        chunks = [width // 3] * 3 + list(CATEGORIES)  # one value per feature and member
        starts = np.cumsum([0] + chunks[:-1])
        for start, size in zip(starts, chunks):
            np.testing.assert_array_equal(r[:, start:start + size], np.repeat(r[:, start:start + 1], size, axis=1))
        firsts = r[:, starts]
        assert set(np.unique(firsts)) == {-1.0, 1.0} if scaling == "signs" else len(np.unique(firsts)) == firsts.size
    ple = make_embedding("piecewise_linear", X)
    net = fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, embedding=ple, categories=list(CATEGORIES))
    np.testing.assert_array_equal(net.layout.block("embedding_weight", -1).view(net.params), 0.0)
    for role in ("linear_weight", "linear_bias"):
        values = net.layout.block(role, -1).view(net.params)
        assert np.abs(values).max() <= 4 ** -0.5 and values.std() > 0.2
    periodic = fastbp.MLP([3, 8, 2], "relu", "identity", random_state=0,
                          embedding=embeddings.Periodic(3, 4, n_frequencies=2000, frequency_init_scale=0.1))
    frequencies = periodic.layout.block("frequencies", -1).view(periodic.params)
    assert np.abs(frequencies).max() <= 0.3 and frequencies.std() == pytest.approx(0.1, rel=0.1)


def test_weight_decay_follows_the_recipes_groups():
    X, _ = data()
    for kind in ("piecewise_linear", "periodic"):
        net = fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, ensemble_size=2, embedding=make_embedding(
            kind, X), categories=list(CATEGORIES))
        net.params[...] = 1.0
        fastbp.AdamW(0.1, weight_decay=0.5).step(net.params, np.zeros_like(net.params), layout=net.layout)
        decayed = {block.role for block in net.layout.blocks if block.view(net.params).max() < 1}
        assert decayed == {"weight", "in_scale", "out_scale", "category_weight", "category_scale", "embedding_weight"}


def test_a_categorical_column_of_many_levels_costs_a_lookup_not_a_one_hot_matrix():
    """200,000 levels, 512 rows: a one-hot batch would be 800 MB; the pass allocates about the parameters."""
    n, levels = 512, 200_000
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randn(n), rng.randint(0, levels, n)]).astype(float)
    Y = rng.randn(n, 1)
    net = fastbp.MLP([2, 8, 1], "relu", "identity", random_state=0, categories=[levels])
    grad = np.empty_like(net.params)  # 1.6M parameters: 12.8 MB
    tracemalloc.start()
    net.batch_loss_and_grad(net.check_batch(X, Y), 0.0, out=grad)
    fastbp.Trainer(net, fastbp.Adam(1e-2), batch_size=128, max_epochs=1, random_state=0).fit(X, Y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6  # the Adam state and a gradient are 3 x 12.8 MB
    rows = net.layout.block("category_weight", 0).view(grad)
    assert np.count_nonzero(np.abs(rows).sum(axis=1)) <= len(np.unique(X[:, 1]))  # only the codes seen


def test_the_model_saves_loads_pickles_copies_and_exports(tmp_path):
    X, Y = data()
    net = fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, ensemble_size=3, dropout=0.1,
                     embedding=make_embedding("periodic", X), categories=list(CATEGORIES))
    fastbp.Trainer(net, fastbp.AdamW(1e-2), max_epochs=2, random_state=0).fit(X, Y)
    path = tmp_path / "net.npz"
    net.save(path)
    for other in (fastbp.load(path), fastbp.load(path, backend="numpy"), pickle.loads(pickle.dumps(net)),
                  net.copy(), fastbp.MLP.from_state_dict(net.state_dict())):
        assert other.embedding == net.embedding and other.categories == CATEGORIES
        np.testing.assert_allclose(other.forward(X), net.forward(X), rtol=1e-12)
    ple = make_embedding("piecewise_linear", X)
    net = fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, embedding=ple, categories=list(CATEGORIES))
    net.save(path)
    loaded = fastbp.load(path)
    assert loaded.embedding == ple and "categories=[3, 5]" in repr(loaded)
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


def test_bad_inputs_are_refused_by_name():
    X, Y = data()
    ple = make_embedding("piecewise_linear", X)
    with pytest.raises(ValueError, match=r"categories\[1\] must be a cardinality"):
        fastbp.MLP([5, 8, 2], categories=[3, 0])
    with pytest.raises(TypeError, match="categories must be a sequence"):
        fastbp.MLP([5, 8, 2], categories=3)
    with pytest.raises(ValueError, match="categories name 3 columns, but X has 2"):
        fastbp.MLP([2, 8, 2], categories=[3, 4, 2])
    with pytest.raises(ValueError, match="every column of X is categorical"):
        fastbp.MLP([2, 8, 2], categories=[3, 4], embedding=embeddings.Periodic(2))
    with pytest.raises(ValueError, match="embedding is for 3 numeric features; X has 4"):
        fastbp.MLP([5, 8, 2], embedding=ple, categories=[3])
    with pytest.raises(TypeError, match="embedding must be None"):
        fastbp.MLP([5, 8, 2], embedding="piecewise_linear")
    with pytest.raises(ValueError, match=r"bins\[0\] must be at least two"):
        embeddings.PiecewiseLinear([[1.0, 1.0]])
    with pytest.raises(ValueError, match="frequency_init_scale must be > 0"):
        embeddings.Periodic(3, frequency_init_scale=0.0)
    with pytest.raises(ValueError, match="lite=True needs activation=True"):
        embeddings.Periodic(3, lite=True, activation=False)
    with pytest.raises(AttributeError, match="PiecewiseLinear.d_embedding is read-only"):
        ple.d_embedding = 8
    with pytest.raises(ValueError, match="read-only"):
        ple.bins[0][0] = -1.0
    net = fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, embedding=ple, categories=list(CATEGORIES))
    with pytest.raises(TypeError, match="X must be dense for a model with an embedding or categories"):
        net.forward(scipy.sparse.csr_matrix(X))
    bad = X.copy()
    bad[3, 4] = 1.5
    before = net.params.copy()
    with pytest.raises(ValueError, match="categorical column 1 .* not an integer code"):
        fastbp.Trainer(net, max_epochs=1).fit(bad, Y)
    np.testing.assert_array_equal(net.params, before)
    with pytest.raises(ValueError, match="not an integer code"):
        net.predict(bad)
    with pytest.raises(AttributeError, match="categories is read-only"):
        net.categories = [2, 2]
    assert net.categories == CATEGORIES and isinstance(net.categories, tuple)  # nothing to change in place
    net.state_dict()["categories"][0] = 7
    assert net.categories == CATEGORIES
    with pytest.raises(ValueError, match=r"more than 2\*\*24 levels need dtype='float64'"):
        fastbp.MLP([2, 4, 1], dtype="float32", categories=[2 ** 24 + 1])
    assert inputs_of(5, None, None) is None and inputs_of(5, [], None) is None
    with pytest.raises(ValueError, match="take dense X"):
        CoreNet(net.layout, net.activations, net.output).forward(net.params, scipy.sparse.csr_matrix(X), 1, False)


def test_the_layout_puts_the_embedding_before_the_first_layer():
    X, _ = data()
    inputs = inputs_of(5, CATEGORIES, make_embedding("periodic", X))
    layout = ensemble_layout([5, 8, 2], 3, "batch", inputs)
    assert layout.layer_sizes == (12, 8, 2) and inputs.width == 12 and inputs.n_categories == 8
    shapes = {block.name: block.shape for block in layout.blocks}
    assert shapes["W0"] == (12, 8) and shapes["C0"] == (8, 8) and shapes["rc0"] == (3, 8)
    assert shapes["F"] == (3, 3) and shapes["E"] == (3, 6, 4) and shapes["e"] == (3, 4)
    assert layout.block("frequencies", -1).layer == -1 and list(inputs.offsets) == [0, 3, 8]


def test_a_trainer_restores_only_the_same_inputs(tmp_path):
    X, Y = data()
    path = tmp_path / "trainer.npz"
    saving = fastbp.Trainer(fastbp.MLP([5, 8, 2], "relu", "identity", random_state=0, categories=[3, 5]),
                            fastbp.Adam(1e-2), max_epochs=1, random_state=0)
    saving.fit(X, Y)
    saving.save(path)
    for other in (fastbp.MLP([5, 8, 2], "relu", "identity", categories=[5, 3]),
                  fastbp.MLP([5, 8, 2], "relu", "identity", categories=[3, 5],
                             embedding=make_embedding("periodic", X))):
        before = other.params.copy()
        with pytest.raises(ValueError, match="this trainer trains"):
            fastbp.Trainer(other, fastbp.Adam(1e-2)).restore(path)
        np.testing.assert_array_equal(other.params, before)
    restored = fastbp.Trainer(fastbp.MLP([5, 8, 2], "relu", "identity", random_state=1, categories=[3, 5]),
                              fastbp.Adam(1e-2))
    restored.restore(path)
    np.testing.assert_array_equal(restored.net.params, saving.net.params)


@pytest.mark.parametrize("k, form", [(1, "batch"), (3, "batch"), (3, "mini"), (3, "independent")])
@pytest.mark.parametrize("embedding", [None, "piecewise_linear", "piecewise_linear_b", "periodic", "periodic_lite"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_onnx_runs_the_embeddings_and_the_lookups(k, form, embedding, dtype):
    onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    pytest.importorskip("onnx", reason="ONNX export needs onnx")
    X, _ = data(50, unknown=True)
    X[0, :3] = [-50.0, 7.0, 60.0]  # beyond every bin's edge
    net = fastbp.MLP([5, 8, 2], "relu", "softmax", random_state=0, ensemble_size=k, ensemble=form, dtype=dtype,
                     embedding=make_embedding(embedding, X), categories=list(CATEGORIES))
    net.params[...] += np.random.RandomState(3).randn(net.n_params).astype(dtype) * 0.3
    session = onnxruntime.InferenceSession(fastbp.to_onnx(net).SerializeToString())
    X = X.astype(dtype)
    np.testing.assert_allclose(session.run(None, {"X": X})[0], net.forward(X),
                               rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6 if dtype == "float32" else 1e-13)


def test_a_large_prediction_runs_in_blocks_of_rows_with_the_same_results(monkeypatch):
    """The general forward pass (ensembles, inputs) goes through blocks of rows, so that predicting a large table
    does not allocate every row's scratch at once; the blocks change no bit."""
    from fastbp import backends

    X, _ = data(700, unknown=True)
    net = fastbp.MLP([5, 64, 2], "relu", "softmax", random_state=0, ensemble_size=8,
                     embedding=make_embedding("piecewise_linear", X), categories=list(CATEGORIES))
    whole = net.forward(X, members=True), net.forward(X), net.logits(X)
    monkeypatch.setattr(backends, "FORWARD_BLOCK_ENTRIES", 256 * net.engine.table.row_scratch)  # 256-row blocks
    for expected, got in zip(whole, (net.forward(X, members=True), net.forward(X), net.logits(X))):
        np.testing.assert_array_equal(got, expected)


def test_a_lite_periodic_embedding_of_many_rows_goes_through_blas_in_chunks():
    """n_rows x n_numeric rows of one lite product: more than a chunk (65,536) gives the reference's result."""
    rng = np.random.RandomState(0)
    X, Y = rng.randn(17000, 4), rng.randn(17000, 1)
    lite = embeddings.Periodic(4, 3, n_frequencies=2, lite=True)
    nets = [fastbp.MLP([4, 6, 1], "tanh", "identity", random_state=0, backend=backend, embedding=lite)
            for backend in ("cython", "numpy")]
    (l0, g0), (l1, g1) = (net.loss_and_grad(X, Y) for net in nets)
    assert l0 == pytest.approx(l1, rel=1e-12)
    np.testing.assert_allclose(g0, g1, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k, form", [(1, "batch"), (3, "batch"), (3, "mini"), (3, "independent")])
def test_a_model_of_categorical_columns_only(k, form):
    """No numeric column: the first layer is its lookups alone (tabm takes x_num=None), on both backends, in
    ONNX, and against tabm (whose "tabm-packed" model of categorical columns alone multiplies its integer one-hot
    by float weights and fails: the independent form is held to the reference only)."""
    X, Y = data(40, unknown=True)
    X = X[:, 3:]
    nets = [fastbp.MLP([2, 8, 2], "relu", "identity", random_state=0, ensemble_size=k, ensemble=form,
                       categories=list(CATEGORIES), backend=backend, init="torch") for backend in ("cython", "numpy")]
    assert nets[0].layout.layer_sizes[0] == 0
    (l0, g0), (l1, g1) = (net.loss_and_grad(X, Y, alpha=0.1) for net in nets)
    assert l0 == pytest.approx(l1, rel=1e-12)
    np.testing.assert_allclose(g0, g1, rtol=1e-12, atol=1e-14)
    fastbp.Trainer(nets[0], fastbp.AdamW(1e-2), max_epochs=3, random_state=0).fit(X, Y)
    assert nets[0].loss(X, Y) < l0
    onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    session = onnxruntime.InferenceSession(fastbp.to_onnx(nets[0]).SerializeToString())
    np.testing.assert_allclose(session.run(None, {"X": X})[0], nets[0].forward(X), rtol=1e-12, atol=1e-13)
    if form in ("batch", "mini") and k > 1:
        torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
        pytest.importorskip("tabm", reason="tabm is the oracle of the ensembles: pip install tabm")
        from fastbp.bench import tabm_peer

        known = np.abs(X) % np.array(CATEGORIES)  # tabm takes known codes only
        model = tabm_peer.make(nets[0])
        np.testing.assert_allclose(nets[0].forward(known, members=True), model(torch.tensor(known)).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)
