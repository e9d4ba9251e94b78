"""Callbacks: the protocol, early stopping, checkpoints and the progress display."""

import numpy as np
import pytest

import fastbp


@pytest.fixture
def data(rng):
    X = rng.randn(200, 6)
    Y = (X[:, :1] + 0.3 * rng.randn(200, 1) > 0).astype(float)
    X_val = rng.randn(60, 6)
    Y_val = (X_val[:, :1] > 0).astype(float)
    return X, Y, X_val, Y_val


class Recorder(fastbp.Callback):
    """Remembers every call, and the weights at each epoch end."""

    def __init__(self):
        self.calls, self.weights = [], []

    def on_train_begin(self, trainer):
        self.calls.append("begin")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(epoch)
        self.weights.append(trainer.net.params.copy())

    def on_train_end(self, trainer):
        self.calls.append("end")


def test_protocol_calls_in_order_and_a_true_return_stops(data):
    X, Y, _, _ = data
    recorder = Recorder()

    class StopAtTwo:  # duck-typed: only on_epoch_end
        def on_epoch_end(self, trainer, epoch, logs):
            return epoch == 2

    trainer = fastbp.Trainer(fastbp.MLP([6, 4, 1], random_state=0), batch_size=50, max_epochs=10,
                             random_state=0, callbacks=[recorder, StopAtTwo()])
    history = trainer.fit(X, Y)
    assert recorder.calls == ["begin", 0, 1, 2, "end"]
    assert len(history) == 3 and trainer.stop_reason == "callback"
    np.testing.assert_array_equal(recorder.weights[-1], trainer.net.params)


def test_early_stopping_stops_and_restores_the_best_weights(data):
    X, Y, X_val, Y_val = data
    recorder = Recorder()
    stopper = fastbp.EarlyStopping(monitor="val_loss", n_iter_no_change=3, tol=0.0, restore_best_weights=True)
    # A learning rate this large overfits and oscillates, so the validation loss stops improving early.
    net = fastbp.MLP([6, 32, 1], random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(2.0), batch_size=8, max_epochs=200, random_state=0,
                             early_stopping=stopper, callbacks=[recorder])
    history = trainer.fit(X, Y, validation_data=(X_val, Y_val))

    assert trainer.stop_reason == "early_stopping"
    assert len(history) < 200
    best = int(np.argmin(history.val_loss))
    assert stopper.best_epoch == best and stopper.best == min(history.val_loss)
    # It stopped at the (n_iter_no_change + 1)-th epoch in a row without improvement.
    assert len(history) == best + 1 + 4
    np.testing.assert_array_equal(net.params, recorder.weights[best])
    assert net.loss(X_val, Y_val) == pytest.approx(history.val_loss[best], rel=1e-12)


def test_early_stopping_on_training_loss_follows_the_tolerance(data):
    X, Y, _, _ = data
    # tol larger than any possible improvement: after the first epoch (which beats the initial +inf), every
    # epoch counts as none, so it stops at the third of those: 1 + 3 epochs.
    trainer = fastbp.Trainer(fastbp.MLP([6, 4, 1], random_state=0), max_epochs=50, random_state=0,
                             early_stopping=fastbp.EarlyStopping("loss", n_iter_no_change=2, tol=100.0))
    assert len(trainer.fit(X, Y)) == 4
    assert trainer.early_stopping.n_no_improvement == 3


def test_monitoring_validation_without_validation_data_is_refused_before_training(data):
    X, Y, _, _ = data
    net = fastbp.MLP([6, 4, 1], random_state=0)
    before = net.params.copy()
    trainer = fastbp.Trainer(net, early_stopping=fastbp.EarlyStopping("val_score"))
    with pytest.raises(ValueError, match="'val_score', which needs validation data"):
        trainer.fit(X, Y)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("monitor, validation, watched", [
    ("auto", True, "val_score"), ("auto", False, "loss"), ("loss", True, "loss"), ("val_loss", True, "val_loss"),
    ("val_score", True, "val_score")])
def test_checkpoint_saves_the_best_weights_of_what_it_monitors(monitor, validation, watched, data, tmp_path):
    X, Y, X_val, Y_val = data
    path = tmp_path / "best.npz"
    recorder = Recorder()
    checkpoint = fastbp.Checkpoint(path, monitor=monitor)
    net = fastbp.MLP([6, 32, 1], random_state=0)
    # A rate this large oscillates, so the best epoch is not simply the last.
    trainer = fastbp.Trainer(net, fastbp.SGD(2.0), batch_size=8, max_epochs=15, random_state=0,
                             callbacks=[recorder, checkpoint])
    history = trainer.fit(X, Y, validation_data=(X_val, Y_val) if validation else None)

    values = history[watched]
    best = int(np.argmax(values) if watched == "val_score" else np.argmin(values))  # the first of equals
    assert checkpoint.monitor_ == watched and checkpoint.best_epoch == best and checkpoint.best == values[best]
    loaded = fastbp.load(path)
    assert loaded.layer_sizes == net.layer_sizes and loaded.dtype == net.dtype
    np.testing.assert_array_equal(loaded.params, recorder.weights[best])
    if watched == "val_loss":
        assert loaded.loss(X_val, Y_val) == history.val_loss[best]


# (optimizer, schedule): the invscaling rate after the checkpointed epoch comes from the file's counters.
@pytest.mark.parametrize("make_optimizer, schedule", [(lambda: fastbp.SGD(2.0), "invscaling"),
                                                      (lambda: fastbp.Adam(0.05), "constant")], ids=["sgd", "adam"])
def test_training_resumed_from_a_checkpoint_continues_as_from_that_epoch(make_optimizer, schedule, data, tmp_path):
    X, Y, X_val, Y_val = data
    path = tmp_path / "best.npz"

    def trainer(max_epochs, callbacks=()):
        net = fastbp.MLP([6, 32, 1], random_state=0)
        return fastbp.Trainer(net, make_optimizer(), batch_size=8, max_epochs=max_epochs, random_state=0,
                              schedule=schedule, power_t=0.1, callbacks=callbacks)

    checkpoint = fastbp.Checkpoint(path, monitor="val_loss")
    trainer(15, [checkpoint]).fit(X, Y, validation_data=(X_val, Y_val))
    best = checkpoint.best_epoch
    assert 0 < best < 14  # the rate oscillates: the checkpoint is an epoch in the middle
    # Straight through: the checkpointed epochs, then five more in a second fit.
    straight = trainer(best + 1)
    straight.fit(X, Y)
    straight.max_epochs = 5
    straight.fit(X, Y)
    resumed = trainer(5)
    resumed.restore(path)
    assert (resumed.epoch, resumed.t) == (best + 1, (best + 1) * X.shape[0])
    resumed.fit(X, Y)
    np.testing.assert_array_equal(resumed.net.params, straight.net.params)
    assert resumed.learning_rate == straight.learning_rate


def test_plain_progress_prints_one_line_per_epoch(data, capsys):
    X, Y, X_val, Y_val = data
    trainer = fastbp.Trainer(fastbp.MLP([6, 4, 1], random_state=0), max_epochs=3, random_state=0, verbose=2)
    history = trainer.fit(X, Y, validation_data=(X_val, Y_val))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1 (1/3)") and lines[2].startswith("epoch 3 (3/3)")
    assert f"loss {history.loss[2]:.6f}" in lines[2] and f"val_score {history.val_score[2]:.6f}" in lines[2]


def test_progress_labels_its_lines_and_bar(data, capsys):
    X, Y, _, _ = data
    net = fastbp.MLP([6, 4, 1], random_state=0)
    fastbp.Trainer(net, max_epochs=2, callbacks=[fastbp.ProgressBar(plain=True, desc="run A")]).fit(X, Y)
    fastbp.Trainer(net, max_epochs=2, callbacks=[fastbp.ProgressBar(desc="run B")]).fit(X, Y)
    captured = capsys.readouterr()
    assert [line[:14] for line in captured.out.splitlines()] == ["run A: epoch 1", "run A: epoch 2"]
    assert "run B: 100%" in captured.err and "2/2" in captured.err


def test_progress_bar_uses_tqdm_when_installed(data, capsys):
    # tqdm is a dependency of fastbp.
    X, Y, _, _ = data
    fastbp.Trainer(fastbp.MLP([6, 4, 1], random_state=0), max_epochs=4, random_state=0, verbose=1).fit(X, Y)
    captured = capsys.readouterr()
    assert "4/4" in captured.err and captured.out == ""


def test_progress_falls_back_to_lines_without_tqdm(data, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # makes `from tqdm.auto import tqdm` fail
    X, Y, _, _ = data
    fastbp.Trainer(fastbp.MLP([6, 4, 1], random_state=0), max_epochs=4, random_state=0, verbose=1).fit(X, Y)
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 4 and captured.err == ""


def test_bad_callbacks_are_refused():
    net = fastbp.MLP([2, 1])
    with pytest.raises(TypeError, match=r"callbacks\[1\].*has none of the methods"):
        fastbp.Trainer(net, callbacks=[fastbp.Callback(), object()])
    with pytest.raises(TypeError, match="callbacks must be a list or tuple"):
        fastbp.Trainer(net, callbacks=fastbp.Callback())
    with pytest.raises(ValueError, match="monitor must be one of"):
        fastbp.EarlyStopping(monitor="accuracy")
    with pytest.raises(ValueError, match="n_iter_no_change must be >= 1"):
        fastbp.EarlyStopping(n_iter_no_change=0)
    with pytest.raises(ValueError, match="path: directory .* does not exist"):
        fastbp.Checkpoint("/no/such/dir/best.npz")
