"""Memory: no growth across epochs or repeated fits, no copies of inputs that are already in the model's
dtype and layout, and training workspaces that scale with the batch, not the data."""

import os
import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import fastbp
from fastbp import _validation as v


def _rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


linux_only = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
# AddressSanitizer's quarantine keeps freed memory resident on purpose (CONTRIBUTING.md runs it).
not_under_asan = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                                    reason="resident memory under AddressSanitizer includes its quarantine")


def _data(n=1000, d=20, dtype=np.float64):
    rng = np.random.RandomState(0)
    X = rng.randn(n, d).astype(dtype)
    return X, (X[:, 0] > 0).astype(int)


@linux_only
@not_under_asan
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_repeated_fits_do_not_grow_resident_memory():
    X, y = _data()
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", max_iter=2, random_state=0)
    for _ in range(20):  # warm up allocator pools and caches
        clf.fit(X, y)
    before = _rss()
    for _ in range(200):
        clf.fit(X, y)
        clf.predict_proba(X)
    assert _rss() - before < 4 * 2**20


@linux_only
@not_under_asan
def test_epochs_do_not_grow_resident_memory():
    X, y = _data(n=5000)
    rss = {}

    class Measure(fastbp.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch in (20, 299):
                rss[epoch] = _rss()

    net = fastbp.MLP([20, 64, 1], random_state=0)
    fastbp.Trainer(net, batch_size=32, max_epochs=300, random_state=0, callbacks=[Measure()]).fit(X, y)
    assert rss[299] - rss[20] < 2 * 2**20


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inputs_in_the_models_dtype_and_layout_are_not_copied(dtype, monkeypatch):
    X, y = _data(dtype=dtype)
    assert v.check_X(X, 20, dtype) is X
    Y = y.reshape(-1, 1).astype(dtype)
    assert v.check_Y(Y, 1000, 1, "logistic", dtype) is Y
    net = fastbp.MLP([20, 8, 1], dtype=dtype)
    assert net.check_batch(X, Y).X is X

    seen = []
    original = fastbp.Trainer.fit
    monkeypatch.setattr(fastbp.Trainer, "fit", lambda self, X, *args: seen.append(X) or original(self, X, *args))
    fastbp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, y)
    assert seen[0] is X
    # A Fortran-ordered X is copied once, into the layout the core reads.
    assert not np.shares_memory(v.check_X(np.asfortranarray(X), 20, dtype), X)


def test_training_workspaces_scale_with_the_batch_not_the_data():
    X, y = _data(n=50_000, d=50)  # 20 MB of float64
    Y = y.reshape(-1, 1).astype(float)
    net = fastbp.MLP([50, 64, 1], random_state=0)
    trainer = fastbp.Trainer(net, batch_size=32, max_epochs=2, shuffle=False)
    tracemalloc.start()
    try:
        trainer.fit(X, Y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Batch buffers, activations, deltas and the gradient: tens of kilobytes. The finiteness check of X
    # works in chunks (FINITE_CHUNK booleans at a time).
    assert peak < 1 * 2**20, peak


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sparse_X_is_never_densified():
    """A fit on CSR reads its rows in place: no dense copy of X (400 MB here) and no dense minibatch buffer
    (200 x 5,000, 4 MB). What it allocates is the model, the optimizer state and the snapshot an epoch rolls
    back to (a few copies of the parameters), and small per-batch workspaces."""
    rng = np.random.RandomState(0)
    n, d, nnz = 20_000, 5_000, 200_000
    X = scipy.sparse.csr_matrix((rng.rand(nnz).astype(np.float32), rng.randint(0, d, nnz).astype(np.int32),
                                 np.linspace(0, nnz, n + 1).astype(np.int32)), shape=(n, d))
    y = rng.randint(0, 2, n)
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes  # 1.6 MB
    tracemalloc.start()
    try:
        clf = fastbp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Measured: 1.2 x the CSR's bytes, all of it seven copies of the 160 kB of parameters (the model, the
    # gradient, Adam's moments, the epoch's snapshot of all three) and per-row arrays (labels, shuffle order).
    assert peak < 2 * csr_bytes + 7 * sum(a.nbytes for a in clf.coefs_ + clf.intercepts_), peak
