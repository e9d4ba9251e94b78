"""A failed call leaves everything as it was (issue 27's first rule), for every public method that changes state.

The sweep injects a failure into each Python function of fastbp that a successful call runs, one at a time
(a trace function raises at that function's first call), and asserts that the object the call was changing is
then exactly as before: every attribute, by value, recursively (weights, optimizer state, history, stopper,
labels), and a fitted estimator still predicts what it predicted. A failure before the first write and one in
the middle of training are the same to the caller.
"""

import inspect
import os
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastbp
from fastbp.estimators.stochastic import Solver
from fastbp.history import History

PACKAGE = os.path.dirname(fastbp.__file__)
RNG = np.random.RandomState(0)
X = RNG.randn(40, 3)
Y_CLASS = np.array(["a", "b", "c", "a"] * 10)
Y_REG = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * RNG.randn(40)
SMALL = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)


class Injected(Exception):
    """The failure the sweep injects."""


def fingerprint(value, depth=0):
    """A comparable picture of `value`: arrays by dtype, shape and bytes; fastbp's objects by their state; other
    objects by their attributes."""
    if depth > 8:
        return ("deep", type(value).__name__)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.random.RandomState):  # a generator the call draws from is put back too
        return ("generator", fingerprint(list(value.get_state()), depth + 1))
    if isinstance(value, History):
        return ("history", fingerprint(value.records, depth + 1))
    if isinstance(value, (fastbp.MLP, fastbp.optim.Optimizer, fastbp.EarlyStopping, Solver)):
        return (type(value).__name__, fingerprint(value.state_dict(), depth + 1))
    if isinstance(value, dict):
        return ("dict", tuple((key, fingerprint(item, depth + 1)) for key, item in sorted(value.items(), key=str)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(item, depth + 1) for item in value))
    if isinstance(value, (int, float, str, bool, type(None), np.generic)):
        return ("value", repr(value))
    if hasattr(value, "__dict__"):
        return (type(value).__name__, fingerprint(vars(value), depth + 1))
    return ("object", id(value))


def fingerprint_of(obj):
    return fingerprint(vars(obj))


def inject(target, at):
    """A trace function that raises Injected at call number `at` (from 1) of the code object `target`, then stops
    tracing."""
    calls = 0

    def trace(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code is target:
            calls += 1
            if calls == at:
                sys.settrace(None)
                raise Injected(target.co_name)
        return None

    return trace


def injected(exc):
    """Whether `exc` is the injected failure, or an error raised because of it (scikit-learn's `available_if`
    turns an error of its check into an AttributeError)."""
    while exc is not None:
        if isinstance(exc, Injected):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def functions_called(call):
    """(code object, number of calls) of each of fastbp's Python functions that `call()` runs, in the order of
    their first call."""
    seen = {}

    def trace(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(PACKAGE):
            seen[code] = seen.get(code, 0) + 1
        return None

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return [(code, n) for code, n in seen.items() if not code.co_filename.endswith(("_transaction.py", "_locks.py"))]


def sweep(make, call, check=None):
    """For each fastbp function a successful `call(obj)` runs, at its first call and at its last (a later epoch's,
    say): a fresh `make()`, the failure injected there, and the object as before whenever the call raised;
    returns the number of calls that raised."""
    codes = functions_called(lambda: call(make()))
    assert len(codes) > 10, codes
    raised = 0
    # A generator's later "calls" are its resumptions, the last its close, where an error cannot be raised.
    last = {code: 1 if code.co_flags & inspect.CO_GENERATOR else n for code, n in codes}
    for code, at in [(each, at) for each, _ in codes for at in sorted({1, last[each]})]:
        obj = make()
        before = fingerprint_of(obj)
        sys.settrace(inject(code, at))
        try:
            call(obj)
        except Exception as exc:
            if not injected(exc):
                raise
            raised += 1
            after = fingerprint_of(obj)
            assert after == before, f"a failure in {code.co_name} ({code.co_filename}) changed the object"
            if check is not None:
                check(obj)
        finally:
            sys.settrace(None)
    return raised


def quiet(call):
    def run(obj):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            call(obj)
    return run


def fitted(estimator, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def unfitted(estimator):
    assert not [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]
    with pytest.raises(NotFittedError):
        estimator.predict(X)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_a_first_fit_that_fails_anywhere_leaves_an_unfitted_classifier(solver):
    def make():
        return fastbp.MLPClassifier(solver=solver, **SMALL)

    assert sweep(make, quiet(lambda est: est.fit(X, Y_CLASS)), unfitted) > 10


@pytest.mark.parametrize("params", [dict(solver="adam"), dict(solver="sgd", early_stopping=True),
                                    dict(solver="adamw", learning_rate="warmup_cosine", warm_start=True),
                                    dict(solver="lbfgs")], ids=["adam", "sgd-early-stopping", "adamw-warm", "lbfgs"])
def test_a_refit_that_fails_anywhere_leaves_the_fitted_regressor_as_it_was(params):
    reference = fitted(fastbp.MLPRegressor(**SMALL, **params), Y_REG)
    prediction = reference.predict(X)

    def make():
        return fitted(fastbp.MLPRegressor(**SMALL, **params), Y_REG)

    def still_predicts(est):
        np.testing.assert_array_equal(est.predict(X), prediction)

    assert sweep(make, quiet(lambda est: est.fit(X, 2 * Y_REG)), still_predicts) > 10


def test_partial_fit_that_fails_anywhere_changes_nothing():
    def first():
        return fastbp.MLPClassifier(**SMALL)

    assert sweep(first, lambda est: est.partial_fit(X, Y_CLASS, classes=["a", "b", "c"]), unfitted) > 10

    def later():
        return fastbp.MLPClassifier(**SMALL).partial_fit(X, Y_CLASS, classes=["a", "b", "c"])

    assert sweep(later, lambda est: est.partial_fit(X[:20], Y_CLASS[:20])) > 10


def test_trainer_fit_that_fails_anywhere_changes_nothing():
    y = (X[:, 0] > 0).astype(float)

    def make():
        net = fastbp.MLP([3, 4, 1], random_state=0, dropout=0.1)
        trainer = fastbp.Trainer(net, fastbp.AdamW(0.01), max_epochs=2, random_state=np.random.RandomState(0),
                                 validation_fraction=0.25,
                                 early_stopping=fastbp.EarlyStopping(restore_best_weights=True), clip_norm=1.0,
                                 schedule=fastbp.schedules.WarmupCosine(2, 20))
        trainer.fit(X, y)  # a trainer with history, optimizer state and a stopper's best weights
        return trainer

    assert sweep(make, lambda trainer: trainer.fit(X, y)) > 10


def test_restore_and_load_state_dict_that_fail_anywhere_change_nothing(tmp_path):
    y = (X[:, 0] > 0).astype(float)
    path = tmp_path / "trainer.npz"
    saver = fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=1), fastbp.Adam(0.01), max_epochs=2, random_state=0)
    saver.fit(X, y)
    saver.save(path)

    def make():
        trainer = fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=0), fastbp.Adam(0.01), max_epochs=1)
        trainer.fit(X, y)
        return trainer

    assert sweep(make, lambda trainer: trainer.restore(path)) > 5
    state = saver.optimizer.state_dict()
    assert sweep(lambda: make().optimizer, lambda optimizer: optimizer.load_state_dict(state)) > 0


def test_a_save_that_fails_anywhere_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "net.npz"
    fastbp.MLP([3, 4, 1], random_state=0).save(path)
    before = path.read_bytes()
    net = fastbp.MLP([3, 4, 1], random_state=1)
    codes = functions_called(lambda: net.save(tmp_path / "other.npz"))
    for code, _ in codes:
        sys.settrace(inject(code, 1))
        try:
            net.save(path)
        except Injected:
            assert path.read_bytes() == before, code.co_name
            assert sorted(os.listdir(tmp_path)) == ["net.npz", "other.npz"]  # no temporary file left
        finally:
            sys.settrace(None)


# --- The cases issue 27 names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [dict(solver="rmsprop", weight_decay=0.1),
                                   dict(learning_rate="one_cycle", max_iter=1, batch_size=40)],
                         ids=["rmsprop-weight-decay", "one-cycle-too-few-steps"])
def test_a_refit_with_a_bad_combination_keeps_the_trained_classifier(change):
    est = fitted(fastbp.MLPClassifier(solver="adam", **SMALL), Y_CLASS).set_params(**change)
    before = fingerprint_of(est)
    with pytest.raises(ValueError, match="weight_decay is for|one_cycle"):
        est.fit(X, Y_CLASS)
    assert fingerprint_of(est) == before


@pytest.mark.parametrize("params, fit_params, message", [
    (dict(activation=["relu", "tanh"]), {}, "one value per hidden layer"),
    (dict(dropout=[1.5]), {}, r"dropout\[0\] must be in \[0, 1\)"),
    (dict(dropout=["a"]), {}, r"dropout\[0\] must be a real number"),
    (dict(dtype=np.float16), {}, "dtype must be float32 or float64"),
    (dict(solver="lbfgs", dropout=0.2), {}, "dropout is for the stochastic solvers"),
    (dict(), dict(sample_weight=np.zeros(40)), "at least one non-zero|must have a positive sum"),
    (dict(), dict(sample_weight=np.full(40, 1e308)), "sample_weight sums to inf"),
], ids=["activations", "dropout-1.5", "dropout-str", "float16", "lbfgs-dropout", "zero-weights", "huge-weights"])
def test_a_first_fit_that_fails_leaves_an_unfitted_estimator(params, fit_params, message):
    est = fastbp.MLPRegressor(**{**SMALL, **params})
    with pytest.raises((ValueError, TypeError), match=message):
        est.fit(X, Y_REG, **fit_params)
    unfitted(est)


def test_a_network_too_large_for_memory_is_refused_before_allocating():
    est = fastbp.MLPClassifier(hidden_layer_sizes=(10**6, 10**6))
    with pytest.raises(MemoryError, match=r"layer_sizes \[3, 1000000, 1000000, 3\] give 1,000,008,000,003 param"):
        est.fit(X, Y_CLASS)
    unfitted(est)
    with pytest.raises(ValueError, match=r"layer_sizes \[2147483647, .* give 18,446,744,065,119,617,024 parameters"):
        fastbp.MLP([2**31 - 1] * 5)


def test_partial_fit_on_values_beyond_float32_keeps_the_model():
    est = fastbp.MLPRegressor(dtype="float32", **SMALL).partial_fit(X, Y_REG)
    before = fingerprint_of(est)
    with pytest.raises(ValueError, match="after conversion to float32"):
        est.partial_fit(np.full_like(X, 1e300), Y_REG)
    assert fingerprint_of(est) == before and est.n_iter_ == 1


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("name, value, options", [("dropout", 0.0, dict(dropout=0.5)),
                                                  ("huber_delta", 50.0, dict(output="identity", loss="huber")),
                                                  ("label_smoothing", 0.2, dict(output="softmax")),
                                                  ("activation", ["gelu", "tanh"], {}),
                                                  ("loss_function", "absolute_error", dict(output="identity"))])
def test_an_assigned_setting_takes_effect(name, value, options, backend):
    options = dict(options)
    output = options.pop("output", "logistic")
    sizes = [3, 5, 4, 2 if output == "softmax" else 1]
    Y = {"softmax": np.eye(2)[(X[:, 0] > 0).astype(int)], "logistic": (X[:, :1] > 0) * 1.0}.get(output, X[:, :1] * 9)
    net = fastbp.MLP(sizes, output=output, random_state=0, backend=backend, **options)
    setattr(net, name, value)
    fresh = fastbp.MLP(sizes, output=output, random_state=0, backend=backend,
                       **{**options, {"loss_function": "loss"}.get(name, name): value})
    fresh.params[:] = net.params
    for got, expected in zip(net.loss_and_grad(X, Y, dropout_seed=3), fresh.loss_and_grad(X, Y, dropout_seed=3)):
        np.testing.assert_array_equal(got, expected)
    assert repr(net) == repr(fresh)


def test_a_refused_setting_changes_nothing_and_the_architecture_is_read_only():
    net = fastbp.MLP([3, 4, 1], output="identity", loss="huber", random_state=0)
    before = fingerprint_of(net)
    for name, value, error, message in [
            ("huber_delta", -1.0, ValueError, "huber_delta must be > 0"),
            ("label_smoothing", 0.1, ValueError, "label_smoothing is for output='logistic' or 'softmax'"),
            ("activation", {"relu"}, TypeError, "got a set"),
            ("dropout", 1.0, ValueError, r"dropout must be in \[0, 1\)"),
            ("thread_invariant", "yes", TypeError, "thread_invariant must be a bool"),
            ("layer_sizes", [3, 5, 1], AttributeError, "layer_sizes is read-only"),
            ("dtype", "float32", AttributeError, r"dtype is read-only: net.copy\(dtype=...\)"),
            ("output", "logistic", AttributeError, "output is read-only"),
            ("params", np.zeros(9), AttributeError, r"modify it in place \(net.params\[:\] = values\)"),
            ("coefs", [], AttributeError, "coefs is read-only"),
            ("activations", ("relu",), AttributeError, "assign MLP.activation")]:
        with pytest.raises(error, match=message):
            setattr(net, name, value)
        assert fingerprint_of(net) == before, name


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_schedules_the_core_cannot_compute_are_refused_on_both_backends(backend):
    class Halved(fastbp.schedules.Exponential):
        def rate(self, t, learning_rate):
            return learning_rate / 2

    class Mine(fastbp.schedules.Schedule):
        name = "mine"

    class Renamed(fastbp.schedules.WarmupCosine):  # keeps WarmupCosine's rate: both backends compute it
        pass

    net = fastbp.MLP([3, 4, 1], random_state=0, backend=backend)
    for schedule in (Halved(0.9), Mine()):
        with pytest.raises(TypeError, match="not one the compiled core computes.*function of the epoch"):
            fastbp.Trainer(net, schedule=schedule)
    with pytest.raises(TypeError, match=r"got the class WarmupCosine: pass an instance"):
        fastbp.Trainer(net, schedule=fastbp.schedules.WarmupCosine)
    trainer = fastbp.Trainer(net, schedule=Renamed(1, 10), max_epochs=1)
    trainer.schedule.total_steps = 0  # assigned after construction: checked at the fit, as the constructor checks
    with pytest.raises(ValueError, match="total_steps must be >= 2"):
        trainer.fit(X, X[:, 0] > 0)
    trainer.schedule.total_steps, trainer.batch_size = 10, 0
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        trainer.fit(X, X[:, 0] > 0)


def test_a_subclass_that_keeps_the_rate_trains_the_same_on_both_backends():
    class Renamed(fastbp.schedules.WarmupCosine):
        pass

    y = (X[:, 0] > 0).astype(float)
    params = []
    for backend in ("cython", "numpy"):
        net = fastbp.MLP([3, 4, 1], random_state=0, backend=backend)
        fastbp.Trainer(net, fastbp.Adam(0.05), schedule=Renamed(2, 8), max_epochs=3, random_state=0).fit(X, y)
        params.append(net.params)
    np.testing.assert_allclose(params[0], params[1], rtol=1e-12, atol=1e-14)


def test_partial_fit_after_the_schedule_has_ended_says_so():
    est = fitted(fastbp.MLPClassifier(solver="adamw", learning_rate="warmup_cosine", **SMALL), Y_CLASS)
    before = [coef.copy() for coef in est.coefs_]
    with pytest.warns(UserWarning, match=r"schedule WarmupCosine\(.*\) has ended.*changes no weight"):
        est.partial_fit(X, Y_CLASS)
    for coef, old in zip(est.coefs_, before):
        np.testing.assert_array_equal(coef, old)


def test_optimizer_state_is_checked_before_it_is_taken():
    net = fastbp.MLP([3, 4, 1], random_state=0)
    y = (X[:, 0] > 0).astype(float)
    optimizer = fastbp.AdamW(0.01)
    fastbp.Trainer(net, optimizer, max_epochs=1).fit(X, y)
    good = {**optimizer.state_dict(), "state": {k: b.copy() for k, b in optimizer.state_dict()["state"].items()}}
    before = fingerprint_of(optimizer)
    for change, message in [({"t": -5}, r"state\['t'\] must be >= 0"),
                            ({"state": {"m": np.full(good["state"]["m"].shape, np.nan), "v": good["state"]["v"]}},
                             r"state\['state'\]\['m'\] contains NaN"),
                            ({"state": {"m": np.zeros(3), "v": good["state"]["v"]}}, "shaped like the others"),
                            ({"name": "Adam"}, "cannot be loaded into AdamW")]:
        with pytest.raises(ValueError, match=message):
            optimizer.load_state_dict({**good, **change})
        assert fingerprint_of(optimizer) == before
    optimizer.load_state_dict({**good, "state": {"m": np.zeros(3), "v": np.zeros(3)}})  # another model's state
    with pytest.raises(ValueError, match="holds state for 3 parameters of float64, not this model's 21"):
        fastbp.Trainer(net, optimizer, max_epochs=1).fit(X, y)


def test_from_state_dict_checks_the_parameters():
    state = fastbp.MLP([3, 4, 1], random_state=0).state_dict()
    with pytest.raises(ValueError, match=r"state\['params'\] must have shape \(21,\) for layer_sizes \[3, 4, 1\]"):
        fastbp.MLP.from_state_dict({**state, "params": np.array([0.5])})
    with pytest.raises(ValueError, match=r"state\['params'\] contains NaN"):
        fastbp.MLP.from_state_dict({**state, "params": np.full(21, np.nan)})
    with pytest.raises(ValueError, match="state has no 'params'"):
        fastbp.MLP.from_state_dict({k: v for k, v in state.items() if k != "params"})


def test_huge_sample_weights_are_refused_by_name():
    net = fastbp.MLP([3, 4, 1], output="identity", random_state=0)
    with pytest.raises(ValueError, match=r"sample_weight sums to inf, beyond the largest float64"):
        net.loss(X, Y_REG, sample_weight=np.full(40, 1e308))
    net32 = fastbp.MLP([3, 4, 1], output="identity", dtype="float32", random_state=0)
    with pytest.raises(ValueError, match=r"sample_weight sums to 4e\+38, beyond the largest float32"):
        net32.loss(X, Y_REG, sample_weight=np.full(40, 1e37))


def test_what_the_trainer_runs_is_checked_at_each_fit():
    y = (X[:, 0] > 0).astype(float)
    net = fastbp.MLP([3, 4, 1], random_state=0)
    trainer = fastbp.Trainer(net, fastbp.Adam(0.01), max_epochs=1, early_stopping=True)
    for owner, name, value, message in [(trainer.optimizer, "learning_rate", -1.0, "learning_rate must be > 0"),
                                        (trainer.optimizer, "beta_1", 1.5, r"beta_1 must be in \[0, 1\)"),
                                        (trainer.early_stopping, "tol", -1.0, "tol must be >= 0"),
                                        (trainer, "alpha", np.nan, "alpha must be finite"),
                                        (trainer, "on_divergence", "ignore", "on_divergence must be one of")]:
        good = getattr(owner, name)
        setattr(owner, name, value)
        before = fingerprint_of(trainer)
        with pytest.raises(ValueError, match=message):
            trainer.fit(X, y)
        assert fingerprint_of(trainer) == before
        setattr(owner, name, good)
    trainer.fit(X, y)


def test_an_optimizer_subclass_that_steps_its_own_way_is_refused():
    class Halved(fastbp.SGD):
        def step(self, params, grad, learning_rate=None, n_coefs=None):
            super().step(params, grad, learning_rate / 2, n_coefs)

    class Quieter(fastbp.SGD):  # keeps SGD's step: the core runs it
        def __repr__(self):
            return "Quieter()"

    net = fastbp.MLP([3, 4, 1], random_state=0)
    with pytest.raises(TypeError, match="not one the compiled core runs.*step an optimizer of your own"):
        fastbp.Trainer(net, Halved())
    fastbp.Trainer(net, Quieter(), max_epochs=1).fit(X, X[:, 0] > 0)


@pytest.mark.parametrize("route", ["pickle", "deepcopy", "state_dict"])
def test_a_model_comes_back_the_same_by_every_route(route):
    import copy
    import pickle

    from _helpers import assert_same_state

    net = fastbp.MLP([3, 5, 4, 2], ["gelu", "tanh"], "softmax", dtype="float32", random_state=0, backend="numpy",
                     dropout=[0.1, 0.0], label_smoothing=0.1, init="torch", n_threads=2, thread_invariant=True)
    other = {"pickle": lambda: pickle.loads(pickle.dumps(net)), "deepcopy": lambda: copy.deepcopy(net),
             "state_dict": lambda: fastbp.MLP.from_state_dict(net.state_dict())}[route]()
    assert_same_state(vars(other), vars(net), "net")
    assert np.shares_memory(other.coefs[1], other.params)


def test_optimizer_and_stopper_state_dicts_give_them_back_field_by_field():
    from _helpers import assert_same_state

    y = (X[:, 0] > 0).astype(float)
    for optimizer in (fastbp.SGD(0.05), fastbp.RMSprop(momentum=0.5, centered=True)):
        stopper = fastbp.EarlyStopping(restore_best_weights=True)
        fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=0), optimizer, max_epochs=3, early_stopping=stopper,
                       validation_fraction=0.25, random_state=0).fit(X, y)
        assert_same_state(vars(fastbp.optim.from_state_dict(optimizer.state_dict())), vars(optimizer), "optimizer")
        copy = fastbp.EarlyStopping.from_state_dict(stopper.state_dict())
        assert_same_state(vars(copy), vars(stopper), "stopper")
        assert not np.shares_memory(copy.best_params, stopper.best_params)  # training one leaves the other


def test_an_interrupt_outside_the_epochs_is_rolled_back_like_an_error(monkeypatch):
    """Ctrl-C during the epochs ends a fit normally (the completed epochs kept, with a warning); one that escapes
    the call, from its checks or its end, is a failed call."""
    est = fastbp.MLPRegressor(**SMALL)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastbp.Trainer, "_prepare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, Y_REG)
    unfitted(est)


def test_the_trainers_counters_and_arguments_are_checked_by_name():
    y = (X[:, 0] > 0).astype(float)
    trainer = fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=0), max_epochs=1)
    for name, value, error, message in [("learning_rate", -1.0, ValueError, "learning_rate must be > 0"),
                                        ("t", 1.5, TypeError, "t must be an integer"),
                                        ("net", "x", TypeError, "net must be a fastbp.MLP, got str")]:
        good = getattr(trainer, name)
        setattr(trainer, name, value)
        with pytest.raises(error, match=message):
            trainer.fit(X, y)
        setattr(trainer, name, good)
    sgd = fastbp.SGD()
    sgd.momentum = 5.0
    net = fastbp.MLP([3, 4, 1], random_state=0)
    loss, grad = net.loss_and_grad(X, y)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        sgd.step(net.params, grad)
    assert sgd.t == 0 and sgd.state_dict()["state"] == {}


def test_save_refuses_another_models_optimizer_state(tmp_path):
    trainer = fastbp.Trainer(fastbp.MLP([3, 4, 1], random_state=0), fastbp.Adam(), max_epochs=1)
    trainer.optimizer.load_state_dict({"name": "Adam", "t": 1, "state": {"m": np.zeros(3), "v": np.zeros(3)}})
    with pytest.raises(ValueError, match=r"optimizer's m has shape \(3,\).*not this model's \(21,\)"):
        trainer.save(tmp_path / "t.npz")
    assert not os.listdir(tmp_path)


def test_a_pickle_of_a_model_from_before_the_settings_loads_with_them():
    import pickle

    net = fastbp.MLP([3, 4, 1], "relu", "identity", random_state=0, n_threads=2, loss="huber", huber_delta=2.0)
    old = {"layer_sizes": (3, 4, 1), "activation": "relu", "activations": ("relu",), "output": "identity",
           "dtype": np.dtype("float64"), "backend": "cython", "n_threads": 2, "thread_invariant": net.thread_invariant,
           "dropout": 0.0, "dropouts": (0.0,), "loss_function": "huber", "huber_delta": 2.0,
           "label_smoothing": 0.0, "init": "sklearn", "_params": net.params.copy()}
    loaded = pickle.loads(pickle.dumps(net))
    loaded.__setstate__(old)  # what unpickling an earlier fastbp's MLP does
    from _helpers import assert_same_state

    assert_same_state(vars(loaded), vars(net), "net")
