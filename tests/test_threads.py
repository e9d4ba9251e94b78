"""Threads and reproducibility: by default results repeat bitwise run to run for a given thread count; with
thread_invariant=True they are also bitwise equal for any thread count (the threads page). The thread
count is checked and capped."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastbp
from _helpers import ACTIVATIONS, OUTPUTS, make_targets
from _oracle import assert_close, error_bounds

THREAD_COUNTS = (1, 2, 3)
# Large enough that every product and elementwise pass crosses the thresholds where the core starts threads,
# with a wide (300) and a narrow (120) hidden layer, so both cuts of each product occur.
SIZES, N_SAMPLES = [50, 300, 120, 4], 600


def _passes(net, X, Y, sw):
    """Everything one network computes from the data: forward, loss, loss_and_grad."""
    loss, grad = net.loss_and_grad(X, Y, sw, alpha=0.1)
    return [net.forward(X), net.loss(X, Y, sw, alpha=0.1), loss, grad]


def _assert_all_equal(results):
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_thread_invariant_passes_are_bitwise_equal_for_any_thread_count(activation, output, dtype, rng):
    X = rng.randn(N_SAMPLES, SIZES[0])
    Y = make_targets(output, N_SAMPLES, SIZES[-1], rng)
    sw = rng.rand(N_SAMPLES)
    _assert_all_equal([_passes(fastbp.MLP(SIZES, activation, output, dtype=dtype, random_state=0, n_threads=n,
                                          thread_invariant=True), X, Y, sw) for n in THREAD_COUNTS])


@pytest.mark.parametrize("n_threads", THREAD_COUNTS)
@pytest.mark.parametrize("thread_invariant", [False, True])
def test_passes_repeat_bitwise_for_a_thread_count(thread_invariant, n_threads, dtype, rng):
    X = rng.randn(N_SAMPLES, SIZES[0])
    Y = make_targets("softmax", N_SAMPLES, SIZES[-1], rng)
    sw = rng.rand(N_SAMPLES)
    _assert_all_equal([_passes(fastbp.MLP(SIZES, "tanh", "softmax", dtype=dtype, random_state=0, n_threads=n_threads,
                                          thread_invariant=thread_invariant), X, Y, sw) for _ in range(2)])


# name: (optimizer, alpha). Plain SGD without a penalty takes the core's fused step (W += -lr dW in the product).
OPTIMIZERS = {"sgd": (lambda: fastbp.SGD(0.05), 1e-3), "adam": (lambda: fastbp.Adam(0.01), 1e-3),
              "plain-sgd": (lambda: fastbp.SGD(0.05, momentum=0.0), 0.0)}


def _trainer_fit(n_threads, thread_invariant, dtype, optimizer):
    rng = np.random.RandomState(0)
    X = rng.randn(500, SIZES[0])
    Y = make_targets("logistic", 500, 2, rng)
    net = fastbp.MLP([SIZES[0], 300, 120, 2], "relu", dtype=dtype, random_state=0, n_threads=n_threads,
                     thread_invariant=thread_invariant)
    make_optimizer, alpha = OPTIMIZERS[optimizer]
    history = fastbp.Trainer(net, make_optimizer(), batch_size=200, max_epochs=3, random_state=0, alpha=alpha,
                             validation_fraction=0.2).fit(X, Y)
    return [net.params, np.array(history.loss), np.array(history.val_loss)]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_thread_invariant_training_is_bitwise_equal_for_any_thread_count(optimizer, dtype):
    _assert_all_equal([_trainer_fit(n, True, dtype, optimizer) for n in THREAD_COUNTS])


@pytest.mark.parametrize("optimizer", ["adam", "plain-sgd"])
@pytest.mark.parametrize("n_threads", THREAD_COUNTS)
def test_default_training_repeats_bitwise_for_a_thread_count(n_threads, optimizer, dtype):
    _assert_all_equal([_trainer_fit(n_threads, False, dtype, optimizer) for _ in range(2)])


def _estimator_fit(solver, n_threads, thread_invariant):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(300, 130), solver=solver, max_iter=3, random_state=0,
                               n_threads=n_threads, thread_invariant=thread_invariant, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # three epochs, on purpose
        clf.fit(X / 16, y)
    return [*clf.coefs_, *clf.intercepts_, clf.predict_proba(X[:50] / 16)]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_thread_invariant_estimators_are_bitwise_equal_for_any_thread_count(solver):
    _assert_all_equal([_estimator_fit(solver, n, True) for n in THREAD_COUNTS])


def test_default_estimator_fits_repeat_bitwise_for_a_thread_count():
    for n_threads in (1, 2):
        _assert_all_equal([_estimator_fit("adam", n_threads, False) for _ in range(2)])


@pytest.mark.parametrize("thread_invariant", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_blocked_passes_match_the_reference(activation, thread_invariant, dtype, rng):
    # Work above the threading threshold, so the core cuts it into blocks: by columns and by rows, for wide
    # (300, 200 units) and narrow (100 units) layers and for the loss.
    sizes = [40, 300, 100, 200, 3]
    net = fastbp.MLP(sizes, activation, "softmax", dtype=dtype, random_state=0, n_threads=2,
                     thread_invariant=thread_invariant)
    ref = net.copy(backend="numpy")
    X = rng.randn(130, sizes[0])
    Y = make_targets("softmax", 130, sizes[-1], rng)
    sw = rng.rand(130)
    loss, grad = net.loss_and_grad(X, Y, sw, alpha=0.1)
    ref_loss, ref_grad = ref.loss_and_grad(X, Y, sw, alpha=0.1)
    forward_bound, loss_bound, grad_bound = error_bounds(net, X, Y, sw, alpha=0.1)
    assert_close(net.forward(X), ref.forward(X), dtype, "forward", forward_bound)
    assert_close(loss, ref_loss, dtype, "loss", loss_bound)
    assert_close(grad, ref_grad, dtype, "grad", grad_bound)


@pytest.mark.parametrize("thread_invariant", [False, True])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("n_samples", [20, 130], ids=["one-block", "blocked"])
def test_loss_without_gradient_equals_the_objective_of_loss_and_grad(backend, n_samples, thread_invariant, dtype,
                                                                     rng):
    # `loss` runs a forward pass only; it must give exactly the objective the backward pass reports.
    sizes = [40, 300, 100, 3]
    net = fastbp.MLP(sizes, "tanh", "softmax", dtype=dtype, random_state=0, backend=backend, n_threads=2,
                     thread_invariant=thread_invariant)
    X = rng.randn(n_samples, sizes[0])
    Y = make_targets("softmax", n_samples, sizes[-1], rng)
    sw = rng.rand(n_samples)
    assert net.loss(X, Y, sw, alpha=0.3) == net.loss_and_grad(X, Y, sw, alpha=0.3)[0]
    assert net.loss(X, Y) == net.loss_and_grad(X, Y)[0]


def test_thread_invariant_must_be_a_bool():
    with pytest.raises(TypeError, match="thread_invariant must be a bool"):
        fastbp.MLP([2, 1], thread_invariant="yes")


def test_copies_pickles_and_files_keep_thread_invariant(tmp_path):
    import pickle

    net = fastbp.MLP([3, 2, 1], random_state=0, thread_invariant=True)
    net.save(tmp_path / "net.npz")
    for other in (net.copy(), pickle.loads(pickle.dumps(net)), fastbp.load(tmp_path / "net.npz")):
        assert other.thread_invariant is True
        np.testing.assert_array_equal(other.params, net.params)
    assert fastbp.MLP([3, 2, 1], thread_invariant=False).copy().thread_invariant is False


def test_the_suite_runs_in_the_mode_it_was_asked_for(thread_mode):
    # conftest's `thread_mode`: FASTBP_TEST_THREAD_INVARIANT=1 reruns every test with thread_invariant=True.
    assert fastbp.MLP([2, 1]).thread_invariant is thread_mode
    assert fastbp.MLPRegressor().get_params()["thread_invariant"] is thread_mode


# The documented cap: 4 threads per core this process may run on.
CAP = 4 * (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())


@pytest.mark.parametrize("owner", ["MLP", "Trainer"])
def test_n_threads_is_checked_and_capped_at_construction_and_assignment(owner):
    def make(n_threads):
        net = fastbp.MLP([3, 2, 1], random_state=0, n_threads=n_threads if owner == "MLP" else None)
        return net if owner == "MLP" else fastbp.Trainer(net, n_threads=n_threads)

    for value, expected in [(None, None), (1, 1), (CAP, CAP), (CAP + 1, CAP), (1000, min(1000, CAP)),
                            (2**31, CAP), (2**64, CAP), (np.int64(2**40), CAP)]:
        assert make(value).n_threads == expected
        target = make(1)
        target.n_threads = value
        assert target.n_threads == expected
    target = make(2)
    for value, error, message in [(0, ValueError, "n_threads must be >= 1"), (-3, ValueError, ">= 1"),
                                  (2.5, TypeError, "n_threads must be an integer"), ("4", TypeError, "integer")]:
        with pytest.raises(error, match=message):
            make(value)
        with pytest.raises(error, match=message):
            target.n_threads = value
        assert target.n_threads == 2  # a refused value leaves the setting as it was


def test_an_absurd_thread_count_trains_with_the_capped_count(rng):
    """2**31 does not fit the core's C int: accepted as is, it failed later with OverflowError."""
    X, Y = rng.randn(20, 3), (rng.rand(20, 1) > 0.5).astype(float)
    net = fastbp.MLP([3, 2, 1], random_state=0)
    trainer = fastbp.Trainer(net, max_epochs=2, random_state=0)
    net.n_threads = trainer.n_threads = 2**31
    trainer.fit(X, Y)
    net.forward(X)
    clf = fastbp.MLPClassifier(hidden_layer_sizes=(2,), max_iter=2, n_threads=2**40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        clf.fit(X, Y.ravel())
    assert clf.get_params()["n_threads"] == 2**40 and clf._net.n_threads == CAP  # checked in fit


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the limit is set with Linux's RLIMIT_AS and /proc")
def test_a_thousand_threads_do_not_end_the_process_under_a_memory_limit(tmp_path):
    """Uncapped, libgomp cannot create the threads' stacks under the limit: it prints "Thread creation failed"
    and exits the interpreter. Capped, the same call returns."""
    stack_mib = 8
    budget_mib = CAP * stack_mib + 256  # room for the capped threads' stacks, far from 1000 of them
    script = tmp_path / "threads.py"
    script.write_text(textwrap.dedent(f"""
        import resource
        import numpy as np
        import fastbp
        X = np.ones((4096, 512))
        with open("/proc/self/statm") as f:
            in_use = int(f.read().split()[0]) * resource.getpagesize()
        limit = in_use + ({budget_mib} << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(fastbp.MLP([512, 1], n_threads=1000).forward(X).shape)
    """))
    env = dict(os.environ, OMP_STACKSIZE=f"{stack_mib}M")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(4096, 1)"
