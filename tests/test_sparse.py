"""Sparse X through the compiled core, the NumPy backend and the Trainer, without a dense copy.

CSR is read in place, CSC, COO and the other formats are converted once; scipy.sparse matrices and arrays,
int32 and int64 indices. Results equal those of the dense matrix, of the NumPy backend (scipy's sparse
products) and scikit-learn's gradient on the same sparse matrix; the structure of the matrix (empty rows,
all-zero columns, duplicates, unsorted entries, explicit zeros) changes nothing; bad sparse input is refused
by name before the kernels, which run without bounds checks, see it. The drop-ins' trajectories on sparse
input are held to scikit-learn's in test_estimator_parity.py.
"""

import numpy as np
import pytest
import scipy
import scipy.sparse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sklearn import neural_network

import fastbp
from _helpers import OUTPUTS, make_targets, net_pair
from _oracle import assert_close, error_bounds


def mostly_zeros(n_rows, n_features, density, rng):
    """A dense array with random normal values at random places; row 1 and column 0 all zero."""
    X = np.where(rng.rand(n_rows, n_features) < density, rng.randn(n_rows, n_features), 0.0)
    X[1] = 0
    X[:, 0] = 0
    return X


def with_int64_indices(X):
    X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    return X


FORMATS = {
    "csr_matrix": scipy.sparse.csr_matrix,
    "csr_array": scipy.sparse.csr_array,
    "csr-int64": lambda X: with_int64_indices(scipy.sparse.csr_array(X)),
    "csc_matrix": scipy.sparse.csc_matrix,
    "csc_array": scipy.sparse.csc_array,
    "coo_matrix": scipy.sparse.coo_matrix,
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_pass_on_sparse_X_equals_the_dense_matrix_s(fmt, dtype, rng):
    core, ref = net_pair([12, 9, 5, 3], "tanh", "softmax", dtype)
    X = mostly_zeros(40, 12, 0.3, rng)
    Y = make_targets("softmax", 40, 3, rng)
    sw = rng.uniform(0.1, 2, 40)
    X_sparse = FORMATS[fmt](X.astype(dtype))
    forward_bound, loss_bound, grad_bound = error_bounds(ref, X, Y, sw, 0.1)
    expected_loss, expected_grad = ref.loss_and_grad(X, Y, sw, 0.1)
    for net in (core, ref):
        assert_close(net.forward(X_sparse), ref.forward(X), dtype, f"{net.backend} forward", forward_bound)
        np.testing.assert_allclose(net.logits(X_sparse), ref.logits(X), rtol=1e-12 if dtype == np.float64 else 1e-5,
                                   atol=1e-12 if dtype == np.float64 else 1e-5, err_msg=f"{net.backend} logits")
        loss, grad = net.loss_and_grad(X_sparse, Y, sw, 0.1)
        assert grad.dtype == dtype
        assert_close(loss, expected_loss, dtype, f"{net.backend} loss", loss_bound)
        assert_close(grad, expected_grad, dtype, f"{net.backend} gradient", grad_bound)
        assert net.loss(X_sparse, Y, sw, 0.1) == pytest.approx(loss, rel=1e-12 if dtype == np.float64 else 1e-6)
    assert fastbp.gradcheck(core, X_sparse, Y, sw, alpha=0.1) <= (1e-6 if dtype == np.float64 else 1e-3)


def sklearn_gradient(net, X, Y, sample_weight, alpha):
    """The flat gradient scikit-learn's own backpropagation (`_backprop`) computes with net's weights."""
    kind = neural_network.MLPRegressor if net.output == "identity" else neural_network.MLPClassifier
    theirs = kind(activation=net.activation, alpha=alpha)
    theirs.coefs_ = [W.copy() for W in net.coefs]
    theirs.intercepts_ = [b.copy() for b in net.intercepts]
    theirs.n_layers_, theirs.out_activation_ = len(net.layer_sizes), net.output
    n = len(net.coefs)
    _, coef_grads, intercept_grads = theirs._backprop(
        X, Y, sample_weight, [X] + [None] * n, [None] * n, [np.empty_like(W) for W in net.coefs],
        [np.empty_like(b) for b in net.intercepts])
    return np.concatenate([g.ravel() for g in coef_grads + intercept_grads])


@pytest.mark.parametrize("activation, output", [("relu", "softmax"), ("logistic", "logistic"), ("tanh", "identity")])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_gradient_equals_scikit_learn_s_on_the_same_matrix(fmt, activation, output, dtype, rng):
    core, ref = net_pair([15, 8, 6, 3], activation, output, dtype)
    X = mostly_zeros(30, 15, 0.25, rng).astype(dtype)
    Y = make_targets(output, 30, 3, rng).astype(dtype)
    sw = rng.uniform(0.1, 2, 30).astype(dtype)
    X_in = X if fmt == "dense" else scipy.sparse.csr_matrix(X).asformat(fmt)
    expected = sklearn_gradient(core, X_in, Y, sw, 0.1)
    # Within the error bounds of two correct implementations: far tighter than the rtol (1e-10 in
    # float64, 1e-5 in float32) wherever the entries do not cancel.
    _, _, grad_bound = error_bounds(core, X, Y, sw, 0.1)
    for net in (core, ref):
        grad = net.loss_and_grad(X_in, Y, sw, 0.1)[1]
        assert_close(grad, expected, dtype, f"{net.backend} gradient", grad_bound)
        np.testing.assert_allclose(grad, expected, rtol=1e-10 if dtype == np.float64 else 1e-5,
                                   atol=(1e-10 if dtype == np.float64 else 1e-5) * np.abs(expected).max())


def test_predictions_of_sparse_rows_are_those_of_the_dense_rows(rng):
    net = fastbp.MLP([20, 6, 1], "relu", "logistic", random_state=0)
    X = mostly_zeros(50, 20, 0.1, rng)
    np.testing.assert_array_equal(net.predict(scipy.sparse.csr_array(X)), net.predict(X))


# --- the structure of the matrix: hypothesis against the dense path ------------------------------------------


@st.composite
def sparse_problems(draw):
    """A CSR matrix built from raw arrays: entries in the order drawn within each row (so unsorted), repeated
    positions (duplicates, which add up), explicit zeros, empty rows and columns, int32 or int64 indices."""
    n_rows, n_features = draw(st.integers(1, 10)), draw(st.integers(1, 8))
    value = st.one_of(st.just(0.0), st.floats(-10, 10, allow_nan=False, allow_subnormal=False))
    entries = draw(st.lists(st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_features - 1), value),
                            max_size=4 * n_rows))
    output = draw(st.sampled_from(OUTPUTS))
    hidden = draw(st.lists(st.integers(1, 6), max_size=2))
    return dict(n_rows=n_rows, n_features=n_features, entries=entries, output=output,
                layer_sizes=[n_features, *hidden, draw(st.integers(2 if output == "softmax" else 1, 3))],
                activation=draw(st.sampled_from(["tanh", "logistic", "identity"])),  # no relu kinks to flip
                dtype=draw(st.sampled_from([np.float64, np.float32])), wide=draw(st.booleans()),
                array=draw(st.booleans()), weighted=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


def build(p):
    rows = np.array([e[0] for e in p["entries"]], dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    index = np.int64 if p["wide"] else np.int32
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=p["n_rows"]))]).astype(index)
    indices = np.array([e[1] for e in p["entries"]], dtype=index)[order]
    data = np.array([e[2] for e in p["entries"]], dtype=p["dtype"])[order]
    kind = scipy.sparse.csr_array if p["array"] else scipy.sparse.csr_matrix
    X = kind((p["n_rows"], p["n_features"]), dtype=p["dtype"])
    X.data, X.indices, X.indptr = data, indices, indptr  # exactly these arrays: the constructor would sort
    return X


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sparse_problems())
# Duplicates that cancel: the dense matrix holds 0, the sparse sums still add and take away 8 (found in CI).
@example(dict(n_rows=1, n_features=1, entries=[(0, 0, 8.0), (0, 0, -8.0)], output="softmax", layer_sizes=[1, 2],
              activation="tanh", dtype=np.float64, wide=False, array=False, weighted=False, seed=0))
def test_any_sparse_structure_gives_the_dense_path_s_results(p):
    rng = np.random.RandomState(p["seed"])
    X = build(p)
    dense = X.toarray()  # adds up duplicates
    core, ref = net_pair(p["layer_sizes"], p["activation"], p["output"], p["dtype"], seed=p["seed"] % 1000)
    Y = make_targets(p["output"], p["n_rows"], p["layer_sizes"][-1], rng)
    sw = rng.uniform(0.1, 2, p["n_rows"]) if p["weighted"] else None
    event("duplicates" if len({e[:2] for e in p["entries"]}) < len(p["entries"]) else "no duplicates")
    event("an empty row" if (np.diff(X.indptr) == 0).any() else "no empty row")
    event(f"{len(p['entries'])} entries" if len(p["entries"]) < 2 else "2 or more entries")
    forward_bound, loss_bound, grad_bound = error_bounds(ref, X, Y, sw, 0.3)
    expected = core.forward(dense)
    expected_loss, expected_grad = core.loss_and_grad(dense, Y, sw, 0.3)
    for net in (core, ref):
        assert_close(net.forward(X), expected, p["dtype"], "forward", forward_bound)
        loss, grad = net.loss_and_grad(X, Y, sw, 0.3)
        assert_close(loss, expected_loss, p["dtype"], "loss", loss_bound)
        assert_close(grad, expected_grad, p["dtype"], "gradient", grad_bound)


@settings(max_examples=60, deadline=None)
@given(sparse_problems(), st.integers(1, 12), st.sampled_from([0.0, 0.9]), st.booleans())
def test_training_on_any_sparse_structure_follows_the_dense_matrix(p, batch_size, momentum, shuffle):
    # SGD, whose steps carry rounding differences over as they are. Adam divides each gradient entry by its
    # own size, so where a unit saturates (tanh' = 1 - a^2 of a = 1 - 1e-8) it turns the last bits of the
    # dense and sparse sums into visibly different steps; Adam on sparse data is in test_estimator_parity.py.
    X = build({**p, "dtype": np.float64})
    Y = (np.random.RandomState(p["seed"]).rand(p["n_rows"], 1) > 0.5).astype(float)
    params = []
    for X_in, backend in ((X, "cython"), (X, "numpy"), (X.toarray(), "cython")):
        net = fastbp.MLP([p["n_features"], 3, 1], "tanh", random_state=0, backend=backend)
        trainer = fastbp.Trainer(net, fastbp.SGD(0.1, momentum=momentum), batch_size=batch_size, max_epochs=2,
                                 shuffle=shuffle, random_state=0)
        trainer.fit(X_in, Y)
        params.append(net.params)
    for other in params[1:]:
        np.testing.assert_allclose(params[0], other, rtol=1e-10, atol=1e-12)


# --- threads: the sparse kernels' results do not depend on them -----------------------------------------------


@pytest.mark.parametrize("thread_invariant", [False, True])
def test_sparse_passes_are_bitwise_equal_for_any_thread_count(thread_invariant, dtype, rng):
    # 100 entries in each row and 64 hidden units: a minibatch of 1,000 rows makes 6.4M multiply-adds in each
    # sparse product, which the core cuts for 2 and 3 threads; the later layers are too small to be cut, so
    # any difference would come from the sparse kernels.
    X = scipy.sparse.csr_matrix((rng.randn(200_000).astype(dtype), rng.randint(0, 3000, 200_000),
                                 np.arange(0, 200_001, 100)), shape=(2000, 3000))
    Y = make_targets("logistic", 2000, 1, rng)
    results = []
    for n_threads in (1, 2, 3):
        net = fastbp.MLP([3000, 64, 1], "logistic", dtype=dtype, random_state=0, n_threads=n_threads,
                         thread_invariant=thread_invariant)
        loss, grad = net.loss_and_grad(X, Y, alpha=0.1)
        fastbp.Trainer(net, fastbp.Adam(0.01), batch_size=1000, max_epochs=1, random_state=0, alpha=0.1).fit(X, Y)
        results.append([net.forward(X[:500]), loss, grad, net.params])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# --- the Trainer ---------------------------------------------------------------------------------------------


def test_trainer_takes_sparse_training_and_validation_data(rng):
    X = mostly_zeros(120, 10, 0.3, rng)
    Y = (X[:, 1:3].sum(axis=1, keepdims=True) > 0).astype(float)
    runs = []
    for convert in (np.asarray, scipy.sparse.csr_matrix, scipy.sparse.csc_array):
        net = fastbp.MLP([10, 5, 1], "tanh", random_state=0)
        held_out = fastbp.Trainer(net, fastbp.Adam(0.02), batch_size=16, max_epochs=5, random_state=0,
                                  validation_fraction=0.25).fit(convert(X), Y)
        given = fastbp.Trainer(net, fastbp.Adam(0.02), batch_size=16, max_epochs=3, random_state=0).fit(
            convert(X[:90]), Y[:90], validation_data=(convert(X[90:]), Y[90:]))
        runs.append((net.params.copy(), held_out, given))
    (params, held_out, given), others = runs[0], runs[1:]
    for other_params, other_held_out, other_given in others:
        np.testing.assert_allclose(other_params, params, rtol=1e-10, atol=1e-12)
        for key in ("loss", "val_loss", "val_score"):
            np.testing.assert_allclose(other_held_out[key], held_out[key], rtol=1e-10, err_msg=key)
            np.testing.assert_allclose(other_given[key], given[key], rtol=1e-10, err_msg=key)


# --- bad input -------------------------------------------------------------------------------------------------

GOOD = np.array([[1.0, 0, 2], [0, 0, 0], [0, 3, 0], [4, 0, 5]])


def mutated(change, fmt="csr"):
    X = scipy.sparse.csr_matrix(GOOD).asformat(fmt)
    change(X)
    return X


def _set(array, index, value):
    array[index] = value


BAD_X = {
    "nan": (mutated(lambda X: _set(X.data, 0, np.nan)), "X contains NaN or infinity"),
    "inf": (mutated(lambda X: _set(X.data, 2, -np.inf)), "X contains NaN or infinity"),
    "index-too-large": (mutated(lambda X: _set(X.indices, 1, 3)), r"X has indices \(of columns\) out of range: "
                                                                   r"they must lie in \[0, 3\), found 0 to 3"),
    "negative-index": (mutated(lambda X: _set(X.indices, 0, -1)), r"X has indices \(of columns\) out of range"),
    "csc-row-index": (mutated(lambda X: _set(X.indices, 0, 9), "csc"), r"X has indices \(of rows\) out of range"),
    "coo-row": (mutated(lambda X: _set(X.row, 0, 4), "coo"), "X has row coordinates out of range"),
    "indptr-short": (mutated(lambda X: setattr(X, "indptr", X.indptr[:-1])), "X has an invalid indptr: it must "
                                                                            "have n_samples . 1 = 5 entries"),
    "indptr-decreasing": (mutated(lambda X: _set(X.indptr, 1, 3)), "X has an invalid indptr"),
    "indptr-not-from-0": (mutated(lambda X: _set(X.indptr, 0, 1)), "X has an invalid indptr"),
    "indptr-past-the-end": (mutated(lambda X: _set(X.indptr, 4, 9)), "X has an invalid indptr"),
    "features": (scipy.sparse.csr_matrix(GOOD[:, :2]), "X has 2 features, but the network expects 3"),
    "empty": (scipy.sparse.csr_matrix((0, 3)), "X is empty"),
    "1-D": (scipy.sparse.coo_array(np.ones(3)), "X must be 2-D"),
}


@pytest.mark.parametrize("case", BAD_X)
def test_bad_sparse_X_is_refused_by_name(case):
    X, words = BAD_X[case]
    if case == "1-D" and len(X.shape) != 1:
        pytest.skip(f"scipy {scipy.__version__} has no 1-D sparse arrays: it makes this one 2-D")
    net = fastbp.MLP([3, 4, 1], random_state=0)
    before = net.params.copy()
    Y = np.ones((GOOD.shape[0], 1))
    for call in (lambda: net.forward(X), lambda: net.loss_and_grad(X, Y),
                 lambda: fastbp.Trainer(net, batch_size=2, max_epochs=1).fit(X, Y),
                 lambda: fastbp.Trainer(net, max_epochs=1).fit(GOOD, Y, validation_data=(X, Y))):
        with pytest.raises(ValueError, match=words.replace("X ", "(X|X_val.) ")):
            call()
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", ["index-too-large", "csc-row-index", "indptr-decreasing", "indptr-past-the-end"])
def test_the_drop_ins_refuse_bad_sparse_structure_by_name(case):
    # Before scikit-learn's validation, whose conversion to CSR would read and write out of bounds.
    X, words = BAD_X[case]
    with pytest.raises(ValueError, match=words):
        fastbp.MLPClassifier(max_iter=1).fit(X, [0, 1, 0, 1])
    fitted = fastbp.MLPClassifier(hidden_layer_sizes=(2,), max_iter=1).fit(GOOD, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=words):
        fitted.predict(X)


def test_sparse_X_of_complex_numbers_or_too_large_for_float32_is_refused():
    with pytest.raises(TypeError, match="X must hold real numbers"):
        fastbp.MLP([3, 1]).forward(scipy.sparse.csr_matrix(GOOD.astype(complex)))
    with pytest.raises(ValueError, match="X contains NaN or infinity after conversion to float32"):
        fastbp.MLP([3, 1], dtype="float32").forward(scipy.sparse.csr_matrix(GOOD * 1e300))


def test_the_core_refuses_csr_arrays_it_cannot_read():
    # For a caller that skips fastbp._validation: the layout is checked in the core itself.
    net = fastbp.MLP([3, 2, 1], random_state=0)
    X = scipy.sparse.csr_matrix(GOOD)
    with pytest.raises(TypeError, match="X.data must be float64"):
        net.engine.table.forward(net.params, X.astype(np.float32), 1, False)
    X.indices = X.indices.astype(np.int64)  # indptr stays int32
    with pytest.raises(TypeError, match="X.indices and X.indptr must both be int32 or int64"):
        net.engine.table.forward(net.params, X, 1, False)
