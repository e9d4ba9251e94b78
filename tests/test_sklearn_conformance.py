"""scikit-learn's own MLP tests, and its docstring tests, pass on fastbp's drop-ins.

`sklearn/neural_network/tests/test_mlp.py` of the installed scikit-learn runs here twice, each of its tests
an item of this module: "swapped", with its import line changed to ``from fastbp import MLPClassifier,
MLPRegressor``, and "patched", the unmodified file imported and run under `fastbp.patch_sklearn()`. Every
test must pass except those in EXCLUDED, each with its reason; an excluded test is a strict xfail with the
error it fails with, so one that starts passing (or fails otherwise) fails here until the list is updated.
The drop-ins' documentation page (its "scikit-learn's own tests" section) lists the same exclusions.

scikit-learn's docstring tests, `sklearn/tests/test_docstrings.py` (numpydoc's validation of every public
method's docstring) and `test_fit_docstring_attributes` of `sklearn/tests/test_docstring_parameters.py`
(every fitted attribute documented), run unmodified under the patch, on the items that are fastbp's.
"""

import importlib.util
import os
import pathlib
import re
import warnings

import pytest
import sklearn
import sklearn.neural_network
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import fastbp

SKLEARN = pathlib.Path(sklearn.__file__).parent
UPSTREAM = SKLEARN / "neural_network" / "tests" / "test_mlp.py"
DROP_INS = (fastbp.MLPClassifier, fastbp.MLPRegressor)
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
ESTIMATORS_PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "estimators.rst"

# test name -> (the error it fails with, why it is excluded)
EXCLUDED = {
    "test_gradient": (
        AttributeError,
        "calls scikit-learn's private helper `_loss_grad_lbfgs`, which fastbp does not have; fastbp's loss and "
        "gradient (`MLP.loss_and_grad`, which lbfgs minimizes) are checked against central differences and "
        "the NumPy reference in tests/test_gradients.py",
    ),
}


def _seeds(value):
    """scikit-learn's convention for SKLEARN_TESTS_GLOBAL_RANDOM_SEED: unset means 42, "all" 0 to 99, "X-Y"
    X to Y, "X" X."""
    if not value:
        return [42]
    if value == "all":
        return list(range(100))
    low, _, high = value.partition("-")
    return list(range(int(low), int(high or low) + 1))


@pytest.fixture(params=_seeds(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")))
def global_random_seed(request):
    """The seed fixture that scikit-learn's conftest gives its tests."""
    return request.param


def _load(name, source, path=UPSTREAM):
    """The test module `source` (the text of the file `path`), executed as a fresh module called `name`."""
    spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


SOURCE = UPSTREAM.read_text()
if SOURCE.count(IMPORT) != 1:  # a new scikit-learn imports its estimators otherwise: update IMPORT
    raise RuntimeError(f"{UPSTREAM} no longer imports the estimators with {IMPORT.strip()!r}")
swapped = _load("sklearn_test_mlp_swapped", SOURCE.replace(IMPORT, "from fastbp import MLPClassifier, MLPRegressor\n"))
with fastbp.patch_sklearn():
    patched = _load("sklearn_test_mlp_patched", SOURCE)
RUNS = {"swapped": swapped, "patched": patched}

for run, module in RUNS.items():
    module_marks = getattr(module, "pytestmark", [])  # the file's own module-level marks, if it has any
    for name, test in vars(module).items():
        if name.startswith("test_") and callable(test):
            for mark in module_marks if isinstance(module_marks, list) else [module_marks]:
                test = mark(test)
            if name in EXCLUDED:
                error, reason = EXCLUDED[name]
                test = pytest.mark.xfail(raises=error, strict=True, reason=reason)(test)
            globals()[f"test_{run}__{name}"] = test


@pytest.fixture(autouse=True)
def _upstream_test_context(request):
    """The patched run's tests run with the patch in effect, as a patched program would. Every test runs the
    core on one OpenMP thread: results do not depend on the thread count (tests/test_threads.py), and these
    small fits took ten times longer on two threads whose cores other processes were using."""
    with threadpool_limits(limits=1, user_api="openmp"):
        if request.function.__module__ == patched.__name__:
            with fastbp.patch_sklearn():
                yield
        else:
            yield


def test_both_runs_test_fastbp_and_leave_sklearn_unpatched():
    for module in RUNS.values():
        assert module.MLPClassifier is fastbp.MLPClassifier and module.MLPRegressor is fastbp.MLPRegressor
    assert not fastbp.sklearn_is_patched()
    assert sklearn.neural_network.MLPClassifier.__module__ == "sklearn.neural_network._multilayer_perceptron"


def test_every_exclusion_names_an_upstream_test_and_is_documented():
    section = ESTIMATORS_PAGE.read_text().split("scikit-learn's own tests\n")[1].split("\n.. _")[0]
    for name in EXCLUDED:
        assert callable(getattr(swapped, name, None)), f"{name} is no longer in {UPSTREAM}"
        assert re.search(rf"``{name}``", section), f"the drop-ins page's section on scikit-learn's tests omits {name}"


# --- scikit-learn's docstring tests ----------------------------------------------------------------------

def _load_patched(name):
    """sklearn/tests/<name>.py, unmodified, imported under the patch (its module-level code lists the estimators
    of scikit-learn's public modules, which the patch makes fastbp's drop-ins)."""
    path = SKLEARN / "tests" / f"{name}.py"
    with fastbp.patch_sklearn():
        return _load(f"sklearn_{name}_patched", path.read_text(), path)


try:
    docstrings, docstring_parameters = _load_patched("test_docstrings"), _load_patched("test_docstring_parameters")
    with fastbp.patch_sklearn():
        DOCUMENTED = [(Klass, method) for Klass, method in docstrings.get_all_methods() if Klass in DROP_INS]
    NO_NUMPYDOC = None
except pytest.skip.Exception as exc:  # numpydoc (in the test extra) is not installed
    DOCUMENTED, NO_NUMPYDOC = [], str(exc)
needs_numpydoc = pytest.mark.skipif(NO_NUMPYDOC is not None, reason=f"scikit-learn's docstring tests: {NO_NUMPYDOC}")


@needs_numpydoc
def test_the_docstring_tests_see_every_public_method_of_the_drop_ins():
    for Klass in DROP_INS:
        methods = {method for K, method in DOCUMENTED if K is Klass}
        public = {name for name in dir(Klass) if not name.startswith("_") and callable(getattr(Klass, name))}
        assert {None, "fit", "partial_fit", "predict", "to_sklearn", "from_sklearn", "save"} <= methods, methods
        assert public <= methods, public - methods


@needs_numpydoc
@pytest.mark.parametrize("Klass, method", DOCUMENTED,
                         ids=[f"{Klass.__name__}.{method or '__init__'}" for Klass, method in DOCUMENTED])
def test_patched__test_docstrings__test_docstring(Klass, method, request):
    with fastbp.patch_sklearn():
        docstrings.test_docstring(Klass, method, request)


@needs_numpydoc
@pytest.mark.parametrize("Estimator", DROP_INS, ids=lambda Estimator: Estimator.__name__)
def test_patched__test_docstring_parameters__test_fit_docstring_attributes(Estimator):
    with fastbp.patch_sklearn(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # as the upstream test's filterwarnings mark
        docstring_parameters.test_fit_docstring_attributes(Estimator.__name__, Estimator)
