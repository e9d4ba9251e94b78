"""Saving and loading models as .npz without pickle."""

import inspect
import io
import os
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp.options import OPTIONS


def test_round_trip_is_bitwise_exact(tmp_path, dtype):
    net = fastbp.MLP([4, 3, 2], activation="tanh", output="softmax", dtype=dtype, random_state=1)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = fastbp.load(path, backend="numpy")
    assert (loaded.layer_sizes, loaded.activation, loaded.output, loaded.dtype) == \
        (net.layer_sizes, "tanh", "softmax", np.dtype(dtype))
    assert loaded.backend == "numpy"
    np.testing.assert_array_equal(loaded.params, net.params)


def rewrite(path, **changes):
    with np.load(path) as data:
        fields = dict(data)
    fields.update(changes)
    for key in [k for k, value in changes.items() if value is None]:
        del fields[key]
    np.savez(path, **fields)


@pytest.mark.parametrize("changes, message", [
    (dict(params=np.zeros(3)), r"params have shape \(3,\)"),
    (dict(params=np.full(23, np.nan)), "NaN or infinity"),
    (dict(format=np.array("something.else")), "not a fastbp model file"),
    (dict(format_version=np.array(99)), "format version .* is not supported"),
    (dict(layer_sizes=np.array([4, 0, 2])), r"layer_sizes\[1\] must be >= 1"),
    (dict(activation=np.array("swoosh")), "activation must be one of"),
    (dict(activation=np.array(["relu", "gelu"])), "activation must give one value per hidden layer"),
    (dict(dropout=np.array(1.5)), "dropout must be in"),
    (dict(dropout=np.array("0.1")), "field 'dropout' must be a float64"),
    (dict(loss=np.array("huber")), "loss must be one of"),
    (dict(init=np.array("xavier")), "init must be one of"),
    (dict(label_smoothing=np.array(-0.5)), "label_smoothing must be"),
    (dict(huber_delta=None), r"version 6 file without fields \['huber_delta'\]"),
    (dict(ensemble_size=np.array(0)), "ensemble_size must be >= 1"),
    (dict(ensemble_size=np.array(2.0)), "field 'ensemble_size' must be an integer"),
    (dict(ensemble=np.array("bagged")), "ensemble must be one of"),
    (dict(categories=np.array([[2]])), "field 'categories' must be a 1-D array of integers"),
    (dict(categories=np.array([2, 2, 2, 2, 2])), "categories name 5 columns, but X has 4"),
    (dict(embedding=np.array("{not json")), "field 'embedding' is not an embedding's settings"),
    (dict(dtype=np.array("int8")), "dtype must be float32 or float64"),
    (dict(output=None), r"missing fields \['output'\]"),
    (dict(params=np.array([object()] * 23)), "Object arrays cannot be loaded"),
])
def test_tampered_files_are_refused_with_the_reason(tmp_path, changes, message):
    path = tmp_path / "model.npz"
    fastbp.MLP([4, 3, 2], random_state=0).save(path)
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=message):
        fastbp.load(path)


def test_truncated_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "model.npz"
    fastbp.MLP([4, 3, 2], random_state=0).save(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="model.npz"):
        fastbp.load(path)
    other = tmp_path / "other.npy"
    np.save(other, np.arange(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        fastbp.load(other)
    with pytest.raises(ValueError, match="not a readable"):
        fastbp.load(tmp_path / "missing.npz")


# --- format version 2: optimizer state and trainer counters ------------------------------------------------

# (optimizer, trainer options), each made fresh for every trainer. The adaptive case's tolerance makes every
# epoch after the first a plateau, so the rate is divided by 5 in the third epoch, before the save.
RESUMABLE = {
    "plain-sgd": (lambda: fastbp.SGD(0.1, momentum=0.0), dict),
    "classic-momentum": (lambda: fastbp.SGD(0.1, momentum=0.9, nesterov=False), dict),
    "nesterov-invscaling": (lambda: fastbp.SGD(0.1, momentum=0.9), lambda: dict(schedule="invscaling", power_t=0.3)),
    "adaptive": (lambda: fastbp.SGD(0.1), lambda: dict(schedule="adaptive", early_stopping=fastbp.EarlyStopping(
        "loss", n_iter_no_change=1, tol=10.0))),
    "callable-schedule": (lambda: fastbp.SGD(0.1), lambda: dict(schedule=lambda epoch: 0.2 / (1 + epoch))),
    "adam": (lambda: fastbp.Adam(0.01), dict),
    "adamw-warmup-cosine-clipped": (lambda: fastbp.AdamW(0.01, weight_decay=0.1), lambda: dict(
        schedule=fastbp.schedules.WarmupCosine(20, 70), clip_norm=0.5)),
    "rmsprop-centered-momentum": (lambda: fastbp.RMSprop(0.01, momentum=0.5, centered=True), lambda: dict(
        schedule=fastbp.schedules.OneCycle(0.02, 100))),
    "adagrad": (lambda: fastbp.Adagrad(0.05), lambda: dict(schedule=fastbp.schedules.Exponential(0.99))),
    "sgd-weight-decay": (lambda: fastbp.SGD(0.1, weight_decay=0.01), dict),
}


@pytest.mark.parametrize("case", RESUMABLE)
def test_training_resumed_from_a_saved_trainer_continues_exactly(case, tmp_path, dtype):
    make_optimizer, make_options = RESUMABLE[case]
    rng = np.random.RandomState(0)
    X = rng.randn(200, 6).astype(dtype)
    Y = (X[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)

    def trainer(seed):
        net = fastbp.MLP([6, 8, 1], dtype=dtype, random_state=seed)
        return fastbp.Trainer(net, make_optimizer(), batch_size=16, max_epochs=3, random_state=5, **make_options())

    uninterrupted = trainer(0)
    uninterrupted.fit(X, Y)
    path = tmp_path / "state.npz"
    uninterrupted.save(path)
    if case == "adaptive":
        assert uninterrupted.learning_rate == pytest.approx(0.1 / 5)
        uninterrupted.early_stopping.reset()  # the early-stopping counters are not in the file
    uninterrupted.fit(X, Y)

    resumed = trainer(1)  # other initial weights: everything must come from the file
    resumed.restore(path)
    assert (resumed.epoch, resumed.t) == (3, 600)
    resumed.fit(X, Y)
    np.testing.assert_array_equal(resumed.net.params, uninterrupted.net.params)
    for name in resumed.optimizer.state_names:
        np.testing.assert_array_equal(resumed.optimizer.state_for(resumed.net.params)[name],
                                      uninterrupted.optimizer.state_for(uninterrupted.net.params)[name])
    assert resumed.optimizer.t == uninterrupted.optimizer.t and resumed.learning_rate == uninterrupted.learning_rate
    assert resumed.history.learning_rate == uninterrupted.history.learning_rate[3:]


def test_restore_refuses_another_architecture_or_optimizer(tmp_path):
    path = tmp_path / "state.npz"
    net = fastbp.MLP([4, 3, 1], random_state=0)
    fastbp.Trainer(net, fastbp.SGD(), max_epochs=1).fit(np.ones((8, 4)), np.ones(8))
    fastbp.Trainer(net, fastbp.SGD()).save(path)
    with pytest.raises(ValueError, match="this trainer trains"):
        fastbp.Trainer(fastbp.MLP([4, 5, 1])).restore(path)
    with pytest.raises(ValueError, match="needs the state of Adam"):
        fastbp.Trainer(fastbp.MLP([4, 3, 1]), fastbp.Adam()).restore(path)
    net.save(tmp_path / "weights.npz")  # weights only
    with pytest.raises(ValueError, match="holds no optimizer state"):
        fastbp.Trainer(fastbp.MLP([4, 3, 1])).restore(tmp_path / "weights.npz")


@pytest.mark.parametrize("changes, message", [
    (dict(optimizer=np.array("LBFGS")), "unknown optimizer 'LBFGS'"),
    (dict(optimizer_settings=np.array([0.1, 0.9])), "optimizer_settings have shape"),
    (dict(optimizer_t=np.array(-1)), "optimizer_t must be a non-negative integer"),
    (dict(optimizer_state=np.zeros((3, 19))), "optimizer_state has 3 rows"),
    (dict(optimizer_state=np.full((1, 19), np.nan)), "optimizer_state contain NaN"),
    (dict(optimizer_state=np.zeros((1, 19), dtype=np.float32)), "optimizer_state have shape"),
    (dict(trainer=np.array([1.5, 0.0, 0.1])), "trainer counters"),
    (dict(trainer=None), r"without fields \['trainer'\]"),
])
def test_tampered_training_state_is_refused_with_the_reason(tmp_path, changes, message):
    path = tmp_path / "state.npz"
    net = fastbp.MLP([4, 3, 1], random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(), max_epochs=1)
    trainer.fit(np.ones((8, 4)), np.ones(8))
    trainer.save(path)
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=message):
        fastbp.Trainer(fastbp.MLP([4, 3, 1])).restore(path)


def test_version_1_files_still_load(tmp_path):
    path = tmp_path / "old.npz"
    net = fastbp.MLP([4, 3, 2], random_state=0)
    net.save(path)
    rewrite(path, format_version=np.array(1), optimizer=None, optimizer_settings=None, optimizer_t=None,
            optimizer_state=None, trainer=None)
    np.testing.assert_array_equal(fastbp.load(path).params, net.params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_fitted_estimators_network_saves_without_pickle(solver, tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, solver=solver, random_state=0).fit(X, y)
    clf.save(tmp_path / "clf.npz")
    net = fastbp.load(tmp_path / "clf.npz")
    np.testing.assert_array_equal(net.forward(X), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.classes_[net.predict(X)], clf.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_fitted_regressor_saves_without_pickle(loss, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3).astype(np.float32)
    y = np.exp(X[:, 0] - X[:, 1]) if loss == "poisson" else X[:, 0] - X[:, 1]
    reg = fastbp.MLPRegressor(loss=loss, hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    reg.save(tmp_path / "reg.npz")
    net = fastbp.load(tmp_path / "reg.npz")
    assert net.output == reg.out_activation_ and net.dtype == np.float32
    np.testing.assert_array_equal(net.forward(X).ravel(), reg.predict(X))


def test_the_documented_file_format_lists_every_field_of_a_file(tmp_path):
    from _helpers import DOCS
    from fastbp import persistence

    page = (DOCS / "user_guide" / "persistence.rst").read_text().split("The file format\n")[1]
    documented = []
    for line in page.splitlines():
        if line.startswith("   * - ``"):
            documented += [name.strip("`") for name in line[len("   * - "):].split(", ")]
    path = tmp_path / "trainer.npz"
    trainer = fastbp.Trainer(fastbp.MLP([3, 2, 1], random_state=0), max_epochs=1)
    trainer.fit(np.ones((4, 3)), np.ones(4))
    trainer.save(path)
    with np.load(path) as data:
        assert sorted(documented) == sorted(data.files)
        assert int(data["format_version"]) == persistence.FORMAT_VERSION
    assert f"format version {persistence.FORMAT_VERSION};" in page


def test_save_load_and_trainer_save_restore_give_back_the_same_fields(tmp_path):
    from _helpers import assert_same_state

    X = np.random.RandomState(0).randn(30, 3)
    net = fastbp.MLP([3, 5, 2], ["gelu"], "softmax", dtype="float32", random_state=0, dropout=0.1,
                     label_smoothing=0.1, init="he_normal", thread_invariant=True)
    net.save(tmp_path / "net.npz")
    assert_same_state(vars(fastbp.load(tmp_path / "net.npz")), vars(net), "net")
    trainer = fastbp.Trainer(net, fastbp.AdamW(0.01), max_epochs=2, random_state=0)
    trainer.fit(X, np.eye(2)[(X[:, 0] > 0).astype(int)])
    trainer.save(tmp_path / "trainer.npz")
    restored = fastbp.Trainer(net.copy(), fastbp.AdamW(0.01), max_epochs=2, random_state=0)
    restored.restore(tmp_path / "trainer.npz")
    assert_same_state(vars(restored.net), vars(net), "net")
    assert_same_state(vars(restored.optimizer), vars(trainer.optimizer), "optimizer")
    assert (restored.epoch, restored.t, restored.learning_rate) == (trainer.epoch, trainer.t, trainer.learning_rate)


def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path):
    net = fastbp.MLP([3, 4, 1], random_state=0)
    net.save(tmp_path / "net.npz")
    before = (tmp_path / "net.npz").read_bytes()
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="params contain NaN or infinity"):
        net.save(tmp_path / "net.npz")
    assert (tmp_path / "net.npz").read_bytes() == before and os.listdir(tmp_path) == ["net.npz"]


def test_a_header_that_declares_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    path = tmp_path / "forged.npz"
    fastbp.MLP([3, 4, 1], random_state=0).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = np.lib.format.header_data_from_array_1_0(np.zeros(21))
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(forged, {**header, "shape": (2**40,)})
    members["params.npy"] = forged.getvalue() + members["params.npy"][-21 * 8:]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"field 'params' declares shape \(1099511627776,\).*truncated or forged"):
        fastbp.load(path)


def test_a_bad_argument_of_load_is_blamed_on_the_argument(tmp_path):
    fastbp.MLP([3, 4, 1], random_state=0).save(tmp_path / "net.npz")
    with pytest.raises(ValueError, match="^n_threads must be >= 1, got 0$"):
        fastbp.load(tmp_path / "net.npz", n_threads=0)


def test_every_keyword_option_of_the_model_has_one_record_that_files_state_dicts_and_copies_follow(tmp_path):
    """`fastbp.options.OPTIONS` is the constructor's keyword options, with its defaults; a model with every option
    away from its default keeps them through a file, a state dict and a copy."""
    parameters = inspect.signature(fastbp.MLP).parameters
    keyword = {name: p.default for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword == {option.name: option.default for option in OPTIONS}
    bins = fastbp.embeddings.compute_bins(np.random.RandomState(0).randn(50, 2), 4)
    net = fastbp.MLP([3, 6, 5, 2], "tanh", "identity", random_state=0, dropout=[0.1, 0.2], loss="huber",
                     huber_delta=0.5, init="torch", ensemble_size=3, ensemble="mini", categories=[4],
                     embedding=fastbp.embeddings.PiecewiseLinear(bins, 2))
    away = net.options()
    assert all(away[option.name] != option.default for option in OPTIONS if option.name != "label_smoothing")
    net.save(tmp_path / "model.npz")
    for other in (fastbp.load(tmp_path / "model.npz"), fastbp.MLP.from_state_dict(net.state_dict()), net.copy()):
        assert other.options() == away and repr(other) == repr(net)
        np.testing.assert_array_equal(other.params, net.params)
    smoothed = fastbp.MLP([3, 4, 2], output="softmax", label_smoothing=0.2, random_state=0)
    smoothed.save(tmp_path / "smoothed.npz")
    assert fastbp.load(tmp_path / "smoothed.npz").label_smoothing == 0.2
