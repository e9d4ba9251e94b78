import os

import numpy as np
import pytest

import fastbp
from fastbp import reference

ACTIVATIONS = ("logistic", "tanh", "relu", "identity")
OUTPUTS = ("logistic", "softmax", "identity", "exp")
DTYPES = (np.float64, np.float32)
# Cython vs NumPy backend: same math, different summation order inside BLAS and libm.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(autouse=True, scope="session")
def thread_mode():
    """With FASTBP_TEST_THREAD_INVARIANT=1, every model and estimator the tests make in this process defaults
    to thread_invariant=True, so the whole suite runs in that mode too (CI does for one of its runs)."""
    if os.environ.get("FASTBP_TEST_THREAD_INVARIANT") != "1":
        yield False
        return
    from fastbp import MLPClassifier, MLPRegressor

    init = fastbp.MLP.__init__
    saved = init.__defaults__, MLPClassifier.__init__.__kwdefaults__, MLPRegressor.__init__.__kwdefaults__
    init.__defaults__ = (*init.__defaults__[:-1], True)
    for estimator in (MLPClassifier, MLPRegressor):
        estimator.__init__.__kwdefaults__ = {**estimator.__init__.__kwdefaults__, "thread_invariant": True}
    try:
        yield True
    finally:
        init.__defaults__, MLPClassifier.__init__.__kwdefaults__, MLPRegressor.__init__.__kwdefaults__ = saved



def make_targets(output, n_samples, n_outputs, rng):
    """Targets in each output's domain: probabilities, one-hot rows, real values, counts."""
    if output == "logistic":
        return rng.rand(n_samples, n_outputs)
    if output == "softmax":
        return np.eye(n_outputs)[rng.randint(0, n_outputs, n_samples)]
    if output == "exp":
        return rng.poisson(1.5, (n_samples, n_outputs)).astype(float)
    return rng.randn(n_samples, n_outputs)


def assert_close(actual, desired, dtype, err_msg="", terms=None):
    """|actual - desired| <= rtol * (|desired| + terms), elementwise, rtol by dtype; `terms` are the
    magnitudes of what each entry sums (see `term_magnitudes`), zero when omitted."""
    rtol = RTOL[np.dtype(dtype).type]
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    bound = rtol * (np.abs(desired) + (0.0 if terms is None else np.asarray(terms, dtype=np.float64)))
    excess = np.abs(actual - desired) - bound
    assert actual.shape == desired.shape, f"{err_msg}: shapes {actual.shape} != {desired.shape}"
    assert (excess <= 0).all(), (
        f"{err_msg}: {int((excess > 0).sum())} entries differ by more than rtol={rtol} times their terms; "
        f"worst at {np.unravel_index(np.argmax(excess), excess.shape)}: {actual.flat[np.argmax(excess)]!r} vs "
        f"{desired.flat[np.argmax(excess)]!r}")


# The magnitudes of the terms of each f'(a) expression: 1 - a^2 is ill-conditioned where tanh saturates.
DERIVATIVE_TERMS = {
    "logistic": lambda a: np.abs(a) * (1 + np.abs(a)),
    "tanh": lambda a: 1 + a**2,
    "relu": lambda a: (a > 0).astype(float),
    "identity": np.ones_like,
}


def term_magnitudes(net, X, Y, sample_weight=None, alpha=0.0):
    """How large the terms are that sum to each output, loss and gradient entry.

    Rounding error of a sum is relative to the sum of its terms' magnitudes (|a|^T |b| for a dot product),
    not to the result, which can cancel to near zero (y_hat - y when y_hat ~ y). This runs the forward and
    backward passes on absolute values: T[l] = T[l-1] |W[l]| + |b[l]| bounds the terms behind each
    activation (every hidden activation is 1-Lipschitz), and the backward pass starts from |y_hat| + |y|.
    Two independent implementations agree to rtol times these magnitudes.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    coefs = [W.astype(np.float64) for W in net.coefs]
    intercepts = [b.astype(np.float64) for b in net.intercepts]
    acts = reference.forward_pass(coefs, intercepts, X, net.activation)
    y_hat = reference.OUTPUTS[net.output](acts[-1])
    terms = [np.abs(X)]
    for W, b in zip(coefs, intercepts):
        terms.append(terms[-1] @ np.abs(W) + np.abs(b))
    forward_terms = terms[-1] * (np.abs(y_hat) if net.output == "exp" else 1.0)
    loss_terms = max(1.0, terms[-1].max())

    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    delta = (np.abs(y_hat) + np.abs(Y)) * (w / w.sum())[:, None]
    coef_terms, intercept_terms = [None] * len(coefs), [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        coef_terms[l] = terms[l].T @ delta + alpha / w.sum() * np.abs(coefs[l])
        intercept_terms[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ np.abs(coefs[l]).T) * DERIVATIVE_TERMS[net.activation](acts[l - 1])
    grad_terms = np.concatenate([g.ravel() for g in coef_terms + intercept_terms])
    return forward_terms, loss_terms, grad_terms


@pytest.fixture
def rng():
    return np.random.RandomState(12345)


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


def net_pair(layer_sizes, activation="logistic", output="logistic", dtype=np.float64, seed=0):
    """The same network on the compiled and the NumPy backend."""
    net = fastbp.MLP(layer_sizes, activation, output, dtype=dtype, random_state=seed)
    return net, net.copy(backend="numpy")


@pytest.fixture(scope="session")
def breast_cancer():
    """(X_train, Y_train, X_test, Y_test): standardised breast-cancer data, targets as (n, 1) floats."""
    from fastbp.datasets import load_breast_cancer_split

    return load_breast_cancer_split()
