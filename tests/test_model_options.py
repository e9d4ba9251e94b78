"""The model's options beyond scikit-learn's MLP (activations per layer, dropout, robust losses, label
smoothing, init schemes) and the trainer's (per-step schedules, clipping, the new optimizers): the compiled
core equals the NumPy reference, gradients equal central differences, dropout behaves as inverted dropout
with reproducible masks. PyTorch as an oracle is in test_torch_oracle.py."""

import numpy as np
import pytest

import fastbp
from _helpers import NEW_ACTIVATIONS, doc_code_blocks, make_targets
from fastbp import reference, schedules
from fastbp._core._network import CoreNet
from fastbp.layout import dense_layout

# (output, loss, label smoothing): every loss the model trains with.
LOSSES = [("logistic", None, 0.0), ("logistic", None, 0.2), ("softmax", None, 0.0), ("softmax", None, 0.1),
          ("identity", None, 0.0), ("identity", "huber", 0.0), ("identity", "absolute_error", 0.0), ("exp", None, 0.0)]
TOLERANCE = {np.float64: dict(rtol=1e-11, atol=1e-13), np.float32: dict(rtol=2e-4, atol=2e-6)}


def problem(output, rng, n_samples=40, sizes=(5, 7, 6, 3), dtype=np.float64):
    X = (2 * rng.randn(n_samples, sizes[0])).astype(dtype)
    return X, make_targets(output, n_samples, sizes[-1], rng).astype(dtype)


def both_backends(sizes, activation, output, dtype=np.float64, **options):
    net = fastbp.MLP(sizes, activation, output, dtype=dtype, random_state=3, **options)
    return net, net.copy(backend="numpy")


# --- the compiled core equals the reference -----------------------------------------------------------------


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_every_activation_forward_and_gradient_equal_the_reference(activation, dtype, rng):
    net, ref = both_backends((5, 7, 6, 3), activation, "softmax", dtype)
    X, Y = problem("softmax", rng, dtype=dtype)
    np.testing.assert_allclose(net.forward(X), ref.forward(X), **TOLERANCE[dtype])
    loss, grad = net.loss_and_grad(X, Y, alpha=0.1)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, alpha=0.1)
    np.testing.assert_allclose(loss, ref_loss, **TOLERANCE[dtype])
    np.testing.assert_allclose(grad, ref_grad, **TOLERANCE[dtype])


@pytest.mark.parametrize("output, loss, smoothing", LOSSES)
def test_every_loss_and_label_smoothing_equal_the_reference(output, loss, smoothing, rng):
    net, ref = both_backends((5, 7, 6, 3), ["gelu", "elu"], output, loss=loss, label_smoothing=smoothing,
                             huber_delta=0.7)
    X, Y = problem(output, rng)
    w = rng.uniform(0.2, 2.0, X.shape[0])
    loss_value, grad = net.loss_and_grad(X, Y, w, alpha=0.05)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, w, alpha=0.05)
    np.testing.assert_allclose(loss_value, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-14)
    assert net.loss(X, Y, w, alpha=0.05) == pytest.approx(loss_value, rel=1e-13)


def test_one_activation_per_hidden_layer_is_what_each_layer_applies(rng):
    net = fastbp.MLP([4, 5, 6, 2], activation=["silu", "tanh"], output="identity", random_state=0)
    X = rng.randn(10, 4)
    (W1, W2, W3), (b1, b2, b3) = net.coefs, net.intercepts
    hidden = np.tanh(reference.silu(X @ W1 + b1) @ W2 + b2)
    np.testing.assert_allclose(net.forward(X), hidden @ W3 + b3, rtol=1e-13)
    assert net.activations == ("silu", "tanh") and net.activation == ("silu", "tanh")
    assert fastbp.MLP([4, 5, 1], activation="swish").activations == ("silu",)


def test_the_pre_activation_is_kept_only_for_the_layers_that_need_it():
    """silu, gelu, ... take f' from z: only their layers (and layers with dropout but ReLU's, whose factor is its
    dropout scale where a > 0) keep a per-unit factor."""
    net = CoreNet(dense_layout([4, 5, 6, 7, 8, 1]), ["relu", "gelu", "tanh", "mish"], "logistic",
                  dropout=[0.0, 0.0, 0.3, 0.0])
    # One entry per layer, the output's last (which never keeps one).
    assert net.factor_widths(False) == [0, 6, 0, 8, 0]
    assert net.factor_widths(True) == [0, 6, 7, 8, 0]
    assert CoreNet(dense_layout([4, 5, 1]), ["tanh"], "logistic").factor_widths(True) == [0, 0]
    relu = CoreNet(dense_layout([4, 5, 6, 1]), ["relu", "tanh"], "logistic", dropout=[0.3, 0.3])
    assert relu.factor_widths(True) == [0, 6, 0]


def test_gelu_and_friends_take_their_pytorch_constants():
    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0, 25.0])
    net = fastbp.MLP([1, 1, 1], output="identity")
    for name, expected in [
            ("leaky_relu", np.where(z > 0, z, 0.01 * z)),
            ("elu", np.where(z > 0, z, np.exp(z) - 1)),
            ("selu", 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * (np.exp(z) - 1))),
            ("softplus", np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20))))),
            ("gelu_tanh", 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))),
            ("silu", z / (1 + np.exp(-z))),
            ("mish", z * np.tanh(np.log1p(np.exp(np.minimum(z, 30)))))]:
        one = fastbp.MLP([1, 1, 1], activation=name, output="identity")
        one.params[:] = [1.0, 1.0, 0.0, 0.0]  # W1 = W2 = 1, no intercepts: y_hat = f(x)
        np.testing.assert_allclose(one.forward(z[:, None]).ravel(), expected, rtol=1e-14, atol=1e-300, err_msg=name)
    del net


# --- gradients equal central differences ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_every_new_activation_gradient_matches_central_differences(activation, backend, rng):
    net = fastbp.MLP([3, 5, 4, 2], activation, "softmax", random_state=1, backend=backend)
    X, Y = problem("softmax", rng, 12, (3, 5, 4, 2))
    assert fastbp.gradcheck(net, X, Y, alpha=0.1) < 1e-7


@pytest.mark.parametrize("output, loss, smoothing", LOSSES)
def test_every_loss_gradient_matches_central_differences(output, loss, smoothing, rng):
    net = fastbp.MLP([3, 5, 2], "tanh", output, loss=loss, label_smoothing=smoothing, huber_delta=0.5, random_state=1)
    X, Y = problem(output, rng, 12, (3, 5, 2))
    assert fastbp.gradcheck(net, X, Y, rng.uniform(0.5, 1.5, 12)) < 1e-7


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_the_gradient_with_dropout_matches_central_differences_of_the_same_masks(backend, rng):
    net = fastbp.MLP([3, 6, 5, 1], ["gelu", "relu"], dropout=[0.3, 0.5], random_state=2, backend=backend)
    X, Y = problem("logistic", rng, 16, (3, 6, 5, 1))
    assert fastbp.gradcheck(net, X, Y, alpha=0.01, dropout_seed=7) < 1e-7
    assert net.loss(X, Y, dropout_seed=7) != net.loss(X, Y)  # units were dropped


# --- dropout ----------------------------------------------------------------------------------------------------


def test_dropout_masks_equal_on_both_backends_and_in_float32(rng):
    X, Y = problem("softmax", rng, 64)
    for dtype in (np.float64, np.float32):
        net, ref = both_backends((5, 7, 6, 3), ["relu", "silu"], "softmax", dtype, dropout=[0.25, 0.5])
        loss, grad = net.loss_and_grad(X.astype(dtype), Y.astype(dtype), dropout_seed=123)
        ref_loss, ref_grad = ref.loss_and_grad(X.astype(dtype), Y.astype(dtype), dropout_seed=123)
        np.testing.assert_allclose(loss, ref_loss, **TOLERANCE[dtype])
        np.testing.assert_allclose(grad, ref_grad, **TOLERANCE[dtype])
        other = net.loss_and_grad(X.astype(dtype), Y.astype(dtype), dropout_seed=124)[1]
        assert not np.allclose(grad, other)  # another seed, other masks


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_the_cores_keep_rate_is_within_binomial_bounds(rate):
    """With x = 1, W1 = 1, no intercepts, identity units and W2 = 0, each hidden unit's output is its mask, and
    the gradient of W2 (target -1, y_hat 0) is the mean of the masks over the rows: the core's own masks."""
    n_rows, n_units = 400, 250
    net = fastbp.MLP([1, n_units, 1], "identity", "identity", dropout=rate, random_state=0)
    net.coefs[0][...] = 1.0
    net.intercepts[0][...] = 0.0
    net.coefs[1][...] = 0.0
    net.intercepts[1][...] = 0.0
    _, grad = net.loss_and_grad(np.ones((n_rows, 1)), -np.ones(n_rows), dropout_seed=2024)
    kept = net.unflatten(grad)[0][1].ravel() * n_rows * (1 - rate)  # per unit: rows whose mask kept it
    np.testing.assert_allclose(kept, np.round(kept), atol=1e-8)  # whole numbers of rows: masks are 0 or 1/(1-p)
    n, p = n_rows * n_units, 1 - rate
    assert abs(kept.sum() - n * p) < 5 * np.sqrt(n * p * (1 - p))
    per_unit = kept / n_rows  # no unit kept far more or less often than the others
    assert np.abs(per_unit - p).max() < 5 * np.sqrt(p * (1 - p) / n_rows)


def test_reference_masks_are_a_pure_function_of_seed_step_layer_row_and_unit():
    mask = reference.dropout_mask(5, 3, 1, 50, 40, 0.5, np.float64)
    np.testing.assert_array_equal(mask, reference.dropout_mask(5, 3, 1, 50, 40, 0.5, np.float64))
    np.testing.assert_array_equal(mask[:20, :10], reference.dropout_mask(5, 3, 1, 20, 10, 0.5, np.float64))
    assert set(np.unique(mask)) == {0.0, 2.0}
    for key in [(6, 3, 1), (5, 4, 1), (5, 3, 2)]:
        assert (reference.dropout_mask(*key, 50, 40, 0.5, np.float64) != mask).mean() > 0.3


def fit(dropout=None, n_threads=None, invariant=False, backend="cython", dtype=np.float64, **trainer_options):
    rng = np.random.RandomState(0)
    X = rng.randn(600, 20).astype(dtype)
    Y = np.eye(4)[(X[:, :4] ** 2).argmax(axis=1)].astype(dtype)
    options = {} if dropout is None else {"dropout": dropout}
    net = fastbp.MLP([20, 96, 64, 4], ["gelu", "relu"], "softmax", dtype=dtype, random_state=0, backend=backend,
                     thread_invariant=invariant, **options)
    trainer = fastbp.Trainer(net, fastbp.AdamW(0.01), batch_size=64, max_epochs=3, random_state=1,
                             n_threads=n_threads, **trainer_options)
    history = trainer.fit(X, Y)
    return net, history


def test_a_fit_with_dropout_is_bitwise_reproducible_and_differs_from_one_without():
    first, history = fit(0.2)
    second, _ = fit(0.2)
    np.testing.assert_array_equal(first.params, second.params)
    assert not np.allclose(first.params, fit()[0].params)
    assert np.isfinite(history.loss).all()


def test_dropout_zero_is_bitwise_no_dropout():
    plain = fit()[0].params
    np.testing.assert_array_equal(fit(0.0)[0].params, plain)
    np.testing.assert_array_equal(fit([0.0, 0.0])[0].params, plain)


def threaded_fit(n_threads, invariant, dtype):
    """A fit large enough that every product and elementwise pass crosses the core's thresholds for threads
    (test_threads.py's sizes), with every new per-step feature on."""
    rng = np.random.RandomState(0)
    X = rng.randn(500, 50).astype(dtype)
    Y = np.eye(4)[(X[:, :4] ** 2).argmax(axis=1)].astype(dtype)
    net = fastbp.MLP([50, 300, 120, 4], ["gelu", "mish"], "softmax", dtype=dtype, random_state=0,
                     dropout=[0.1, 0.3], n_threads=n_threads, thread_invariant=invariant, label_smoothing=0.1)
    trainer = fastbp.Trainer(net, fastbp.AdamW(0.01), batch_size=200, max_epochs=2, random_state=1, clip_norm=0.5,
                             schedule=schedules.WarmupCosine(2, 6))
    trainer.fit(X, Y)
    return net.params


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_dropout_fits_are_equal_for_any_thread_count_when_thread_invariant(dtype):
    one = threaded_fit(1, True, dtype)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(threaded_fit(n_threads, True, dtype), one)
    np.testing.assert_array_equal(threaded_fit(2, False, dtype), threaded_fit(2, False, dtype))  # run to run
    if dtype == np.float64 and fastbp.show_config()["openmp"]:
        # the threads are used: without thread_invariant, 1 and 2 threads sum in other orders
        assert not np.array_equal(threaded_fit(1, False, dtype), threaded_fit(2, False, dtype))


def test_a_dropout_fit_on_the_compiled_core_equals_the_reference():
    compiled = fit([0.1, 0.3], clip_norm=0.5, schedule=schedules.WarmupCosine(5, 40))[0].params
    plain = fit([0.1, 0.3], clip_norm=0.5, schedule=schedules.WarmupCosine(5, 40), backend="numpy")[0].params
    np.testing.assert_allclose(compiled, plain, rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_there_is_no_dropout_at_inference(rng):
    X, Y = problem("softmax", rng)
    net = fastbp.MLP([5, 7, 6, 3], ["relu", "gelu"], "softmax", dropout=0.5, random_state=0)
    plain = fastbp.MLP([5, 7, 6, 3], ["relu", "gelu"], "softmax", random_state=0)
    np.testing.assert_array_equal(net.forward(X), plain.forward(X))
    np.testing.assert_array_equal(net.predict(X), plain.predict(X))
    assert net.loss(X, Y) == plain.loss(X, Y)
    np.testing.assert_array_equal(net.loss_and_grad(X, Y)[1], plain.loss_and_grad(X, Y)[1])
    clf = fastbp.MLPClassifier((8,), dropout=0.5, max_iter=5, random_state=0).fit(X, Y.argmax(axis=1))
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    assert clf.score(X, Y.argmax(axis=1)) == clf.score(X, Y.argmax(axis=1))


# --- init schemes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("init, kind, scale, zero_intercepts", [
    ("glorot_uniform", "uniform", lambda i, o: np.sqrt(6 / (i + o)), True),
    ("he_uniform", "uniform", lambda i, o: np.sqrt(6 / i), True),
    ("torch", "uniform", lambda i, o: 1 / np.sqrt(i), False),
    ("glorot_normal", "normal", lambda i, o: np.sqrt(2 / (i + o)), True),
    ("he_normal", "normal", lambda i, o: np.sqrt(2 / i), True),
    ("lecun_normal", "normal", lambda i, o: np.sqrt(1 / i), True)])
def test_each_init_scheme_draws_its_distribution(init, kind, scale, zero_intercepts):
    net = fastbp.MLP([300, 200, 100], "relu", init=init, random_state=0)
    for W, b in zip(net.coefs, net.intercepts):
        s = scale(*W.shape)
        if kind == "uniform":  # U(-s, s): within the bound, variance s^2 / 3
            assert np.abs(W).max() <= s and np.abs(W).max() > 0.99 * s
            assert np.std(W) == pytest.approx(s / np.sqrt(3), rel=0.02)
        else:
            assert np.std(W) == pytest.approx(s, rel=0.02) and abs(np.mean(W)) < 0.01 * s
        if zero_intercepts:
            assert not b.any()
        else:
            assert 0 < np.abs(b).max() <= 1 / np.sqrt(W.shape[0])
    same = fastbp.MLP([300, 200, 100], "relu", init=init, random_state=0)
    np.testing.assert_array_equal(same.params, net.params)


def test_the_default_init_is_scikit_learns_per_layer():
    """The sklearn scheme's factor follows the activation that each layer's outputs feed."""
    net = fastbp.MLP([50, 40, 30, 1], ["logistic", "relu"], random_state=0)
    rng = np.random.RandomState(0)
    for W, b, factor in zip(net.coefs, net.intercepts, (2.0, 6.0, 6.0)):
        bound = np.sqrt(factor / sum(W.shape))
        np.testing.assert_array_equal(W, rng.uniform(-bound, bound, W.shape))
        np.testing.assert_array_equal(b, rng.uniform(-bound, bound, b.shape))


# --- the trainer's per-step schedules, clipping and optimizers ---------------------------------------------------


def test_history_records_the_rate_of_each_epochs_last_step():
    schedule = schedules.WarmupCosine(warmup_steps=10, total_steps=30)
    net, history = fit(schedule=schedule)  # 600 rows in batches of 64: 10 steps an epoch
    assert history.learning_rate == [schedule.rate(t, 0.01) for t in (9, 19, 29)]
    assert history.learning_rate[0] == 0.01 and history.learning_rate[2] == pytest.approx(0.01 * (
        1 + np.cos(np.pi * 19 / 20)) / 2)


@pytest.mark.parametrize("schedule", [schedules.Constant(), schedules.Exponential(0.97),
                                      schedules.WarmupCosine(7, 25, min_lr=1e-4), schedules.OneCycle(0.05, 30)],
                         ids=repr)
@pytest.mark.parametrize("optimizer", [lambda: fastbp.SGD(0.05, weight_decay=0.01), lambda: fastbp.Adam(0.01),
                                       lambda: fastbp.AdamW(0.01, weight_decay=0.05),
                                       lambda: fastbp.RMSprop(0.005, momentum=0.5, centered=True),
                                       lambda: fastbp.RMSprop(0.005), lambda: fastbp.Adagrad(0.05)],
                         ids=["sgd-decay", "adam", "adamw", "rmsprop-centered", "rmsprop", "adagrad"])
def test_every_optimizer_and_schedule_with_clipping_trains_as_the_reference(schedule, optimizer):
    rng = np.random.RandomState(0)
    X = rng.randn(90, 5)
    Y = np.eye(3)[(X[:, :3] ** 2).argmax(axis=1)]
    params = []
    for backend in ("cython", "numpy"):
        net = fastbp.MLP([5, 8, 3], "mish", "softmax", random_state=0, backend=backend)
        trainer = fastbp.Trainer(net, optimizer(), batch_size=16, max_epochs=4, random_state=0, alpha=1e-3,
                                 schedule=schedule, clip_norm=0.2)
        history = trainer.fit(X, Y)
        params.append(net.params.copy())
    np.testing.assert_allclose(params[0], params[1], rtol=1e-10, atol=1e-13)
    assert history.learning_rate[-1] == schedule.rate(4 * 6 - 1, trainer.optimizer.learning_rate)


def test_clipping_scales_the_gradient_to_the_norm_as_torch_does(rng):
    grad = rng.randn(50)
    norm = np.linalg.norm(grad)
    clipped = grad.copy()
    assert reference.clip(clipped, norm / 4) == pytest.approx(norm)
    np.testing.assert_allclose(clipped, grad * (norm / 4) / (norm + 1e-6), rtol=1e-15)
    unchanged = grad.copy()
    reference.clip(unchanged, 2 * norm)
    np.testing.assert_array_equal(unchanged, grad)


def test_a_per_epoch_callable_schedule_still_sets_each_epochs_rate():
    _, history = fit(schedule=lambda epoch: 0.01 / (1 + epoch))
    assert history.learning_rate == [0.01, 0.005, 0.01 / 3]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(clip_norm=0.0), ValueError, "clip_norm must be > 0"),
    (dict(clip_norm="1"), TypeError, "clip_norm"),
    (dict(schedule="cosine"), ValueError, "schedule must be one of"),
])
def test_bad_trainer_options_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        fastbp.Trainer(fastbp.MLP([2, 3, 1]), **kwargs)


@pytest.mark.parametrize("make, error, message", [
    (lambda: schedules.WarmupCosine(10, 10), ValueError, "total_steps must be >= 11"),
    (lambda: schedules.WarmupCosine(-1, 10), ValueError, "warmup_steps must be >= 0"),
    (lambda: schedules.WarmupCosine(2, 10, min_lr=-1), ValueError, "min_lr must be >= 0"),
    (lambda: schedules.Exponential(1.5), ValueError, r"gamma must be in \(0, 1\]"),
    (lambda: schedules.OneCycle(0.0, 10), ValueError, "max_lr must be > 0"),
    (lambda: schedules.OneCycle(0.1, 3, pct_start=0.2), ValueError, "more than 1 step"),
    (lambda: fastbp.AdamW(weight_decay=-1.0), ValueError, "weight_decay must be >= 0"),
    (lambda: fastbp.RMSprop(rho=1.0), ValueError, r"rho must be in \[0, 1\)"),
    (lambda: fastbp.RMSprop(centered=1), TypeError, "centered must be a bool"),
    (lambda: fastbp.Adagrad(epsilon=0.0), ValueError, "epsilon must be > 0"),
    (lambda: fastbp.SGD(weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
])
def test_bad_schedule_and_optimizer_settings_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_weight_decay_spares_the_intercepts():
    net = fastbp.MLP([3, 4, 1], random_state=0)
    before = net.params.copy()
    optimizer = fastbp.AdamW(0.1, weight_decay=0.5)
    optimizer.step(net.params, np.zeros_like(net.params), n_coefs=net.n_coefs)  # a zero gradient: decay only
    np.testing.assert_allclose(net.params[:net.n_coefs], before[:net.n_coefs] * (1 - 0.1 * 0.5), rtol=1e-15)
    np.testing.assert_array_equal(net.params[net.n_coefs:], before[net.n_coefs:])


# --- the options travel with the model ---------------------------------------------------------------------------


def test_model_options_survive_save_load_copy_pickle_and_state_dict(tmp_path):
    import pickle

    net = fastbp.MLP([4, 6, 5, 1], ["gelu", "mish"], "identity", dropout=[0.1, 0.2], loss="huber", huber_delta=0.3,
                     init="he_normal", random_state=0)
    path = tmp_path / "net.npz"
    net.save(path)
    for other in (fastbp.load(path), net.copy(), pickle.loads(pickle.dumps(net)),
                  fastbp.MLP.from_state_dict(net.state_dict())):
        assert repr(other) == repr(net)
        assert (other.activations, other.dropouts, other.loss_function, other.huber_delta, other.init) == \
            (net.activations, net.dropouts, net.loss_function, net.huber_delta, net.init)
        np.testing.assert_array_equal(other.params, net.params)
    assert "dropout=[0.1, 0.2]" in repr(net) or "dropout=(0.1, 0.2)" in repr(net)


def test_a_version_3_file_loads_with_the_default_options(tmp_path):
    """A file written before the model options (format version 3: no option fields, SGD with three
    settings) still loads, and a trainer resumes from it."""
    net = fastbp.MLP([3, 4, 1], random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(0.1), max_epochs=1)
    trainer.fit(np.ones((8, 3)), np.ones(8))
    path = tmp_path / "v4.npz"
    trainer.save(path)
    with np.load(path) as data:
        fields = {name: data[name] for name in data.files
                  if name not in ("dropout", "loss", "huber_delta", "label_smoothing", "init")}
    fields["format_version"] = np.array(3)
    fields["optimizer_settings"] = fields["optimizer_settings"][:3]
    old = tmp_path / "v3.npz"
    np.savez(old, **fields)
    loaded = fastbp.load(old)
    assert repr(loaded) == repr(net) and loaded.init == "sklearn" and not any(loaded.dropouts)
    resumed = fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=1), fastbp.SGD(0.1))
    resumed.restore(old)
    np.testing.assert_array_equal(resumed.net.params, net.params)


def test_the_options_pages_example_trains_a_modern_mlp(capsys):
    block, = doc_code_blocks("user_guide/options.rst")
    exec(compile(block, "options.rst", "exec"), {})
    loss, accuracy = (float(part.split()[-1]) for part in capsys.readouterr().out.split(","))
    assert accuracy > 0.97 and loss < 1.0


@pytest.mark.parametrize("optimizer", [lambda: fastbp.SGD(0.05, momentum=0.9, weight_decay=0.01),
                                       lambda: fastbp.Adam(0.01), lambda: fastbp.AdamW(0.01),
                                       lambda: fastbp.RMSprop(0.005, momentum=0.3, centered=True),
                                       lambda: fastbp.Adagrad(0.05)],
                         ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_the_step_fused_into_backward_gives_the_bits_of_a_separate_pass(optimizer, dtype):
    """Without clipping, each layer takes its step inside the backward pass, as soon as its gradient is written;
    with clipping (here by a norm no gradient reaches, so a factor of exactly 1), after the whole gradient. The
    same updates of the same entries: the same bits, also with threads (this network's products are threaded)."""
    rng = np.random.RandomState(0)
    X = rng.randn(400, 50).astype(dtype)
    Y = np.eye(4)[(X[:, :4] ** 2).argmax(axis=1)].astype(dtype)
    params = []
    for clip_norm in (None, 1e300):
        net = fastbp.MLP([50, 300, 120, 4], ["relu", "tanh"], "softmax", dtype=dtype, random_state=0)
        fastbp.Trainer(net, optimizer(), batch_size=100, max_epochs=2, random_state=0, alpha=1e-3,
                       clip_norm=clip_norm).fit(X, Y)
        params.append(net.params)
    np.testing.assert_array_equal(params[0], params[1])
