"""Model search and out-of-core training on Dask, on a local cluster of two worker processes.

GridSearchCV over the drop-in estimators through joblib's dask backend gives the serial search's scores
exactly, with every fit scored in a worker process; dask_ml's Incremental, which feeds the blocks of a dask
array to partial_fit one after another, gives the weights of the same partial_fit calls made by hand, for
dense blocks and for scipy.sparse CSR blocks.
"""

import os
import re
import subprocess
import sys
import textwrap
import uuid

import joblib
import numpy as np
import pytest
import scipy.sparse
import sklearn.utils
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from _helpers import doc_code_blocks
from fastbp import MLPClassifier, MLPRegressor

_SKIP = "needs the dask extra: pip install 'fastbp[dask]' (dask[distributed], dask-ml)"
da = pytest.importorskip("dask.array", reason=_SKIP)
Incremental = pytest.importorskip("dask_ml.wrappers", reason=_SKIP).Incremental
distributed = pytest.importorskip("distributed", reason=_SKIP)
Client, LocalCluster, get_task_stream = distributed.Client, distributed.LocalCluster, distributed.get_task_stream


@pytest.fixture(scope="module")
def client():
    # Processes, not threads: the estimators, the data and the half-trained Incremental model then cross a
    # process boundary by pickle, as on a real cluster, and a fit that ran in a worker has a pid that cannot
    # be the test's. The Python parts of a fit (lbfgs's loop, checks, scoring) hold the GIL, so two thread
    # workers would partly take turns.
    # distributed starts its workers with spawn; that costs about 2 s, once. It sets OMP_NUM_THREADS=1 (and
    # the BLAS variables) in this process's environment for them and leaves it there: put it back after.
    environ = dict(os.environ)
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _wave():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, (240, 4))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.randn(240)


SEARCHES = {
    "classifier-lbfgs": (MLPClassifier(solver="lbfgs", max_iter=300, random_state=0, n_threads=1), _iris,
                         "neg_log_loss", {"hidden_layer_sizes": [(3,), (8,)], "alpha": [1e-4, 0.1, 1.0]}),
    "regressor-adam": (MLPRegressor(solver="adam", learning_rate_init=0.01, batch_size=32, max_iter=40,
                                    random_state=0, n_threads=1), _wave,
                       "r2", {"hidden_layer_sizes": [(4,), (16,)], "alpha": [1e-4, 1.0]}),
}


def _recording(scoring, folder):
    """`scoring`, which also leaves a file named after the pid of the process that scores (one per fit)."""
    score = get_scorer(scoring)

    def scorer(estimator, X, y):
        (folder / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        return score(estimator, X, y)

    return scorer


def _pids(folder):
    return [int(path.name.split("-")[0]) for path in folder.iterdir()]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", SEARCHES)
def test_grid_search_on_dask_equals_the_serial_search(client, tmp_path, case):
    estimator, load, scoring, grid = SEARCHES[case]
    X, y = load()
    cv, n_candidates = 3, len(grid["hidden_layer_sizes"]) * len(grid["alpha"])
    (here := tmp_path / "serial").mkdir()
    (there := tmp_path / "dask").mkdir()

    serial = GridSearchCV(estimator, grid, cv=cv, scoring=_recording(scoring, here), n_jobs=1).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        search = GridSearchCV(estimator, grid, cv=cv, scoring=_recording(scoring, there)).fit(X, y)

    assert search.best_params_ == serial.best_params_
    assert search.best_score_ == serial.best_score_
    for key in ["mean_test_score", "std_test_score", "rank_test_score"] + [f"split{i}_test_score" for i in range(cv)]:
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key], err_msg=key)
    # The grid matters: every candidate scores differently, so equal best_params_ is not a tie broken alike.
    assert len(np.unique(serial.cv_results_["mean_test_score"])) == n_candidates
    # Every fit was scored once, the serial ones here and the dask ones in the cluster's worker processes.
    workers = set(client.run(os.getpid).values())
    assert len(workers) == 2 and os.getpid() not in workers
    assert _pids(here) == [os.getpid()] * (n_candidates * cv)
    assert len(_pids(there)) == n_candidates * cv and set(_pids(there)) <= workers


CHUNK = 50


@pytest.fixture(scope="module")
def breast_cancer_split():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def _block_order(n_blocks, shuffle_blocks, random_state):
    """The order in which dask_ml.wrappers.Incremental visits the blocks (dask_ml._partial.fit)."""
    order = list(range(n_blocks))
    if shuffle_blocks:
        sklearn.utils.check_random_state(random_state).shuffle(order)
    return order


def _by_hand(model, X, y, order):
    for i in order:
        rows = slice(i * CHUNK, (i + 1) * CHUNK)
        model.partial_fit(X[rows], y[rows], classes=[0, 1])
    return model


def _assert_same_model(actual, desired):
    for a, d in zip(actual.coefs_ + actual.intercepts_, desired.coefs_ + desired.intercepts_):
        np.testing.assert_array_equal(a, d)
    assert (actual.n_iter_, actual.t_, actual.loss_curve_) == (desired.n_iter_, desired.t_, desired.loss_curve_)


@pytest.mark.parametrize("shuffle_blocks", [False, True], ids=["blocks-in-order", "blocks-shuffled"])
def test_incremental_on_dask_equals_partial_fit_by_hand(client, breast_cancer_split, shuffle_blocks):
    X_train, y_train, X_test, y_test = breast_cancer_split
    estimator = MLPClassifier(hidden_layer_sizes=(16,), solver="adam", learning_rate_init=0.01, batch_size=16,
                              random_state=0, n_threads=1)
    X, y = da.from_array(X_train, chunks=(CHUNK, -1)), da.from_array(y_train, chunks=CHUNK)
    n_blocks = len(X.chunks[0])
    assert n_blocks == 9 and X.chunks[0][-1] == 26  # 426 rows: eight full blocks and a short one
    order = _block_order(n_blocks, shuffle_blocks, random_state=0)
    model = Incremental(estimator, shuffle_blocks=shuffle_blocks, random_state=0)

    # Pass 1 from a fresh clone; pass 2 continues from the fitted model, which travels to the workers.
    with get_task_stream(client) as stream:
        model.fit(X, y, classes=[0, 1])
    hand = _by_hand(clone(estimator), X_train, y_train, order)
    _assert_same_model(model.estimator_, hand)
    first_pass = hand.coefs_[0].copy()
    accuracy_one_pass = model.score(X_test, y_test)
    model.partial_fit(X, y, classes=[0, 1])
    _by_hand(hand, X_train, y_train, order)
    _assert_same_model(model.estimator_, hand)
    np.testing.assert_array_equal(model.predict(X_test), hand.predict(X_test))

    # dask_ml names its partial_fit tasks ("fit-<token>", i); each block's ran on a cluster worker.
    fits = [t for t in stream.data if isinstance(t["key"], tuple) and t["key"][0].startswith("fit-")
            and t["key"][1] >= 0]
    assert sorted(t["key"][1] for t in fits) == list(range(n_blocks))
    assert {t["worker"] for t in fits} <= set(client.scheduler_info()["workers"])

    # One epoch per block and call, as scikit-learn counts them: 2 passes of 9 blocks, 2 x 426 samples.
    assert len(model.estimator_.loss_curve_) == 2 * n_blocks and model.estimator_.t_ == 2 * len(y_train)
    # Held-out accuracy (143 samples; the majority class alone scores 0.63): 0.93-0.94 after one pass and
    # 0.95-0.96 after two, depending on the block order.
    assert accuracy_one_pass > 0.9
    assert model.score(X_test, y_test) > 0.93
    if shuffle_blocks:  # the order matters, so equality above means dask_ml took the blocks in this order
        assert order != sorted(order)
        in_order = _by_hand(clone(estimator), X_train, y_train, sorted(order))
        assert not np.allclose(in_order.coefs_[0], first_pass, rtol=1e-3)


def test_the_documented_dask_examples_run(client, tmp_path):
    """The scaling-out page's two Dask examples as one script: the search and, continuing inside its
    __main__ guard with its data, client and import, Incremental's out-of-core fit. The script connects to
    this module's running cluster, as the page's comment shows (Client("tcp://scheduler:8786")), instead of
    starting a second one (seconds of worker start-up)."""
    search, incremental = [block for block in doc_code_blocks("user_guide/scaling_out.rst") if "dask" in block]
    assert search.rstrip().endswith("print(search.best_params_, search.best_score_)")
    search = search.replace("Client(LocalCluster(n_workers=2, threads_per_worker=1))",
                            f"Client({client.scheduler.address!r})")
    assert client.scheduler.address in search
    script = tmp_path / "search.py"
    script.write_text(search + textwrap.indent(incremental + "print(model.estimator_.score(X / 16, y))\n", "    "))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    best, accuracy = result.stdout.splitlines()[-2:]
    params, best_score = re.fullmatch(r"(\{.*\}) ([\d.]+)", best).groups()
    assert set(eval(params)) == {"alpha", "hidden_layer_sizes"} and float(best_score) > 0.9
    assert float(accuracy) > 0.9  # ten passes over the digits, block by block


def test_incremental_on_sparse_blocks_equals_partial_fit_by_hand(client, breast_cancer_split):
    # A dask array whose blocks are scipy.sparse CSR matrices: each reaches partial_fit as CSR.
    X_train, y_train, X_test, y_test = breast_cancer_split
    X_train = np.where(np.abs(X_train) < 0.5, 0, X_train)  # about 40% zeros
    estimator = MLPClassifier(hidden_layer_sizes=(16,), solver="adam", learning_rate_init=0.01, batch_size=16,
                              random_state=0, n_threads=1)
    X = da.from_array(X_train, chunks=(CHUNK, -1)).map_blocks(scipy.sparse.csr_matrix,
                                                               meta=scipy.sparse.csr_matrix((0, 0)))
    y = da.from_array(y_train, chunks=CHUNK)
    model = Incremental(estimator, shuffle_blocks=False).fit(X, y, classes=[0, 1])
    hand = _by_hand(clone(estimator), scipy.sparse.csr_matrix(X_train), y_train, range(len(X.chunks[0])))
    _assert_same_model(model.estimator_, hand)
    dense = _by_hand(clone(estimator), X_train, y_train, range(len(X.chunks[0])))
    for a, d in zip(model.estimator_.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, d, rtol=1e-10, atol=1e-12)
    assert model.score(X_test, y_test) > 0.9
