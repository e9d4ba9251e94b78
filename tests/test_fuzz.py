"""Property-based fuzzing of the public API (hypothesis), CI-sized.

Every call either returns what the NumPy backend returns for the same input, or raises ValueError or
TypeError with a message naming the argument. Covered: random architectures (1 row, 1 feature, width-1
layers, batches larger than the data), both dtypes, memory layouts (C, Fortran, strided, read-only,
unaligned), extreme values (+-1e300, subnormals, all-equal columns) and arbitrary Python objects as X.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fastbp
from _helpers import ACTIVATIONS, OUTPUTS, make_targets, net_pair
from _oracle import assert_close, error_bounds

LAYOUTS = ("C", "F", "strided", "readonly", "unaligned")
REGIMES = ("normal", "huge", "subnormal", "constant-columns", "mixed")
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_layout(X, layout):
    """The same values as X in another memory layout."""
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":
        big = np.zeros((2 * X.shape[0], 3 * X.shape[1]), X.dtype)
        big[::2, ::3] = X
        return big[::2, ::3]
    if layout == "readonly":
        X = X.copy()
        X.flags.writeable = False
        return X
    if layout == "unaligned":
        buffer = np.zeros(X.nbytes + 1, np.uint8)
        view = np.ndarray(X.shape, X.dtype, buffer=buffer, offset=1)
        view[...] = X
        assert not view.flags.aligned
        return view
    return X


def values(regime, shape, rng):
    X = rng.randn(*shape)
    if regime == "huge":
        return X * 1e300
    if regime == "subnormal":
        return X * 1e-310
    if regime == "constant-columns":
        return np.broadcast_to(rng.randn(1, shape[1]), shape).copy()
    if regime == "mixed":
        X[rng.rand(*shape) < 0.2] = 1e300
        return X
    return X


@st.composite
def problems(draw):
    output = draw(st.sampled_from(OUTPUTS))
    hidden = draw(st.lists(st.integers(1, 6), min_size=0, max_size=2))
    return dict(
        layer_sizes=[draw(st.integers(1, 6)), *hidden, draw(st.integers(2 if output == "softmax" else 1, 3))],
        activation=draw(st.sampled_from(ACTIVATIONS)), output=output,
        dtype=draw(st.sampled_from([np.float64, np.float32])), n_rows=draw(st.integers(1, 12)),
        layout=draw(st.sampled_from(LAYOUTS)), regime=draw(st.sampled_from(REGIMES)),
        weighted=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


@settings(FUZZ, max_examples=300)
@given(problems())
def test_loss_and_grad_match_the_numpy_backend_or_refuse_by_name(p):
    rng = np.random.RandomState(p["seed"])
    core, ref = net_pair(p["layer_sizes"], p["activation"], p["output"], p["dtype"], seed=p["seed"] % 1000)
    X = values(p["regime"], (p["n_rows"], p["layer_sizes"][0]), rng)
    Y = make_targets(p["output"], p["n_rows"], p["layer_sizes"][-1], rng)
    sw = rng.uniform(0.1, 2, p["n_rows"]) if p["weighted"] else None
    X_in = with_layout(X, p["layout"])
    event(f"layout {p['layout']}")
    event(f"values {p['regime']}")
    try:
        loss, grad = core.loss_and_grad(X_in, Y, sw)
    except (ValueError, TypeError) as exc:
        event("refused by name")
        # Only values that do not fit the model's dtype are refused here, by name.
        assert p["dtype"] == np.float32 and p["regime"] in ("huge", "mixed"), exc
        assert "X contains NaN or infinity after conversion to float32" in str(exc)
        return
    assert np.array_equal(X_in, X)  # never modified
    with np.errstate(all="ignore"):
        ref_loss, ref_grad = ref.loss_and_grad(X, Y, sw)
        if np.isfinite(ref_loss) and np.isfinite(ref_grad).all():
            _, loss_bound, grad_bound = error_bounds(ref, X.astype(p["dtype"]), Y, sw)
            assert_close(loss, ref_loss, p["dtype"], "loss", loss_bound)
            assert_close(grad, ref_grad, p["dtype"], "gradient", grad_bound)
            event("matched the NumPy backend")
        else:  # overflow inside the network: both report it instead of a finite wrong answer
            assert not (np.isfinite(loss) and np.isfinite(grad).all())
            event("overflowed in both backends")


scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30), st.booleans(),
                    st.none(), st.text(max_size=2), st.complex_numbers(max_magnitude=3))


@FUZZ
@given(st.one_of(st.lists(st.lists(scalars, max_size=4), max_size=4), scalars,
                 st.lists(st.lists(st.floats(-5, 5), min_size=3, max_size=3), min_size=1, max_size=4),
                 st.lists(st.lists(st.lists(st.floats(-3, 3), min_size=1, max_size=2), max_size=2), max_size=2)))
def test_arbitrary_objects_as_X_are_computed_or_refused_by_name(X):
    core, ref = net_pair([3, 2, 1])
    try:
        out = core.forward(X)
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith("X "), exc
        event(f"refused: {type(exc).__name__}")
        return
    event("computed")
    np.testing.assert_allclose(out, ref.forward(np.asarray(X, dtype=float)), rtol=1e-12)


@FUZZ
@given(n_rows=st.integers(1, 9), batch_size=st.integers(1, 20), width=st.integers(1, 4),
       optimizer=st.sampled_from(["sgd", "adam"]), shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_training_any_shape_matches_the_numpy_backend(n_rows, batch_size, width, optimizer, shuffle, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_rows, 2)
    Y = (rng.rand(n_rows, 1) > 0.5).astype(float)
    nets = net_pair([2, width, 1], seed=seed)
    for net in nets:
        opt = fastbp.SGD(0.1) if optimizer == "sgd" else fastbp.Adam(0.01)
        fastbp.Trainer(net, opt, batch_size=batch_size, max_epochs=2, shuffle=shuffle, random_state=seed).fit(X, Y)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, call", [
    ("Y", lambda net: net.loss_and_grad(np.ones((2, 3)), {"y": 1})),
    ("sample_weight", lambda net: net.loss_and_grad(np.ones((2, 3)), np.ones(2), sample_weight="heavy")),
    ("alpha", lambda net: net.loss_and_grad(np.ones((2, 3)), np.ones(2), alpha=[1])),
    ("batch_size", lambda net: fastbp.Trainer(net, batch_size=2.5)),
    ("optimizer", lambda net: fastbp.Trainer(net, optimizer="sgd")),
])
def test_wrong_types_are_refused_by_name(name, call):
    with pytest.raises((TypeError, ValueError), match=name):
        call(fastbp.MLP([3, 2, 1]))
