"""Data-parallel training over MPI: `mpiexec -n 2` and `-n 3` runs of `Trainer(comm=...)` and of the
estimators equal single-process training on the same global minibatches, and failures end every rank with
the error instead of a hang."""

import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastbp
from _helpers import doc_code_blocks

pytest.importorskip("mpi4py", reason="needs the mpi extra: pip install 'fastbp[mpi]' (mpi4py, mpich)")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
pytestmark = pytest.mark.skipif(not os.path.exists(MPIEXEC),
                                reason="no mpiexec next to this Python (pip install mpich)")

# A rank that exits with an exception makes mpiexec kill the others, maybe before they print theirs: so each
# rank reports a DistributedError itself and waits for the others before exiting.
PREAMBLE = """
import sys
import numpy as np
from mpi4py import MPI
import fastbp
from fastbp.distributed import DistributedError
comm = MPI.COMM_WORLD

def report_on_every_rank(hook=sys.excepthook):
    def report(kind, error, traceback):
        if kind is DistributedError:
            print(f"rank {comm.rank}: DistributedError: {error}", file=sys.stderr, flush=True)
            comm.Barrier()
        hook(kind, error, traceback)
    sys.excepthook = report

report_on_every_rank()
"""

TRAINER_WORKER = PREAMBLE + textwrap.dedent("""
    case, dtype, optimizer, n_rows, shuffle, out = sys.argv[1:7]
    rng = np.random.RandomState(0)
    X = rng.randn(int(n_rows), 6).astype(dtype)
    Y = (X[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    w = rng.uniform(0.5, 1.5, int(n_rows)).astype(dtype)
    X_val = rng.randn(20, 6).astype(dtype)
    Y_val = (X_val[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    if case == "inputs":  # the last column a categorical code
        X[:, 5], X_val[:, 5] = np.floor(np.abs(X[:, 5]) * 2) % 4, np.floor(np.abs(X_val[:, 5]) * 2) % 4
    shard = slice(comm.rank, None, comm.size)  # rows dealt round-robin
    X, Y, w, X_val, Y_val = X[shard], Y[shard], w[shard], X_val[shard], Y_val[shard]
    if case == "sparse":  # CSR shards, a third of the entries zero
        import scipy.sparse
        X[np.abs(X) < 0.43] = 0
        X, X_val = scipy.sparse.csr_matrix(X), scipy.sparse.csr_array(X_val)
    if case == "features" and comm.rank == 1:
        X = X[:, :4]
    opt = {"sgd": lambda: fastbp.SGD(0.1, momentum=0.9), "adam": lambda: fastbp.Adam(0.01),
           "adamw": lambda: fastbp.AdamW(0.01, weight_decay=0.1)}[optimizer]()
    modern = dict(schedule=fastbp.schedules.WarmupCosine(4, 30), clip_norm=0.3) if optimizer == "adamw" else {}
    if case == "crash" and comm.rank == 1:
        class Failing(type(opt)):  # every step reads the optimizer's state first
            def state_for(self, params):
                if self.t == 3:
                    raise RuntimeError("injected failure")
                return super().state_for(params)
        opt = Failing(0.1)
    callbacks = []
    if case == "callback" and comm.rank == 1:
        class FailingCallback:
            def on_epoch_end(self, trainer, epoch, logs):
                if epoch == 1:
                    raise RuntimeError("the callback failed on rank 1")
        callbacks.append(FailingCallback())
    hidden = 4 if case == "hidden" and comm.rank == 1 else 5
    backend = "numpy" if case == "numpy-backend" else "cython"
    members = dict(ensemble_size=3, ensemble="batch") if case == "ensemble" else {}
    if case == "inputs":
        members = dict(ensemble_size=2, ensemble="mini", categories=[4],
                       embedding=fastbp.embeddings.Periodic(5, 4, n_frequencies=3))
    if case == "bins":  # each rank's bins from its own shard: a model of other bins
        members = dict(embedding=fastbp.embeddings.PiecewiseLinear(fastbp.embeddings.compute_bins(X, 4)))
    net = fastbp.MLP([6, hidden, 1], dtype=dtype, random_state=comm.rank, backend=backend,  # rank 0's are broadcast
                     **members)
    trainer = fastbp.Trainer(net, opt, batch_size=4 * comm.size, max_epochs=3, shuffle=shuffle == "shuffle",
                             random_state=0, alpha=0.01, n_threads=1, callbacks=callbacks, comm=comm, **modern)
    validation = None if case == "no-validation" and comm.rank == 1 else (X_val, Y_val)
    history = trainer.fit(X, Y, w, validation_data=validation)
    everyone = comm.gather(net.params)
    if comm.rank == 0:
        assert all(np.array_equal(p, net.params) for p in everyone), "the ranks' weights differ"
        np.savez(out, params=net.params, loss=history.loss, val_loss=history.val_loss,
                 val_score=history.val_score, t=trainer.t)
""")


def run(tmp_path, worker, n_ranks, *args):
    script = tmp_path / "worker.py"
    script.write_text(worker)
    out = tmp_path / "out.npz"
    result = subprocess.run([MPIEXEC, "-n", str(n_ranks), sys.executable, str(script), *map(str, args), str(out)],
                            capture_output=True, text=True, timeout=120)
    return result, out


def single_process(n_ranks, dtype, optimizer, n_rows, shuffle, zeros=False, backend="cython", members=None):
    """The same global minibatches in one process: step s takes rows s*4 .. s*4+3 of every rank's shard in
    that rank's order, which each rank reshuffles every epoch with its own RandomState(0). `zeros`: the
    workers' "sparse" case, dense here; `members`: an ensemble's options."""
    rng = np.random.RandomState(0)
    X = rng.randn(n_rows, 6).astype(dtype)
    Y = (X[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    w = rng.uniform(0.5, 1.5, n_rows).astype(dtype)
    X_val = rng.randn(20, 6).astype(dtype)
    Y_val = (X_val[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    if zeros:
        X[np.abs(X) < 0.43] = 0
    if members and "categories" in members:
        X[:, 5], X_val[:, 5] = np.floor(np.abs(X[:, 5]) * 2) % 4, np.floor(np.abs(X_val[:, 5]) * 2) % 4
    shards = [np.arange(n_rows)[r::n_ranks] for r in range(n_ranks)]
    rngs = [np.random.RandomState(0) for _ in shards]
    net = fastbp.MLP([6, 5, 1], dtype=dtype, random_state=0, backend=backend, **(members or {}))
    opt = {"sgd": lambda: fastbp.SGD(0.1, momentum=0.9), "adam": lambda: fastbp.Adam(0.01),
           "adamw": lambda: fastbp.AdamW(0.01, weight_decay=0.1)}[optimizer]()
    schedule = fastbp.schedules.WarmupCosine(4, 30) if optimizer == "adamw" else None
    n_steps = max(-(-len(s) // 4) for s in shards)
    record = {"loss": [], "val_loss": [], "val_score": []}
    for _ in range(3):
        if shuffle:
            for r, shard_rng in enumerate(rngs):
                permutation = np.arange(len(shards[r]))
                shard_rng.shuffle(permutation)
                shards[r] = shards[r][permutation]
        total = 0.0
        for step in range(n_steps):
            rows = np.concatenate([s[step * 4:(step + 1) * 4] for s in shards])
            loss, grad = net.loss_and_grad(X[rows], Y[rows], w[rows], alpha=0.01)
            rate = None
            if schedule is not None:  # per-step rate, then clipping to norm 0.3 as torch's clip_grad_norm_
                rate = schedule.rate(opt.t, opt.learning_rate)
                grad *= min(1.0, 0.3 / (np.linalg.norm(grad) + 1e-6))
            opt.step(net.params, grad, rate, layout=net.layout)
            total += loss * len(rows)
        record["loss"].append(total / n_rows)
        record["val_loss"].append(net.loss(X_val, Y_val))
        record["val_score"].append(np.mean((net.forward(X_val) > 0.5) == (Y_val > 0.5)))
    return net.params, record


@pytest.mark.parametrize("n_ranks, n_rows", [(2, 50), (3, 50)], ids=["2-ranks", "3-ranks-uneven"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_mpi_training_equals_single_process_training(tmp_path, n_ranks, n_rows, optimizer):
    result, out = run(tmp_path, TRAINER_WORKER, n_ranks, "ok", "float64", optimizer, n_rows, "in-order")
    assert result.returncode == 0, result.stderr
    expected_params, expected = single_process(n_ranks, "float64", optimizer, n_rows, shuffle=False)
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-12)
        assert got["t"] == 3 * n_rows  # every rank's rows are counted


def test_each_rank_reshuffles_its_shard_and_validation_is_scored_as_one_set(tmp_path):
    result, out = run(tmp_path, TRAINER_WORKER, 3, "ok", "float64", "adam", 50, "shuffle")
    assert result.returncode == 0, result.stderr
    expected_params, expected = single_process(3, "float64", "adam", 50, shuffle=True)
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)


def test_mpi_training_on_sparse_shards_equals_single_process_training(tmp_path):
    result, out = run(tmp_path, TRAINER_WORKER, 3, "sparse", "float64", "adam", 50, "shuffle")
    assert result.returncode == 0, result.stderr
    expected_params, expected = single_process(3, "float64", "adam", 50, shuffle=True, zeros=True)
    with np.load(out) as got:
        # The sparse first layer sums in another order than BLAS: equal to rounding.
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-10, atol=1e-12)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_mpi_training_on_the_numpy_backend_equals_single_process_training(tmp_path, optimizer):
    # The backends share one contract, the share of a total weight included: the reference trains over MPI too.
    result, out = run(tmp_path, TRAINER_WORKER, 3, "numpy-backend", "float64", optimizer, 50, "shuffle")
    assert result.returncode == 0, result.stderr
    expected_params, expected = single_process(3, "float64", optimizer, 50, shuffle=True, backend="numpy")
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)


def test_mpi_training_of_an_ensemble_equals_single_process_training(tmp_path):
    """TabM over 3 ranks, with AdamW's decay on the weights and scalings (not the biases), a per-step schedule
    and clipping: the members' gradients are summed over the ranks like any other."""
    result, out = run(tmp_path, TRAINER_WORKER, 3, "ensemble", "float64", "adamw", 50, "shuffle")
    assert result.returncode == 0, result.stderr
    expected_params, expected = single_process(3, "float64", "adamw", 50, shuffle=True,
                                               members=dict(ensemble_size=3, ensemble="batch"))
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)


def test_mpi_training_in_float32(tmp_path):
    result, out = run(tmp_path, TRAINER_WORKER, 2, "ok", "float32", "sgd", 50, "in-order")
    assert result.returncode == 0, result.stderr
    expected_params, _ = single_process(2, "float32", "sgd", 50, shuffle=False)
    with np.load(out) as got:
        assert got["params"].dtype == np.float32
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-4, atol=1e-5)


def test_a_shard_with_the_wrong_features_ends_every_rank_with_the_error(tmp_path):
    result, _ = run(tmp_path, TRAINER_WORKER, 2, "features", "float64", "sgd", 50, "in-order")
    assert result.returncode != 0
    # Both ranks raise the same error, naming the rank whose shard is wrong.
    for rank in (0, 1):
        assert f"rank {rank}: DistributedError: rank 1: X has 4 features, but the network expects 6" in result.stderr


@pytest.mark.parametrize("case, message", [
    ("hidden", "every rank must have the same network: rank 0 has MLP([6, 5, 1], activation='logistic', output="
               "'logistic', dtype='float64', backend='cython'), rank 1 has MLP([6, 4, 1]"),
    ("no-validation", "every rank must have the same validation data: rank 0 has True, rank 1 has False"),
    ("bins", "every rank must have the same embedding (digest): rank 0 has")])
def test_ranks_that_would_train_differently_raise_the_same_error(tmp_path, case, message):
    result, _ = run(tmp_path, TRAINER_WORKER, 2, case, "float64", "sgd", 50, "in-order")
    assert result.returncode != 0
    for rank in (0, 1):
        assert f"rank {rank}: DistributedError: {message}" in result.stderr


@pytest.mark.parametrize("case, message", [("crash", "RuntimeError: injected failure"),
                                           ("callback", "RuntimeError: the callback failed on rank 1")])
def test_a_failing_rank_ends_the_job_instead_of_a_hang(tmp_path, case, message):
    """An exception on one rank inside an epoch (its optimizer) or between epochs (its callback, while the other
    rank waits in the next epoch's collective calls) prints its traceback and aborts every rank."""
    result, _ = run(tmp_path, TRAINER_WORKER, 2, case, "float64", "sgd", 50, "in-order")  # timeout: a hang
    assert result.returncode != 0
    assert "rank 1 of 2 failed; aborting every rank" in result.stderr and message in result.stderr


def test_trainer_comm_must_be_a_communicator():
    with pytest.raises(TypeError, match="comm must be an mpi4py intracommunicator"):
        fastbp.Trainer(fastbp.MLP([2, 1]), comm="world")


# --- the estimators inside an MPI job ------------------------------------------------------------------------

# Three classes in contiguous blocks of rows: rank 0's shard has no class 2 and rank 1's none of class 0, so
# the classes and the balanced class weights must come from both shards.
ESTIMATOR_DATA = """
def data():
    rng = np.random.RandomState(1)
    X = rng.randn(60, 5)
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.4, 0.4])
    order = np.argsort(X[:, 0] + 0.3 * X[:, 1], kind="stable")
    return X[order], y[order]

PARAMS = dict(hidden_layer_sizes=(7,), activation="tanh", alpha=1e-3, batch_size=10, max_iter=8,
              shuffle=False, random_state=0, n_threads=1, class_weight="balanced")
PARAMS_REGRESSOR = {key: value for key, value in PARAMS.items() if key != "class_weight"}
SOLVERS = {"sgd": dict(solver="sgd", learning_rate_init=0.1), "adam": dict(solver="adam", learning_rate_init=0.05),
           "lbfgs": dict(solver="lbfgs", max_iter=15)}
# Early stopping on the validation accuracy of 2 x 6 held-out rows: it stops well before max_iter.
EARLY_STOPPING = dict(PARAMS, **SOLVERS["adam"], class_weight=None, early_stopping=True, validation_fraction=0.2,
                      max_iter=40)
"""

ESTIMATOR_WORKER = PREAMBLE + ESTIMATOR_DATA + textwrap.dedent("""
    import warnings
    warnings.simplefilter("ignore")  # ConvergenceWarning: few iterations on purpose
    case, out = sys.argv[1:3]
    X, y = data()
    X, y = np.array_split(X, comm.size)[comm.rank], np.array_split(y, comm.size)[comm.rank]
    target = X[:, 0] - X[:, 1]
    if case == "sparse":
        import scipy.sparse
        X = scipy.sparse.csr_matrix(X)
    results = {}
    if case == "features":
        X = X[:, :4] if comm.rank == 1 else X
        fastbp.MLPClassifier(**PARAMS, comm=comm).fit(X, y)
    else:
        for solver, settings in SOLVERS.items():
            clf = fastbp.MLPClassifier(**{**PARAMS, **settings}, comm=comm).fit(X, y)
            params = np.concatenate([a.ravel() for a in clf.coefs_ + clf.intercepts_])
            everyone = comm.gather(params)
            if comm.rank == 0:
                assert all(np.array_equal(p, params) for p in everyone), "the ranks' weights differ"
            results[solver] = params
            results[solver + "_classes"] = clf.classes_
        # partial_fit, twice, and the regressor, on the same shards.
        clf = fastbp.MLPClassifier(**{**PARAMS, **SOLVERS["adam"], "class_weight": None}, comm=comm)
        for _ in range(2):
            clf.partial_fit(X, y, classes=[0, 1, 2])
        reg = fastbp.MLPRegressor(**{**PARAMS_REGRESSOR, **SOLVERS["sgd"]}, comm=comm).fit(X, target)
        for name, model in (("partial_fit", clf), ("regressor", reg)):
            results[name] = np.concatenate([a.ravel() for a in model.coefs_ + model.intercepts_])
        clf = fastbp.MLPClassifier(**EARLY_STOPPING, comm=comm).fit(X, y)
        results["early_stopping"] = np.concatenate([a.ravel() for a in clf.coefs_ + clf.intercepts_])
        results["early_stopping_scores"] = np.array(clf.validation_scores_)
        results["early_stopping_n_iter"] = np.array(clf.n_iter_)
        # Inputs every rank must refuse together (a DistributedError each), then go on.
        empty = slice(0, 0 if comm.rank == 1 else None)
        def trainer(batch_size=32):
            return fastbp.Trainer(fastbp.MLP([5, 3, 1]), batch_size=batch_size, comm=comm)
        refused = {
            "empty shard, estimator": lambda: fastbp.MLPClassifier(**PARAMS, comm=comm).fit(X[empty], y[empty]),
            "empty shard, Trainer": lambda: trainer().fit(X[empty], y[empty] > 0),
            "batch_size 1, estimator": lambda: fastbp.MLPClassifier(**{**PARAMS, "batch_size": 1}, comm=comm).fit(X, y),
            "batch_size 1, Trainer": lambda: trainer(batch_size=1).fit(X, y > 0),
        }
        messages = []
        for name, fit in refused.items():
            try:
                fit()
                messages.append(f"{name}: no error")
            except DistributedError as error:
                messages.append(f"{name}: {error}")
        everyone = comm.gather(messages)
        if comm.rank == 0:
            results["refused"] = np.array([[f"rank {r}: {m}" for m in ms] for r, ms in enumerate(everyone)])
    if comm.rank == 0:
        np.savez(out, **results)
""")


def estimator_single_process(case):
    namespace = {"np": np}
    exec(ESTIMATOR_DATA, namespace)
    X, y = namespace["data"]()
    params, solvers = namespace["PARAMS"], namespace["SOLVERS"]
    # The global minibatches of two ranks holding rows 0-29 and 30-59, 5 rows each per step of 10.
    order = np.concatenate([np.r_[5 * s:5 * s + 5, 30 + 5 * s:30 + 5 * s + 5] for s in range(6)])
    X, y = X[order], y[order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case == "partial_fit":
            model = fastbp.MLPClassifier(**{**params, **solvers["adam"], "class_weight": None})
            for _ in range(2):
                model.partial_fit(X, y, classes=[0, 1, 2])
        elif case == "regressor":
            model = fastbp.MLPRegressor(**{**namespace["PARAMS_REGRESSOR"], **solvers["sgd"]}).fit(X, X[:, 0] - X[:, 1])
        else:
            model = fastbp.MLPClassifier(**{**params, **solvers[case]}).fit(X, y)
    return np.concatenate([a.ravel() for a in model.coefs_ + model.intercepts_])


def _estimator_worker_results(tmp_path, mode):
    """The arrays ESTIMATOR_WORKER saves from a 2-rank job in `mode`."""
    result, out = run(tmp_path, ESTIMATOR_WORKER, 2, mode)
    assert result.returncode == 0, result.stderr
    with np.load(out) as got:
        return dict(got)


@pytest.fixture(scope="module")
def estimator_run(tmp_path_factory):
    return _estimator_worker_results(tmp_path_factory.mktemp("estimators"), "equal")


@pytest.fixture(scope="module")
def sparse_estimator_run(tmp_path_factory):
    return _estimator_worker_results(tmp_path_factory.mktemp("sparse-estimators"), "sparse")


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_estimator_fit_in_an_mpi_job_equals_single_process_fit(estimator_run, solver):
    # Each rank's shard lacks one of the three classes; classes and class weights come from both.
    np.testing.assert_array_equal(estimator_run[solver + "_classes"], [0, 1, 2])
    # lbfgs too: its 15 iterations' line searches take the same steps (measured: 5e-14 apart at most, with
    # weights up to 6.5).
    np.testing.assert_allclose(estimator_run[solver], estimator_single_process(solver), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["partial_fit", "regressor"])
def test_partial_fit_and_the_regressor_in_an_mpi_job_equal_single_process_training(estimator_run, case):
    np.testing.assert_allclose(estimator_run[case], estimator_single_process(case), rtol=1e-12, atol=1e-12)


def early_stopping_single_process():
    """(weights, validation scores, n_iter_) of EARLY_STOPPING's fit over MPI, in one process: each rank split
    its 30 rows with its own RandomState(0) after drawing the initial weights; the global minibatches take 5
    training rows of each rank's part in turn; the validation rows of both ranks are scored as one set."""
    from sklearn.model_selection import train_test_split

    namespace = {"np": np}
    exec(ESTIMATOR_DATA, namespace)
    X, y = namespace["data"]()
    params = namespace["EARLY_STOPPING"]
    parts = []
    for X_rank, y_rank in zip(np.array_split(X, 2), np.array_split(y, 2)):
        rng = np.random.RandomState(0)
        fastbp.MLP([5, 7, 3], "tanh", "softmax", random_state=rng)  # the estimator's first draws
        parts.append(train_test_split(X_rank, np.eye(3)[y_rank], test_size=0.2, random_state=rng))  # not stratified
    (X0, _, Y0, _), (X1, _, Y1, _) = parts
    order = [rows for s in range(0, len(X0), 5) for rows in ((X0, Y0, s), (X1, Y1, s))]
    X_train = np.concatenate([Xr[s:s + 5] for Xr, _, s in order])
    Y_train = np.concatenate([Yr[s:s + 5] for _, Yr, s in order])
    X_val, Y_val = np.concatenate([parts[0][1], parts[1][1]]), np.concatenate([parts[0][3], parts[1][3]])
    net = fastbp.MLP([5, 7, 3], "tanh", "softmax", random_state=0)
    # The estimators' early stopping with their default n_iter_no_change=10 and tol=1e-4.
    stopper = fastbp.EarlyStopping("val_score", n_iter_no_change=10, tol=1e-4, restore_best_weights=True)
    trainer = fastbp.Trainer(net, fastbp.Adam(params["learning_rate_init"]), batch_size=10,
                             max_epochs=params["max_iter"], shuffle=False, alpha=params["alpha"],
                             early_stopping=stopper)
    history = trainer.fit(X_train, Y_train, validation_data=(X_val, Y_val))
    return net.params, history.val_score, len(history)


def test_estimator_early_stopping_in_an_mpi_job_decides_as_one_process(estimator_run):
    """The validation score covers both ranks' held-out rows, so every rank stops at the same epoch, the one a
    single process with all the rows stops at, with the same weights (the best epoch's)."""
    params, scores, n_iter = early_stopping_single_process()
    assert estimator_run["early_stopping_n_iter"] == n_iter < 40  # it stopped early
    np.testing.assert_allclose(estimator_run["early_stopping_scores"], scores, rtol=1e-12)
    np.testing.assert_allclose(estimator_run["early_stopping"], params, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case, message", [
    ("empty shard, estimator", "rank 1: X is empty: it has 0 samples"),
    ("empty shard, Trainer", "rank 1: X is empty: it has 0 samples"),
    ("batch_size 1, estimator", "batch_size=1 is smaller than the 2 ranks"),
    ("batch_size 1, Trainer", "batch_size=1 is smaller than the 2 ranks")])
def test_inputs_no_rank_can_train_on_are_refused_on_every_rank(estimator_run, case, message):
    """An empty shard, or a global minibatch with fewer rows than ranks: the same DistributedError on every
    rank (which then goes on), not an abort of the job or a hang."""
    for rank, messages in enumerate(estimator_run["refused"]):
        reported = [m for m in messages if m.startswith(f"rank {rank}: {case}: ")]
        assert len(reported) == 1 and message in reported[0], messages


@pytest.mark.parametrize("case, rtol", [("sgd", 1e-10), ("adam", 1e-10), ("lbfgs", 1e-8), ("partial_fit", 1e-10),
                                        ("regressor", 1e-10)])
def test_estimators_on_sparse_shards_in_an_mpi_job_equal_single_process_fits(sparse_estimator_run, case, rtol):
    # CSR shards; the single-process fits are dense. Equal to rounding: the sparse first layer sums in
    # another order than BLAS.
    np.testing.assert_allclose(sparse_estimator_run[case], estimator_single_process(case), rtol=rtol, atol=rtol)


def test_early_stopping_on_sparse_shards_in_an_mpi_job_decides_as_one_process(sparse_estimator_run):
    # Each rank splits its CSR shard (rows of a CSR matrix) and scores its validation rows as CSR.
    params, scores, n_iter = early_stopping_single_process()
    assert sparse_estimator_run["early_stopping_n_iter"] == n_iter
    np.testing.assert_allclose(sparse_estimator_run["early_stopping_scores"], scores, rtol=1e-10)
    np.testing.assert_allclose(sparse_estimator_run["early_stopping"], params, rtol=1e-10, atol=1e-10)


def test_estimator_shard_with_the_wrong_features_ends_every_rank_with_the_error(tmp_path):
    result, _ = run(tmp_path, ESTIMATOR_WORKER, 2, "features")
    assert result.returncode != 0
    for rank in (0, 1):
        assert (f"rank {rank}: DistributedError: every rank must have the same number of features in X: "
                "rank 0 has 5, rank 1 has 4") in result.stderr


# --- what the docs run --------------------------------------------------------------------------------------


def test_the_demo_trains_over_two_ranks():
    result = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "fastbp.distributed", "--demo"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    first, last, accuracy = map(float, re.search(r"2 ranks, \d+ thread\(s\) each: epoch loss ([\d.]+) -> ([\d.]+), "
                                                 r"held-out accuracy ([\d.]+)", result.stdout).groups())
    assert last < first / 5 and accuracy > 0.95
    # OpenMP threads per rank: the cores this process may use, divided by the 2 ranks.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert int(re.search(r"(\d+) thread", result.stdout).group(1)) == max(1, cores // 2)


def test_the_documented_mpi_example_runs_on_two_ranks(tmp_path):
    example = next(block for block in doc_code_blocks("user_guide/scaling_out.rst") if "mpiexec" in block)
    result, _ = run(tmp_path, example, 2)
    assert result.returncode == 0, result.stderr
    n_iter, loss = result.stdout.split()
    assert int(n_iter) > 10 and float(loss) < 0.1


# --- one rank, in this process ---------------------------------------------------------------------------------


def test_one_rank_follows_the_compiled_epoch_through_validation_and_schedules():
    from mpi4py import MPI
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    runs = []
    for comm in (None, MPI.COMM_WORLD):
        net = fastbp.MLP([30, 8, 1], random_state=0)
        trainer = fastbp.Trainer(net, fastbp.SGD(0.05), batch_size=50, max_epochs=40, random_state=0, alpha=0.01,
                                 schedule="adaptive", early_stopping=True, validation_fraction=0.2, comm=comm)
        runs.append((trainer.fit(X, y), net.params, trainer))
    (expected, expected_params, reference), (got, params, trainer) = runs
    assert len(got) == len(expected) and trainer.stop_reason == reference.stop_reason
    for key in ("loss", "val_loss", "val_score", "learning_rate"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, err_msg=key)
    np.testing.assert_allclose(params, expected_params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("Estimator", [fastbp.MLPClassifier, fastbp.MLPRegressor])
def test_estimator_comm_must_be_a_communicator(Estimator):
    with pytest.raises(TypeError, match="comm must be an mpi4py intracommunicator.*got 'world'"):
        Estimator(comm="world").fit([[0.0], [1.0]], [0, 1])


def test_mpi_training_with_an_embedding_and_categories_equals_single_process_training(tmp_path):
    """TabM-mini reading a periodic embedding and a categorical column over 3 ranks."""
    result, out = run(tmp_path, TRAINER_WORKER, 3, "inputs", "float64", "adamw", 50, "shuffle")
    assert result.returncode == 0, result.stderr
    members = dict(ensemble_size=2, ensemble="mini", categories=[4],
                   embedding=fastbp.embeddings.Periodic(5, 4, n_frequencies=3))
    expected_params, expected = single_process(3, "float64", "adamw", 50, shuffle=True, members=members)
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)
