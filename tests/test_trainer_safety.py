"""Interrupts, divergence and bad arguments: the model is never left half-updated."""

import os
import signal

import numpy as np
import pytest

import fastbp
import fastbp.backends
import fastbp.reference
from fastbp._core._epoch import EpochKernel

BACKENDS = ["cython", "numpy"]


@pytest.fixture(autouse=True)
def default_sigint():
    """Python's own SIGINT handler (Ctrl-C raises KeyboardInterrupt), which these tests rely on, whatever the
    disposition pytest started with: background jobs, nohup and some CI runners start it with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def data(rng):
    X = rng.randn(120, 5)
    Y = (X[:, :1] > 0).astype(float)
    return X, Y


class Snapshots:
    """Weights and optimizer state (buffers and step count) after every epoch; `action` after epoch `at`."""

    def __init__(self, action=None, at=None):
        self.weights, self.states, self.action, self.at = [], [], action, at

    def on_epoch_end(self, trainer, epoch, logs):
        self.weights.append(trainer.net.params.copy())
        optimizer = trainer.optimizer
        self.states.append(({name: buffer.copy() for name, buffer in optimizer.state_for(trainer.net.params).items()},
                            optimizer.t))
        if epoch == self.at:
            self.action()


def interrupt():
    raise KeyboardInterrupt


def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("action", [interrupt, ctrl_c], ids=["KeyboardInterrupt", "SIGINT"])
def test_an_interrupt_stops_after_the_epoch_with_a_consistent_model(backend, action, data):
    X, Y = data
    snapshots = Snapshots(action, at=2)
    net = fastbp.MLP([5, 4, 1], random_state=0, backend=backend)
    trainer = fastbp.Trainer(net, batch_size=10, max_epochs=10, random_state=0, callbacks=[snapshots])
    with pytest.warns(RuntimeWarning, match="interrupted by the user; stopped with 3 completed epochs"):
        history = trainer.fit(X, Y)

    assert trainer.stop_reason == "interrupted"
    assert len(history) == 3 and trainer.epoch == 3 and trainer.t == 3 * 120
    np.testing.assert_array_equal(net.params, snapshots.weights[-1])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # The interrupted run continues exactly like an uninterrupted one: fit(3 epochs) then fit(2 epochs).
    trainer.max_epochs = 2
    trainer.fit(X, Y)
    assert len(history) == 5
    uninterrupted = fastbp.Trainer(fastbp.MLP([5, 4, 1], random_state=0, backend=backend), batch_size=10,
                                   max_epochs=3, random_state=0)
    uninterrupted.fit(X, Y)
    uninterrupted.max_epochs = 2
    uninterrupted.fit(X, Y)
    assert_same_training_state(trainer, uninterrupted)


def assert_same_training_state(trainer, other):
    """Bitwise the same weights, optimizer state and counters."""
    np.testing.assert_array_equal(trainer.net.params, other.net.params)
    for name in trainer.optimizer.state_names:
        np.testing.assert_array_equal(trainer.optimizer.state_for(trainer.net.params)[name],
                                      other.optimizer.state_for(other.net.params)[name], err_msg=name)
    assert (trainer.optimizer.t, trainer.epoch, trainer.t) == (other.optimizer.t, other.epoch, other.t)


class CompiledEpochWithCtrlC:
    """The compiled epoch kernel, with Ctrl-C twice in its call number `at` (from 0): once before the C call, and
    once while it runs, which Python handles as soon as the call returns, before the epoch is checked."""

    at = None

    def __init__(self, *args, **kwargs):
        self.kernel = EpochKernel(*args, **kwargs)
        self.calls = 0

    def train_epoch(self, *args):
        interrupted = self.calls == self.at
        self.calls += 1
        if interrupted:
            ctrl_c()  # the first: stop after this epoch
        result = self.kernel.train_epoch(*args)  # the weights change here
        if interrupted:
            ctrl_c()  # the second: abort this epoch
        return result


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_ctrl_c_aborts_the_epoch_and_puts_back_the_last_completed_one(backend, data, monkeypatch):
    X, Y = data
    at = 2
    optimizer = fastbp.SGD(0.1)
    net = fastbp.MLP([5, 4, 1], random_state=0, backend=backend)
    trainer = fastbp.Trainer(net, optimizer, batch_size=10, max_epochs=10, random_state=0)
    if backend == "cython":
        monkeypatch.setattr(CompiledEpochWithCtrlC, "at", at)
        monkeypatch.setattr(fastbp.backends, "EpochKernel", CompiledEpochWithCtrlC)
    else:  # the NumPy backend steps in Python: Ctrl-C at the 3rd and the 6th of the epoch's 12 minibatches
        steps = iter(range(10**6))
        step = fastbp.reference.optimizer_step

        def step_with_ctrl_c(*args):
            step(*args)
            if next(steps) in (at * 12 + 2, at * 12 + 5):
                ctrl_c()

        monkeypatch.setattr(fastbp.reference, "optimizer_step", step_with_ctrl_c)
    with pytest.warns(RuntimeWarning, match=f"interrupted by the user; stopped with {at} completed epochs"):
        history = trainer.fit(X, Y)
    assert trainer.stop_reason == "interrupted" and len(history) == at
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # Weights, velocity and step count are those of `at` uninterrupted epochs.
    uninterrupted = fastbp.Trainer(fastbp.MLP([5, 4, 1], random_state=0, backend=backend), fastbp.SGD(0.1),
                                   batch_size=10, max_epochs=at, random_state=0)
    uninterrupted.fit(X, Y)
    assert_same_training_state(trainer, uninterrupted)


def test_an_interrupt_inside_an_epoch_rolls_it_back(data, monkeypatch):
    """On the NumPy backend a KeyboardInterrupt can land mid-epoch; the epoch is undone, not half-kept."""
    X, Y = data
    net = fastbp.MLP([5, 4, 1], random_state=0, backend="numpy")
    optimizer = fastbp.SGD(0.1)
    trainer = fastbp.Trainer(net, optimizer, batch_size=10, max_epochs=5, random_state=0)
    trainer.fit(X, Y)
    before, velocity, steps = net.params.copy(), optimizer.state_for(net.params)["velocity"].copy(), optimizer.t

    calls = []
    original = fastbp.reference.optimizer_step

    def step_then_interrupt(*args):
        original(*args)
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(fastbp.reference, "optimizer_step", step_then_interrupt)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        history = trainer.fit(X, Y)
    assert len(calls) == 4 and len(history) == 5
    np.testing.assert_array_equal(net.params, before)
    np.testing.assert_array_equal(optimizer.state_for(net.params)["velocity"], velocity)
    assert optimizer.t == steps


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", [fastbp.SGD, fastbp.Adam], ids=["sgd", "adam"])
def test_divergence_raises_and_changes_nothing(backend, optimizer, data, dtype):
    X, Y = data
    X = X * 100
    Y_reg = X[:, :1] ** 3
    net = fastbp.MLP([5, 4, 1], activation="identity", output="identity", dtype=dtype, random_state=0,
                     backend=backend)
    # A huge rate blows up within a few epochs, after at least one finite one; a first fit trains one epoch.
    trainer = fastbp.Trainer(net, optimizer(), batch_size=60, max_epochs=1, random_state=0,
                             schedule=lambda epoch: 1e-9 if epoch == 0 else 1e300)
    trainer.fit(X, Y_reg)
    params, t = net.params.copy(), trainer.optimizer.t
    state = {name: buffer.copy() for name, buffer in trainer.optimizer.state_for(net.params).items()}
    trainer.max_epochs = 100
    with pytest.raises(fastbp.DivergenceError, match="diverged in epoch 1.*Nothing was changed by this fit") as excinfo:
        trainer.fit(X, Y_reg)
    assert isinstance(excinfo.value, ValueError) and isinstance(excinfo.value, FloatingPointError)
    assert excinfo.value.epoch == 1 and excinfo.value.learning_rate == 1e300
    # The model, the optimizer (velocity, or Adam's m and v, and the step count) and the trainer are as before.
    np.testing.assert_array_equal(net.params, params)
    assert len(trainer.history) == trainer.epoch == 1 and trainer.stop_reason == "max_epochs"
    assert trainer.optimizer.t == t == 2
    for name, buffer in trainer.optimizer.state_for(net.params).items():
        assert buffer.any(), name
        np.testing.assert_array_equal(buffer, state[name], err_msg=name)


def test_bad_arguments_fail_before_any_training(data):
    X, Y = data
    net = fastbp.MLP([5, 4, 1], random_state=0)
    before = net.params.copy()
    cases = [
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
        (dict(max_epochs=0), ValueError, "max_epochs must be >= 1"),
        (dict(schedule="cosine"), ValueError, "schedule must be one of"),
        (dict(schedule="adaptive"), ValueError, "schedule='adaptive' .* early_stopping"),
        (dict(alpha=-1.0), ValueError, "alpha must be >= 0"),
        (dict(power_t=float("nan")), ValueError, "power_t must be finite"),
        (dict(validation_fraction=1.0), ValueError, r"validation_fraction must be in \(0, 1\)"),
        (dict(shuffle="yes"), TypeError, "shuffle must be a bool"),
        (dict(random_state="seed"), TypeError, "random_state must be"),
        (dict(n_threads=0), ValueError, "n_threads must be >= 1"),
        (dict(verbose=-1), ValueError, "verbose must be >= 0"),
        (dict(optimizer="sgd"), TypeError, "optimizer must be a fastbp optimizer"),
        (dict(early_stopping="yes"), TypeError, "early_stopping must be a bool or a fastbp.EarlyStopping"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            fastbp.Trainer(net, **kwargs)
    with pytest.raises(TypeError, match="net must be a fastbp.MLP"):
        fastbp.Trainer("net")
    for kwargs, message in [(dict(learning_rate=0.0), "learning_rate must be > 0"),
                            (dict(learning_rate=-1.0), "learning_rate must be > 0")]:
        with pytest.raises(ValueError, match=message):
            fastbp.SGD(**kwargs)
        with pytest.raises(ValueError, match=message):
            fastbp.Adam(**kwargs)
    for beta in ("beta_1", "beta_2"):
        for value in (1.0, -0.1):
            with pytest.raises(ValueError, match=rf"{beta} must be"):
                fastbp.Adam(**{beta: value})

    trainer = fastbp.Trainer(net, max_epochs=3)
    fit_cases = [
        (dict(validation_data=(X[:, :4], Y)), ValueError, r"validation_data\[0\] \(X_val\) has 4 features"),
        (dict(validation_data=(X, Y[:10])), ValueError, r"validation_data\[1\] \(Y_val\) has shape"),
        (dict(validation_data=X), TypeError, "validation_data must be a tuple"),
        (dict(validation_data=(X, Y, -np.ones(120))), ValueError, r"validation_data\[2\].* non-negative"),
        (dict(sample_weight=np.ones(3)), ValueError, r"sample_weight must have shape \(120,\)"),
    ]
    for kwargs, error, message in fit_cases:
        with pytest.raises(error, match=message):
            trainer.fit(X, Y, **kwargs)
    with pytest.raises(ValueError, match="X has 3 features"):
        trainer.fit(X[:, :3], Y)
    with pytest.raises(ValueError, match=r"schedule\(0\) returned -1"):
        fastbp.Trainer(net, schedule=lambda epoch: -1).fit(X, Y)
    with pytest.raises(ValueError, match="either validation_data .* or validation_fraction"):
        fastbp.Trainer(net, validation_fraction=0.2).fit(X, Y, validation_data=(X, Y))
    # scikit-learn's errors, in its order: train_test_split's first (a stratified split of one row cannot hold
    # both classes), then the size of the validation set.
    with pytest.raises(ValueError, match="The test_size = 1 should be greater or equal to the number of classes"):
        fastbp.Trainer(net, validation_fraction=0.01).fit(X[:20], Y[:20])
    regression = fastbp.MLP([5, 4, 1], output="identity", random_state=0)
    with pytest.raises(ValueError, match=r"The validation set is too small\. .* leaves 1 for validation"):
        fastbp.Trainer(regression, validation_fraction=0.01).fit(X[:20], Y[:20])
    with pytest.raises(ValueError, match="the resulting train set will be empty"):
        fastbp.Trainer(regression, validation_fraction=0.99).fit(X[:20], Y[:20])
    np.testing.assert_array_equal(net.params, before)
    assert len(trainer.history) == 0


class CallbackError(Exception):
    pass


def fail():
    raise CallbackError("the callback failed")


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_exception_from_a_callback_changes_nothing(backend, data):
    X, Y = data
    snapshots = Snapshots(fail, at=2)
    net = fastbp.MLP([5, 4, 1], random_state=0, backend=backend)
    initial = net.params.copy()
    trainer = fastbp.Trainer(net, fastbp.Adam(0.01), batch_size=10, max_epochs=10, random_state=0,
                             callbacks=[snapshots])
    with pytest.raises(CallbackError):
        trainer.fit(X, Y)
    # Epochs 0, 1 and 2 completed before the callback of epoch 2 raised; the fit raised, so it changed nothing.
    assert len(snapshots.weights) == 3
    assert len(trainer.history) == 0 and trainer.epoch == 0 and trainer.optimizer.t == 0
    np.testing.assert_array_equal(net.params, initial)
    # The model is free for the next fit, which trains as if the failed one had not happened; the SIGINT handler
    # is back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    trainer.callbacks = ()
    trainer.max_epochs = 3
    trainer.fit(X, Y)
    reference = fastbp.MLP([5, 4, 1], random_state=0, backend=backend)
    fastbp.Trainer(reference, fastbp.Adam(0.01), batch_size=10, max_epochs=3, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(net.params, reference.params)
    assert trainer.epoch == 3


@pytest.mark.parametrize("part", ["training", "validation"])
def test_a_split_that_leaves_a_part_without_weight_is_refused(part, data):
    """Positive weights only on the rows validation_fraction holds out (or only on the others): refused
    by name, as all-zero weights are, instead of epochs that skip every minibatch (or score nothing)."""
    from sklearn.model_selection import train_test_split

    X, Y = data
    # The rows the Trainer holds out: train_test_split's, with the seed's generator (stratified here).
    _, held_out = train_test_split(np.arange(120), test_size=0.25, random_state=np.random.RandomState(0),
                                   stratify=Y)
    weights = np.zeros(120)
    weights[held_out] = 1.0
    if part == "validation":
        weights = 1.0 - weights
    net = fastbp.MLP([5, 4, 1], random_state=0)
    before = net.params.copy()
    trainer = fastbp.Trainer(net, max_epochs=3, random_state=0, validation_fraction=0.25)
    with pytest.raises(ValueError, match=f"sample_weight has no positive weight in the {part} part of the "
                                         r"validation_fraction=0.25 split"):
        trainer.fit(X, Y, sample_weight=weights)
    np.testing.assert_array_equal(net.params, before)
    assert len(trainer.history) == 0
