"""fork(): a process forked after its parent used the core's OpenMP threads fits and predicts on one thread,
with one warning, and gets the results of a one-thread run (GNU OpenMP's pool does not survive fork, so a
child that used it would wait forever). Every scenario runs in a fresh interpreter under a timeout, so a
hang fails here instead of stopping the suite."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from fastbp._core._openmp_helpers import openmp_enabled

SCRIPT = textwrap.dedent("""
    import hashlib, json, multiprocessing as mp, os, warnings
    import numpy as np
    from threadpoolctl import threadpool_limits
    import fastbp
    from fastbp._core._openmp_helpers import threads_started

    # The issue's reproduction: large enough that every product of the fit runs on threads.
    X = np.random.default_rng(0).normal(size=(20000, 200))
    y = (X[:, :1] > 0).astype(float)

    def digest(array):
        return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()

    def fit(n_threads=2):
        net = fastbp.MLP([200, 256, 1], activation="relu", random_state=0, n_threads=n_threads)
        fastbp.Trainer(net, fastbp.SGD(0.01), batch_size=256, max_epochs=1, random_state=0).fit(X, y)
        return digest(net.params)

    def fork_warnings(caught):
        return sum("forked" in str(w.message) for w in caught if issubclass(w.category, RuntimeWarning))

    def in_child(task):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = task()
        return os.getpid(), result, fork_warnings(caught)

    def child_fit(_):
        return in_child(fit)

    def child_fit_one_thread(_):
        return in_child(lambda: fit(n_threads=1))

    def child_predict(_):
        return in_child(lambda: digest(clf.predict_proba(X)))

    def child_forks_again(_):
        def grandchild():
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                os.write(write, fit().encode())
                os._exit(0)
            os.close(write)
            result = os.read(read, 100).decode()
            os.waitpid(pid, 0)
            return result
        return in_child(grandchild)

    out = {"started_before": threads_started()}
    with mp.get_context("fork").Pool(1) as pool:  # before the parent started any team: threads as usual
        out["early"] = pool.map(child_fit, [0])
    out["threaded"] = fit()
    out["one_thread"] = fit(n_threads=1)
    out["started_after"] = threads_started()
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(256,), max_iter=1, random_state=0).fit(X, y.ravel())
    out["predict_threaded"] = digest(clf.predict_proba(X))
    with threadpool_limits(limits=1, user_api="openmp"):
        out["predict_one_thread"] = digest(clf.predict_proba(X))
    with mp.get_context("fork").Pool(2) as pool:
        out["fits"] = pool.map(child_fit, range(4), chunksize=1)
        out["predicts"] = pool.map(child_predict, range(2), chunksize=1)
        out["forks_again"] = pool.map(child_forks_again, range(1))
    with mp.get_context("fork").Pool(1) as pool:  # a new child, which asks for one thread
        out["fits_one_thread"] = pool.map(child_fit_one_thread, range(2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["parent_after"] = fit()
    out["parent_warnings"] = fork_warnings(caught)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def run():
    # Two threads are asked for explicitly (the threshold is the work, not the cores), and OpenMP's default
    # is left alone: "forked before any thread started" must mean that one-thread limits play no part.
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_forked_fits_complete_with_the_results_of_one_thread(run):
    assert {result for _, result, _ in run["fits"]} == {run["one_thread"]}


def test_forked_large_predicts_complete_with_the_results_of_one_thread(run):
    assert {result for _, result, _ in run["predicts"]} == {run["predict_one_thread"]}


def test_a_process_forked_from_a_forked_child_works_too(run):
    assert [result for _, result, _ in run["forks_again"]] == [run["one_thread"]]


@pytest.mark.skipif(not openmp_enabled(), reason="a serial build starts no threads, so nothing changes after fork")
def test_each_forked_child_warns_once_when_it_lowers_the_thread_count(run):
    assert run["started_after"] and not run["started_before"]
    per_child = {}
    for pid, _, n_warnings in run["fits"] + run["predicts"]:
        per_child[pid] = per_child.get(pid, 0) + n_warnings
    assert sorted(per_child.values()) == [1] * len(per_child), per_child
    assert [(result, n_warnings) for _, result, n_warnings in run["fits_one_thread"]] == [(run["one_thread"], 0)] * 2


def test_a_child_forked_before_any_thread_started_keeps_its_threads(run):
    assert [(result, n_warnings) for _, result, n_warnings in run["early"]] == [(run["threaded"], 0)]


def test_the_parent_is_unaffected(run):
    assert run["parent_after"] == run["threaded"] and run["parent_warnings"] == 0
