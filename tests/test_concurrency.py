"""Threads: fits of different models run side by side and match sequential fits; predictions of one model
can run concurrently; a second fit of a model that is being trained is refused."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastbp


def _data(seed, n=400, d=20):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    return X, (X[:, :3].sum(axis=1) > 0).astype(float)


def _fit(seed):
    X, y = _data(seed)
    net = fastbp.MLP([20, 32, 1], random_state=seed)
    fastbp.Trainer(net, fastbp.SGD(0.05), batch_size=16, max_epochs=5, random_state=seed).fit(X, y)
    return net.params


def test_fits_of_different_models_in_threads_match_sequential_fits():
    sequential = [_fit(seed) for seed in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(_fit, range(6)))
    for a, b in zip(threaded, sequential):
        np.testing.assert_array_equal(a, b)


def _wide_fit(setting):
    # Wide enough that the core splits products over threads (default mode) or fixed blocks (thread_invariant).
    n_threads, thread_invariant = setting
    X, y = _data(n_threads, n=600, d=100)
    net = fastbp.MLP([100, 1200, 1], random_state=n_threads, n_threads=n_threads, thread_invariant=thread_invariant)
    fastbp.Trainer(net, fastbp.Adam(0.01), batch_size=300, max_epochs=3, random_state=0).fit(X, y)
    return net.params


def test_concurrent_fits_with_their_own_thread_counts_and_modes_match_sequential_fits():
    # BLAS thread limits are process-wide: fits running at once must not change each other's settings.
    settings = [(n, invariant) for n in (1, 2, 3) for invariant in (False, True)]
    sequential = [_wide_fit(setting) for setting in settings]
    with ThreadPoolExecutor(max_workers=len(settings)) as pool:
        threaded = list(pool.map(_wide_fit, settings))
    for a, b in zip(threaded, sequential):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_predictions_of_one_model_match_sequential_ones():
    X, y = _data(0, n=2000)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X, y)
    chunks = np.array_split(X, 16)
    expected = [clf.predict_proba(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            for got, want in zip(pool.map(clf.predict_proba, chunks), expected):
                np.testing.assert_array_equal(got, want)


class _Pause(fastbp.Callback):
    """Holds the fit inside its first epoch until released, so another thread can try to fit meanwhile."""

    def __init__(self):
        self.inside, self.release = threading.Event(), threading.Event()

    def on_epoch_end(self, trainer, epoch, logs):
        self.inside.set()
        self.release.wait(timeout=30)
        return True


def _while_fitting(start_fit, second_fit):
    pause = _Pause()
    errors = []
    thread = threading.Thread(target=lambda: errors.extend(_catch(lambda: start_fit(pause))))
    thread.start()
    assert pause.inside.wait(timeout=30)
    try:
        with pytest.raises(RuntimeError, match="being trained by another call"):
            second_fit()
    finally:
        pause.release.set()
        thread.join(timeout=30)
    assert not errors, errors


def _catch(function):
    try:
        function()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        return [exc]
    return []


def test_a_second_fit_of_a_model_being_trained_is_refused():
    X, y = _data(0)
    net = fastbp.MLP([20, 32, 1], random_state=0)
    _while_fitting(lambda pause: fastbp.Trainer(net, callbacks=[pause]).fit(X, y),
                   lambda: fastbp.Trainer(net).fit(X, y))
    before = net.params.copy()
    fastbp.Trainer(net, max_epochs=1).fit(X, y)  # free again once the first fit ended
    assert not np.array_equal(before, net.params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_second_fit_of_an_estimator_being_fitted_is_refused():
    X, y = _data(0)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3)
    _while_fitting(lambda pause: clf.set_params(callbacks=[pause]).fit(X, y), lambda: clf.partial_fit(X, y))
    clf.set_params(callbacks=None).fit(X, y)
    assert clf.n_iter_ == 3
