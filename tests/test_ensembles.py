"""`fastbp.MLP(ensemble_size=k, ensemble=...)`: k MLPs trained as one network, through the public API: both
backends agree, 200 steps of AdamW with a warmup-cosine schedule and clipping follow `torch.optim.AdamW` on the
same `tabm` model, the initialization draws tabm's distributions, and the model saves, loads, pickles and
exports to ONNX like any other; bad arguments are refused by name."""

import pickle

import numpy as np
import pytest
import scipy.sparse

import fastbp
from fastbp import schedules

FORMS = ("batch", "mini", "independent")
SIZES = [5, 16, 16, 3]


def ensemble(form, k=4, **options):
    options = {"random_state": 0, "init": "torch", **options}
    return fastbp.MLP(SIZES, "relu", "softmax", ensemble_size=k, ensemble=form, **options)


def problem(n=64, seed=1):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, SIZES[0])
    return X, np.eye(SIZES[-1])[(X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)]


@pytest.mark.parametrize("form", FORMS)
def test_forward_is_the_mean_of_the_members_probabilities(form):
    net = ensemble(form)
    X, _ = problem(10)
    members = net.forward(X, members=True)
    assert members.shape == (10, 4, 3)
    np.testing.assert_allclose(members.sum(axis=2), 1.0, rtol=1e-12)
    np.testing.assert_allclose(net.forward(X), members.mean(axis=1), rtol=1e-12)
    assert not np.allclose(members[:, 0], members[:, 1])  # the members differ
    np.testing.assert_array_equal(net.predict(X), net.forward(X).argmax(axis=1))
    logits = net.logits(X)
    assert logits.shape == (10, 4, 3)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True), members, rtol=1e-12)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_backends_compute_the_same_objective_and_gradient(form, dtype):
    X, Y = problem()
    w = np.random.RandomState(2).rand(len(X))
    nets = [ensemble(form, dtype=dtype, backend=backend, dropout=0.2) for backend in ("cython", "numpy")]
    (loss, grad), (loss_ref, grad_ref) = (net.loss_and_grad(X, Y, w, alpha=0.1, dropout_seed=5) for net in nets)
    rtol = 1e-12 if dtype == "float64" else 1e-4
    assert loss == pytest.approx(loss_ref, rel=rtol)
    np.testing.assert_allclose(grad, grad_ref, rtol=rtol, atol=rtol * np.abs(grad_ref).max())
    assert nets[0].loss(X, Y, w, alpha=0.1, dropout_seed=5) == pytest.approx(loss, rel=rtol)


@pytest.mark.parametrize("form", FORMS)
def test_a_fit_on_both_backends_and_any_thread_count_is_the_same(form):
    """Dropout, AdamW with weight decay, clipping and the L2 penalty through the Trainer: the reference's NumPy
    epochs and the core's agree, and thread_invariant fits are bitwise equal for 1 and 2 threads."""
    X, Y = problem(200)
    results = {}
    for backend, n_threads in (("numpy", 1), ("cython", 1), ("cython", 2)):
        net = ensemble(form, backend=backend, dropout=0.1, n_threads=n_threads, thread_invariant=True)
        trainer = fastbp.Trainer(net, fastbp.AdamW(2e-3, weight_decay=1e-3), batch_size=32, max_epochs=3,
                                 random_state=0, clip_norm=0.5, alpha=1e-3)
        trainer.fit(X, Y)
        results[backend, n_threads] = net.params.copy()
    np.testing.assert_allclose(results["cython", 1], results["numpy", 1], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(results["cython", 1], results["cython", 2])
    assert not np.allclose(results["cython", 1], ensemble(form).params)


@pytest.mark.parametrize("form", FORMS)
def test_threads_split_an_ensembles_passes_and_fixed_blocks_keep_the_bits(form):
    """Large enough for the core to cut the member products and column sums into blocks on threads: with
    thread_invariant the bits do not depend on the thread count, and the default blocks give the same values."""
    rng = np.random.RandomState(4)
    X, Y = rng.randn(256, 5), rng.randn(256, 2)
    results = {}
    for invariant in (True, False):
        for n_threads in (1, 2):
            net = fastbp.MLP([5, 64, 64, 2], "gelu", "identity", random_state=0, ensemble_size=8, ensemble=form,
                             dropout=0.1, n_threads=n_threads, thread_invariant=invariant)
            fastbp.Trainer(net, fastbp.AdamW(1e-3), batch_size=128, max_epochs=2, random_state=0).fit(X, Y)
            results[invariant, n_threads] = net.params.copy()
    np.testing.assert_array_equal(results[True, 1], results[True, 2])
    for key in ((False, 1), (False, 2)):
        np.testing.assert_allclose(results[key], results[True, 1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("form", FORMS)
def test_the_gradient_is_the_objectives_by_central_differences(form):
    net = fastbp.MLP(SIZES, "tanh", "softmax", random_state=0, ensemble_size=3, ensemble=form, init="torch",
                     dropout=0.25)  # tanh: no kink for a difference to straddle
    X, Y = problem(12)
    assert fastbp.gradcheck(net, X, Y, alpha=0.01, dropout_seed=4) < 1e-7


def tabm_parameter_groups(model, weight_decay):
    """Weight decay on every parameter but the biases (fastbp's policy: weights and the scalings r, s)."""
    decayed = [p for name, p in model.named_parameters() if not name.endswith("bias")]
    others = [p for name, p in model.named_parameters() if name.endswith("bias")]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_two_hundred_steps_follow_torch_adamw_on_the_tabm_model(form, backend):
    pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
    pytest.importorskip("tabm", reason="tabm is the oracle of the ensembles: pip install tabm")
    from _tabm_oracle import flat, load, tabm_model, train_adamw

    X, Y = problem(64)
    net = fastbp.MLP(SIZES, "relu", "softmax", random_state=3, ensemble_size=4, ensemble=form, init="torch",
                     backend=backend)
    model = tabm_model(form, "relu", SIZES, 4, randomize=False)
    load(model, net.layout, net.params)
    schedule = schedules.WarmupCosine(20, 200, min_lr=1e-4)
    trainer = fastbp.Trainer(net, fastbp.AdamW(0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-8, weight_decay=0.05),
                             batch_size=8, max_epochs=25, shuffle=False, schedule=schedule, clip_norm=0.5)
    trainer.fit(X, Y)
    assert train_adamw(model, tabm_parameter_groups(model, 0.05), X, Y, "softmax", schedule, 25, 8) == 200
    expected = flat(model, net.layout)
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
    assert trainer.optimizer.t == 200


@pytest.mark.parametrize("form", FORMS)
def test_the_initialization_draws_tabms_distributions(form):
    """init="torch": every W and b within +-1/sqrt(n_in) (tabm's bound), spread over it; the first r random signs
    and the other scalings ones; a BatchEnsemble layer's biases equal across members at first, the heads' not."""
    net = fastbp.MLP([6, 400, 400, 2], "relu", "identity", random_state=0, ensemble_size=8, ensemble=form,
                     init="torch")
    layout = net.layout
    for block in layout.blocks:
        values = block.view(net.params)
        n_in = net.layer_sizes[block.layer]
        if block.role in ("weight", "bias"):
            bound = 1 / np.sqrt(n_in)
            assert np.abs(values).max() <= bound, block.name
            if values.size >= 400:
                assert np.abs(values).max() > 0.95 * bound and abs(values.mean()) < 0.1 * bound, block.name
        elif block.role == "in_scale" and block.layer == 0:
            assert set(np.unique(values)) == {-1.0, 1.0}
        else:
            np.testing.assert_array_equal(values, 1.0)
    heads = layout.block("bias", 2).view(net.params)
    assert not np.allclose(heads[0], heads[1])
    hidden = layout.block("bias", 0).view(net.params)
    if form == "batch":
        np.testing.assert_array_equal(hidden, np.broadcast_to(hidden[0], hidden.shape))
    elif form == "independent":
        assert not np.allclose(hidden[0], hidden[1])


@pytest.mark.parametrize("form", FORMS)
def test_an_ensemble_saves_loads_pickles_and_copies(form, tmp_path):
    net = ensemble(form, dropout=0.1)
    X, _ = problem(6)
    path = tmp_path / "net.npz"
    net.save(path)
    for other in (fastbp.load(path), fastbp.load(path, backend="numpy"), pickle.loads(pickle.dumps(net)),
                  net.copy(), fastbp.MLP.from_state_dict(net.state_dict())):
        assert (other.ensemble_size, other.ensemble, other.n_params) == (4, form, net.n_params)
        np.testing.assert_allclose(other.forward(X), net.forward(X), rtol=1e-12)
    assert "ensemble_size=4" in repr(net) and f"ensemble={form!r}" in repr(net)


def test_a_trainer_saves_and_restores_an_ensemble_and_refuses_another_architecture(tmp_path):
    X, Y = problem()
    path = tmp_path / "trainer.npz"

    def trainer(net):
        return fastbp.Trainer(net, fastbp.AdamW(1e-2), max_epochs=2, random_state=0, shuffle=False)

    saving = trainer(ensemble("mini"))
    saving.fit(X, Y)
    saving.save(path)
    saving.fit(X, Y)
    restored = trainer(ensemble("mini", random_state=5))
    restored.restore(path)
    restored.fit(X, Y)
    np.testing.assert_array_equal(restored.net.params, saving.net.params)
    for other in (ensemble("batch"), ensemble("mini", k=3), fastbp.MLP(SIZES, "relu", "softmax")):
        before = other.params.copy()
        with pytest.raises(ValueError, match="this trainer trains"):
            trainer(other).restore(path)
        np.testing.assert_array_equal(other.params, before)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_onnx_runs_the_members_and_averages_them(form, dtype):
    onnxruntime = pytest.importorskip("onnxruntime", reason="the ONNX check needs onnxruntime")
    pytest.importorskip("onnx", reason="ONNX export needs onnx")
    net = ensemble(form, dtype=dtype)
    X = problem(20)[0].astype(dtype)
    session = onnxruntime.InferenceSession(fastbp.to_onnx(net).SerializeToString())
    np.testing.assert_allclose(session.run(None, {"X": X})[0], net.forward(X), rtol=1e-5 if dtype == "float32"
                               else 1e-12, atol=1e-7)


def test_bad_ensemble_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="ensemble_size"):
        fastbp.MLP(SIZES, ensemble_size=0)
    with pytest.raises(TypeError, match="ensemble_size"):
        fastbp.MLP(SIZES, ensemble_size=2.0)
    with pytest.raises(ValueError, match="ensemble"):
        fastbp.MLP(SIZES, ensemble_size=2, ensemble="packed")
    with pytest.raises(MemoryError, match=r"with ensemble_size=100000 give 10,110,001,000,000 parameters"):
        fastbp.MLP([1000, 100000, 10], ensemble_size=10**5, ensemble="independent")
    net = ensemble("batch")
    with pytest.raises(AttributeError, match="ensemble_size is read-only"):
        net.ensemble_size = 2
    with pytest.raises(TypeError, match="X must be dense for an ensemble"):
        net.forward(scipy.sparse.csr_matrix(np.ones((2, SIZES[0]))))
    with pytest.raises(TypeError, match="X must be dense for an ensemble"):
        fastbp.Trainer(net, max_epochs=1).fit(scipy.sparse.csr_matrix(np.ones((4, SIZES[0]))), np.eye(3)[[0, 1, 2, 0]])


def test_one_member_is_todays_mlp_bitwise():
    X, Y = problem()
    plain, one = (fastbp.MLP(SIZES, "relu", "softmax", random_state=0, **options)
                  for options in ({}, {"ensemble_size": 1, "ensemble": "independent"}))
    np.testing.assert_array_equal(plain.params, one.params)
    for net in (plain, one):
        fastbp.Trainer(net, fastbp.Adam(0.01), max_epochs=2, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(plain.params, one.params)


def test_an_optimizer_step_decays_what_the_layout_marks_decayed():
    net = ensemble("batch")
    before = net.params.copy()
    optimizer = fastbp.AdamW(0.1, weight_decay=0.5)
    optimizer.step(net.params, np.zeros_like(net.params), layout=net.layout)  # a zero gradient: the decay alone
    for block in net.layout.blocks:
        factor = 1 - 0.1 * 0.5 if block.role != "bias" else 1.0
        np.testing.assert_allclose(block.view(net.params), block.view(before) * factor, rtol=1e-15, err_msg=block.name)
    with pytest.raises(TypeError, match="n_coefs or layout"):
        optimizer.step(net.params, np.zeros_like(net.params), n_coefs=3, layout=net.layout)
    with pytest.raises(ValueError, match="layout must be"):
        optimizer.step(net.params[:10], np.zeros(10), layout=net.layout)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_a_plain_model_has_one_member(backend):
    X, _ = problem(7)
    net = fastbp.MLP(SIZES, "relu", "softmax", random_state=0, backend=backend)
    members = net.forward(X, members=True)
    assert members.shape == (7, 1, 3)
    np.testing.assert_array_equal(members[:, 0], net.forward(X))


def test_flatten_of_an_ensemble_keeps_its_scalings_or_says_why_it_cannot():
    net = ensemble("batch")
    with pytest.raises(ValueError, match="scalings r and s"):
        net.flatten(*net.unflatten(net.params))
    np.testing.assert_array_equal(net.flatten(*net.unflatten(net.params), out=net.params.copy()), net.params)
    independent = ensemble("independent")  # no scalings: W and b are all there is
    np.testing.assert_array_equal(independent.flatten(*independent.unflatten(independent.params)),
                                  independent.params)


def test_the_core_refuses_what_an_ensemble_cannot_take():
    from fastbp._core._network import CoreNet

    net = ensemble("batch")
    core = CoreNet(net.layout, net.activations, net.output)
    X = np.ones((3, SIZES[0]))
    with pytest.raises(ValueError, match="take dense X"):
        core.forward(net.params, scipy.sparse.csr_matrix(X), 1, False)
    with pytest.raises(ValueError, match="predicts through forward"):
        core.predict(net.params, X, 1)


def test_a_plain_model_restores_whatever_form_it_was_given(tmp_path):
    X, Y = problem()
    path = tmp_path / "trainer.npz"
    saving = fastbp.Trainer(fastbp.MLP(SIZES, "relu", "softmax", random_state=0, ensemble="mini"), max_epochs=1)
    saving.fit(X, Y)
    saving.save(path)
    restored = fastbp.Trainer(fastbp.MLP(SIZES, "relu", "softmax", random_state=1), max_epochs=1)
    restored.restore(path)
    np.testing.assert_array_equal(restored.net.params, saving.net.params)
