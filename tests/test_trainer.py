"""The Trainer: the fused epoch against the NumPy loop and scikit-learn, schedules, threads, continuation."""

import warnings

import numpy as np
import pytest

import fastbp

OPTIMIZERS = {
    "sgd": lambda: fastbp.SGD(0.2, momentum=0.0, nesterov=False),
    "momentum": lambda: fastbp.SGD(0.2, momentum=0.9, nesterov=False),
    "nesterov": lambda: fastbp.SGD(0.2, momentum=0.9, nesterov=True),
    "adam": lambda: fastbp.Adam(0.01),
}
SCHEDULES = {
    "constant": lambda: dict(schedule="constant"),
    "invscaling": lambda: dict(schedule="invscaling", power_t=0.4),
    # tol=10 makes every epoch a non-improvement, so the rate is divided by 5 every 2 epochs.
    "adaptive": lambda: dict(schedule="adaptive", early_stopping=fastbp.EarlyStopping("loss", 1, tol=10.0)),
    "callable": lambda: dict(schedule=lambda epoch: 0.3 / (1 + epoch)),
}


def classification_data(rng, n_samples=150, n_features=8, n_outputs=2):
    X = rng.randn(n_samples, n_features)
    Y = (X[:, :n_outputs] + 0.5 * rng.randn(n_samples, n_outputs) > 0).astype(float)
    return X, Y


def train(backend, optimizer, dtype, X, Y, sample_weight=None, epochs=5, **options):
    net = fastbp.MLP([X.shape[1], 7, Y.shape[1]], dtype=dtype, random_state=0, backend=backend)
    trainer = fastbp.Trainer(net, OPTIMIZERS[optimizer](), batch_size=16, max_epochs=epochs, random_state=0,
                             **options)
    history = trainer.fit(X, Y, sample_weight)
    return net, trainer, history


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weights+alpha"])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "in-order"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_backends_give_the_same_weights_after_five_epochs(optimizer, shuffle, weighted, schedule, rng):
    X, Y = classification_data(rng)
    sample_weight = rng.rand(X.shape[0]) if weighted else None
    options = dict(shuffle=shuffle, alpha=0.01 if weighted else 0.0)
    fast, fast_trainer, fast_history = train("cython", optimizer, np.float64, X, Y, sample_weight,
                                             **options, **SCHEDULES[schedule]())
    slow, slow_trainer, slow_history = train("numpy", optimizer, np.float64, X, Y, sample_weight,
                                             **options, **SCHEDULES[schedule]())

    assert not np.array_equal(fast.params, fastbp.MLP([8, 7, 2], random_state=0).params)  # it trained
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast_history.loss, slow_history.loss, rtol=1e-10)
    assert fast_history.learning_rate == slow_history.learning_rate
    assert fast_trainer.optimizer.t == slow_trainer.optimizer.t == 5 * 10  # 150 rows in batches of 16
    if schedule == "adaptive":
        assert fast_history.learning_rate[-1] < fast_history.learning_rate[0]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_backends_agree_in_float32(optimizer, rng):
    X, Y = classification_data(rng)
    sample_weight = rng.rand(X.shape[0])
    fast, _, _ = train("cython", optimizer, np.float32, X, Y, sample_weight, alpha=0.01)
    slow, _, _ = train("numpy", optimizer, np.float32, X, Y, sample_weight, alpha=0.01)
    assert fast.params.dtype == slow.params.dtype == np.float32
    # 50 steps of float32 rounding in different orders: agreement to about 1e-5 of the weights' scale.
    np.testing.assert_allclose(fast.params, slow.params, rtol=0, atol=1e-5 * np.abs(slow.params).max())


def test_zero_weight_minibatches_are_skipped_by_both_backends(rng):
    X, Y = classification_data(rng, n_samples=64)
    sample_weight = np.ones(64)
    sample_weight[16:32] = 0.0  # the whole second minibatch
    results = {}
    for backend in ("cython", "numpy"):
        net, trainer, history = train(backend, "nesterov", np.float64, X, Y, sample_weight, epochs=3,
                                      shuffle=False)
        assert np.isfinite(net.params).all()
        results[backend] = net.params, trainer.optimizer.t
    np.testing.assert_allclose(results["cython"][0], results["numpy"][0], rtol=1e-12)
    assert results["cython"][1] == results["numpy"][1] == 3 * 3  # 4 minibatches, one skipped, per epoch


def sklearn_classifier(**params):
    from sklearn.neural_network import MLPClassifier

    defaults = dict(hidden_layer_sizes=(16,), activation="logistic", batch_size=32, learning_rate_init=0.05,
                    max_iter=12, random_state=0, alpha=1e-3)
    return MLPClassifier(**{**defaults, **params})


SKLEARN_CASES = {
    "nesterov": (dict(solver="sgd"), lambda: fastbp.SGD(0.05), {}),
    "momentum-invscaling": (dict(solver="sgd", nesterovs_momentum=False, momentum=0.5, learning_rate="invscaling",
                                 power_t=0.3),
                            lambda: fastbp.SGD(0.05, 0.5, nesterov=False), dict(schedule="invscaling", power_t=0.3)),
    "adam": (dict(solver="adam"), lambda: fastbp.Adam(0.05), {}),
    "adaptive": (dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=2, tol=10.0),
                 lambda: fastbp.SGD(0.05),
                 dict(schedule="adaptive", early_stopping=fastbp.EarlyStopping("loss", 2, 10.0))),
    "early-stopping": (dict(solver="sgd", early_stopping=True, validation_fraction=0.2, n_iter_no_change=3),
                       lambda: fastbp.SGD(0.05),
                       dict(validation_fraction=0.2,
                            early_stopping=fastbp.EarlyStopping("val_score", 3, 1e-4, restore_best_weights=True))),
}


@pytest.mark.parametrize("case", SKLEARN_CASES)
def test_trajectory_follows_scikit_learn(case, breast_cancer):
    """Same initial weights and the same RandomState stream (init, then split, then shuffles) as
    scikit-learn's MLPClassifier: the shuffles, schedules, stopping rule and weights all match."""
    sklearn_params, optimizer, options = SKLEARN_CASES[case]
    X, Y, _, _ = breast_cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        reference = sklearn_classifier(**sklearn_params).fit(X, Y.ravel().astype(int))
    rng = np.random.RandomState(0)
    net = fastbp.MLP([30, 16, 1], random_state=rng)
    trainer = fastbp.Trainer(net, optimizer(), batch_size=32, max_epochs=12, random_state=rng, alpha=1e-3,
                             **options)
    history = trainer.fit(X, Y)

    assert len(history) == reference.n_iter_
    np.testing.assert_allclose(history.loss, reference.loss_curve_, rtol=1e-10)
    for ours, theirs in zip(net.coefs + net.intercepts, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)
    if reference.early_stopping:
        np.testing.assert_allclose(history.val_score, reference.validation_scores_, rtol=1e-12)
    if sklearn_params.get("learning_rate") in ("invscaling", "adaptive"):
        assert trainer.learning_rate == pytest.approx(reference._optimizer.learning_rate, rel=1e-12)


def test_shuffle_order_is_scikit_learns_running_permutation():
    """With one row per minibatch, plain SGD visits the rows in the epoch's order; replaying that order
    from sklearn.utils.shuffle, applied cumulatively to the running order, gives the same weights."""
    from sklearn.utils import shuffle

    X = np.linspace(-1, 1, 37)[:, None]
    Y = 2 * X + 0.5
    net = fastbp.MLP([1, 1], output="identity", random_state=0)
    fastbp.Trainer(net, fastbp.SGD(0.05, 0.0, False), batch_size=1, max_epochs=3,
                   random_state=np.random.RandomState(3)).fit(X, Y)

    replay = fastbp.MLP([1, 1], output="identity", random_state=0, backend="numpy")
    rng, order = np.random.RandomState(3), np.arange(37)
    for _ in range(3):
        order = shuffle(order, random_state=rng)
        for i in order:
            _, grad = replay.loss_and_grad(X[i:i + 1], Y[i:i + 1])
            replay.params[...] -= 0.05 * grad
    np.testing.assert_allclose(net.params, replay.params, rtol=1e-13)
    in_order = fastbp.MLP([1, 1], output="identity", random_state=0)
    fastbp.Trainer(in_order, fastbp.SGD(0.05, 0.0, False), batch_size=1, max_epochs=3, shuffle=False).fit(X, Y)
    assert not np.allclose(in_order.params, net.params, rtol=1e-6)  # the order matters to this probe


def test_reaches_095_held_out_accuracy_on_breast_cancer(breast_cancer):
    X_train, Y_train, X_test, Y_test = breast_cancer
    net = fastbp.MLP([30, 16, 1], activation="logistic", output="logistic", random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(0.1), batch_size=32, max_epochs=60, random_state=0)
    trainer.fit(X_train, Y_train)
    assert np.mean(net.predict(X_test) == Y_test) >= 0.95


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_thread_invariant_weights_are_bitwise_identical_for_any_thread_count(optimizer, dtype, rng):
    # Wide enough that each minibatch crosses the threshold where the core starts threads, with more
    # parameters (76,304) than the threshold for a threaded optimizer update (65,536).
    X = rng.randn(300, 50)
    Y = (X[:, :4] > 0).astype(float)
    sample_weight = rng.rand(300)
    params = []
    for n_threads in (1, 2, 3):
        net = fastbp.MLP([50, 300, 200, 4], dtype=dtype, random_state=0, thread_invariant=True)
        assert net.n_params == 76304
        fastbp.Trainer(net, OPTIMIZERS[optimizer](), batch_size=64, max_epochs=3, random_state=0, alpha=0.01,
                       n_threads=n_threads).fit(X, Y, sample_weight)
        params.append(net.params)
    np.testing.assert_array_equal(params[0], params[1])
    np.testing.assert_array_equal(params[0], params[2])


def test_default_threads_follow_threadpoolctl_and_omp_num_threads():
    import os
    import subprocess
    import sys

    from threadpoolctl import threadpool_limits

    from fastbp._core._openmp_helpers import openmp_enabled
    from fastbp._threads import plan

    with threadpool_limits(limits=1, user_api="openmp"):
        assert plan(None).n_threads == 1
    code = "from fastbp._threads import plan; print(plan(None).n_threads)"
    for value in ("1", "3"):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": value},
                             capture_output=True, text=True, check=True)
        # A serial build (FASTBP_DISABLE_OPENMP=1) always runs one thread.
        assert out.stdout.strip() == (value if openmp_enabled() else "1")


def test_a_second_fit_continues_where_the_first_ended(rng):
    """Weights, optimizer state, step counts and the schedule carry over. (Shuffling restarts its running
    permutation at each fit, as scikit-learn's does, so this compares in-order epochs.)"""
    X, Y = classification_data(rng)
    for optimizer in OPTIMIZERS:
        whole = fastbp.MLP([8, 7, 2], random_state=0)
        fastbp.Trainer(whole, OPTIMIZERS[optimizer](), batch_size=16, max_epochs=5, shuffle=False,
                       schedule="invscaling").fit(X, Y)
        parts = fastbp.MLP([8, 7, 2], random_state=0)
        trainer = fastbp.Trainer(parts, OPTIMIZERS[optimizer](), batch_size=16, max_epochs=3, shuffle=False,
                                 schedule="invscaling")
        trainer.fit(X, Y)
        trainer.max_epochs = 2
        history = trainer.fit(X, Y)
        np.testing.assert_array_equal(parts.params, whole.params)
        assert [record["epoch"] for record in history.records] == [0, 1, 2, 3, 4]
        assert trainer.epoch == 5 and trainer.t == 5 * X.shape[0]


def test_an_int_random_state_reseeds_each_fit_as_scikit_learn_does(rng):
    X, Y = classification_data(rng)
    first = fastbp.MLP([8, 7, 2], random_state=0)
    trainer = fastbp.Trainer(first, fastbp.SGD(0.1, 0.0, False), batch_size=16, max_epochs=1, random_state=5)
    trainer.fit(X, Y)
    after_one = first.params.copy()
    trainer.fit(X, Y)
    # Replaying both epochs with the same order must give the same result.
    replay = fastbp.MLP([8, 7, 2], random_state=0)
    again = fastbp.Trainer(replay, fastbp.SGD(0.1, 0.0, False), batch_size=16, max_epochs=1, random_state=5)
    again.fit(X, Y)
    np.testing.assert_array_equal(replay.params, after_one)
    again.fit(X, Y)
    np.testing.assert_array_equal(replay.params, first.params)


def test_history_records_every_epoch(rng):
    X, Y = classification_data(rng)
    X_val, Y_val = classification_data(rng, n_samples=40)
    net = fastbp.MLP([8, 7, 2], random_state=0)
    trainer = fastbp.Trainer(net, fastbp.SGD(0.1), batch_size=16, max_epochs=4, random_state=0,
                             schedule=lambda epoch: 0.1 * 0.5**epoch)
    history = trainer.fit(X, Y, validation_data=(X_val, Y_val))
    assert len(history) == 4
    assert history.epoch == [0, 1, 2, 3]
    assert history.learning_rate == [0.1, 0.05, 0.025, 0.0125]
    assert all(t > 0 for t in history.time)
    np.testing.assert_allclose(history.val_loss[-1], net.loss(X_val, Y_val), rtol=1e-14)
    accuracy = np.mean(((net.forward(X_val) > 0.5) == (Y_val > 0.5)).all(axis=1))
    assert history.val_score[-1] == pytest.approx(accuracy)
    assert history["loss"] == history.loss and len(history.loss) == 4
    with pytest.raises(KeyError, match="no 'accuracy'"):
        history["accuracy"]


def test_regression_scores_with_r2(rng):
    from sklearn.metrics import r2_score

    X = rng.randn(120, 5)
    Y = X[:, :2] @ rng.randn(2, 3)
    net = fastbp.MLP([5, 8, 3], activation="tanh", output="identity", random_state=0)
    trainer = fastbp.Trainer(net, fastbp.Adam(0.01), batch_size=20, max_epochs=5, random_state=0,
                             validation_fraction=0.25)
    history = trainer.fit(X, Y)
    assert np.isfinite(history.val_score).all()
    assert trainer.stop_reason == "max_epochs"
    # The held-out rows are those train_test_split picks with the same seed.
    from sklearn.model_selection import train_test_split

    _, X_val, _, Y_val = train_test_split(X, Y, test_size=0.25, random_state=np.random.RandomState(0))
    assert history.val_score[-1] == pytest.approx(r2_score(Y_val, net.forward(X_val)), rel=1e-12)
