"""The vectorized exp behind the logistic layers, against a correctly rounded exp, and the vectorized GELU
(its erf) against mpmath, on every code path this CPU runs."""

import math

import numpy as np
import pytest
from scipy.special import expit

import fastbp
from fastbp._core._activations import exp_nonpositive, gelu, vecmath_path, vecmath_paths

PATHS = vecmath_paths()


@pytest.fixture(params=PATHS)
def path(request):
    best = vecmath_path()
    assert vecmath_path(request.param) == request.param
    yield request.param
    vecmath_path(best)


def test_the_cpu_gets_its_widest_path():
    assert vecmath_path() == PATHS[-1]
    assert PATHS[0] == "portable"


def test_the_fma_paths_give_the_same_bits():
    # AVX2 and AVX-512 run the same operations on more lanes at a time, so results must not depend on which.
    fma_paths = [p for p in PATHS if p != "portable"]
    if len(fma_paths) < 2:
        pytest.skip(f"this CPU runs only {PATHS}")
    x = -np.random.RandomState(0).exponential(5.0, 10_001)
    results = []
    best = vecmath_path()
    for p in fma_paths:
        vecmath_path(p)
        for dtype in (np.float64, np.float32):
            y = x.astype(dtype)
            exp_nonpositive(y)
            results.append(y)
    vecmath_path(best)
    for a, b in zip(results[:2], results[2:]):
        np.testing.assert_array_equal(a, b)


def correctly_rounded_exp(x):
    """exp(x) rounded to x's dtype from a more precise value than any float64 exp gives: the extended
    long double exp where the platform has one, else libm's double exp per element through Python's math
    module. (NumPy's own exp is not the oracle: its accuracy near the subnormal range changed between
    releases, 1.24's erring by 2 ulp at -746.)"""
    if np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant:
        return np.exp(x.astype(np.longdouble)).astype(x.dtype)
    return np.array([math.exp(value) for value in x.astype(np.float64)]).astype(x.dtype)


@pytest.mark.parametrize("dtype, low", [(np.float64, -746.0), (np.float32, -105.0)])
def test_exp_is_within_one_ulp_of_the_correctly_rounded_exp(path, dtype, low):
    rng = np.random.RandomState(0)
    x = -np.concatenate([np.linspace(0, -low, 1_000_001), rng.exponential(3.0, 100_000)]).astype(dtype)
    x[:3] = [-0.0, -np.finfo(dtype).tiny, -np.finfo(dtype).smallest_subnormal]
    y = x.copy()
    exp_nonpositive(y)
    expected = correctly_rounded_exp(x)
    normal = expected >= np.finfo(dtype).tiny
    ulps = np.abs(y[normal].astype(np.float64) - expected[normal]) / np.spacing(expected[normal])
    assert ulps.max() <= 1.0
    # Subnormal results lose precision with their exponent range, as in any exp.
    np.testing.assert_allclose(y[~normal], expected[~normal], rtol=0, atol=2 * np.finfo(dtype).smallest_subnormal)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_edges(path, dtype):
    x = np.array([-np.inf, np.nan, -1e30, -1000.0, 0.0, -np.nan], dtype=dtype)
    exp_nonpositive(x)
    np.testing.assert_array_equal(x[[0, 2, 3]], 0.0)
    assert np.isnan(x[1]) and np.isnan(x[5]) and x[4] == 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_layers_match_scipy_expit_over_the_whole_range(path, dtype):
    """Through the public API: a 1-1 identity-weight logistic network is sigmoid(x), even where it saturates."""
    net = fastbp.MLP([1, 1], output="logistic", dtype=dtype)
    net.params[...] = [1.0, 0.0]
    z = np.concatenate([np.linspace(-800, 800, 20_001), [-40.0, 40.0, 0.0]]).astype(dtype)
    y = net.forward(z[:, None])[:, 0]
    expected = expit(z.astype(np.float64))
    # Below the smallest normal number both are rounding noise.
    np.testing.assert_allclose(y, expected, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


def test_gelu_and_its_derivative_are_within_a_few_ulp_of_mpmaths(path):
    """Relative accuracy everywhere the result is a normal number, the tails of z < 0 included (where the usual
    z (1 + erf) / 2 keeps no digit): within 12 ulp, 6 on the FMA paths (measured: 10 and 6); the derivative
    Phi + z phi(z), which cancels for z < 0, within 6 ulp of its terms' sum."""
    mpmath = pytest.importorskip("mpmath", reason="mpmath (a dependency of sympy and torch) is the oracle")
    mpmath.mp.dps = 40
    rng = np.random.RandomState(0)
    # Around the pieces' joins (|z| / sqrt 2 = 1 and 6), the tails, tiny values, zeros of both signs.
    joins = (np.sqrt(2) * np.array([1.0, 6.0]) + rng.uniform(-1e-6, 1e-6, (200, 2))).ravel()
    z = np.concatenate([rng.uniform(-37, 37, 3000), joins, -joins, rng.standard_normal(2000),
                        10.0 ** rng.uniform(-300, 0, 300), [0.0, -0.0, 40.0, -40.0]])
    values, derivatives = z.copy(), np.empty_like(z)
    gelu(values, derivatives)
    bound = 12 if path == "portable" else 6
    for x, value, derivative in zip(z[::3], values[::3], derivatives[::3]):
        phi = mpmath.erfc(-mpmath.mpf(x) / mpmath.sqrt(2)) / 2  # Phi(x), without 1 + erf's cancellation for x < 0
        exact = float(mpmath.mpf(x) * phi)
        density_term = mpmath.mpf(x) * mpmath.npdf(x)
        terms = float(abs(phi) + abs(density_term))
        if abs(exact) > 1e-290:
            assert abs(value - exact) <= bound * np.spacing(abs(exact)), (x, value, exact)
        if terms > 1e-290:
            assert abs(derivative - float(phi + density_term)) <= 6 * np.spacing(terms), (x, derivative)
    assert np.signbit(values[-3]) and values[-3] == 0 and derivatives[-4] == derivatives[-3] == 0.5
    assert values[-2] == 40.0 and values[-1] == 0 and derivatives[-2] == 1.0
    nan = np.array([np.nan])
    gelu(nan, np.empty(1))
    assert np.isnan(nan[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_path_drops_the_units_the_reference_drops(dtype):
    """The dropout kernels (`_vecmath.h`'s fastbp_mask_bits and fastbp_drop_*): a training pass's loss and
    gradient are bit for bit the same on every path this CPU runs, and the NumPy reference's (whose masks are
    `fastbp.reference.dropout_mask`), for a width that is no multiple of any vector width."""
    rng = np.random.RandomState(0)
    X, Y = rng.randn(37, 5).astype(dtype), rng.randn(37, 2).astype(dtype)
    net = fastbp.MLP([5, 300, 7, 2], ["identity", "tanh"], "identity", dtype=dtype, random_state=0,
                     dropout=[0.3, 0.5], n_threads=1)
    best = vecmath_path()
    results = []
    for p in PATHS:
        vecmath_path(p)
        results.append(net.loss_and_grad(X, Y, dropout_seed=7))
    vecmath_path(best)
    for loss, grad in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
    ref_loss, ref_grad = net.copy(backend="numpy").loss_and_grad(X, Y, dropout_seed=7)
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    assert results[0][0] == pytest.approx(ref_loss, rel=tolerance)
    np.testing.assert_allclose(results[0][1], ref_grad, rtol=tolerance, atol=tolerance)
