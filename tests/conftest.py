"""The suite's fixtures. Shared helpers live in `_helpers.py`, the error-bound oracle in `_oracle.py`."""

import functools
import inspect
import os

import numpy as np
import pytest

import fastbp
from _helpers import DTYPES


def pytest_configure(config):
    # scikit-learn's conftest registers this mark of its test_docstrings.py, which test_sklearn_conformance.py runs
    # (CI runs the suite from a copy of tests/, without pyproject.toml, so it is registered here).
    config.addinivalue_line("markers", "no_check_spmatrix: scikit-learn's own mark, on its docstring tests run here")


def _with_default(cls, name, value):
    """Replace cls.__init__ by one whose parameter `name` defaults to `value`, in what it does and in the
    signature it shows (scikit-learn reads defaults from the signature); returns the original to put back."""
    init = cls.__init__
    signature = inspect.signature(init)
    changed = signature.replace(parameters=[parameter.replace(default=value) if parameter.name == name else parameter
                                            for parameter in signature.parameters.values()])

    @functools.wraps(init)
    def wrapper(*args, **kwargs):
        bound = changed.bind(*args, **kwargs)
        bound.apply_defaults()
        init(*bound.args, **bound.kwargs)

    wrapper.__signature__ = changed
    cls.__init__ = wrapper
    return init


@pytest.fixture(autouse=True, scope="session")
def thread_mode():
    """With FASTBP_TEST_THREAD_INVARIANT=1, every model and estimator the tests make in this process defaults
    to thread_invariant=True, so the whole suite runs in that mode too (CI does for one of its runs)."""
    if os.environ.get("FASTBP_TEST_THREAD_INVARIANT") != "1":
        yield False
        return
    classes = (fastbp.MLP, fastbp.MLPClassifier, fastbp.MLPRegressor)
    originals = [_with_default(cls, "thread_invariant", True) for cls in classes]
    try:
        yield True
    finally:
        for cls, init in zip(classes, originals):
            cls.__init__ = init


@pytest.fixture
def rng():
    return np.random.RandomState(12345)


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(scope="session")
def breast_cancer():
    """(X_train, Y_train, X_test, Y_test): standardised breast-cancer data, targets as (n, 1) floats."""
    from fastbp.datasets import load_breast_cancer_split

    return load_breast_cancer_split()
