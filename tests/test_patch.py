"""`fastbp.patch_sklearn()`: code that imports scikit-learn's MLPs gets fastbp's, and gets them back after."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import sklearn.neural_network
import sklearn.neural_network._multilayer_perceptron as multilayer_perceptron
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.patch.__main__ import main

SKLEARN_CLASSIFIER, SKLEARN_REGRESSOR = sklearn.neural_network.MLPClassifier, sklearn.neural_network.MLPRegressor
MODULES = (sklearn.neural_network, multilayer_perceptron)


@pytest.fixture(autouse=True)
def unpatched():
    assert not fastbp.sklearn_is_patched()
    yield
    fastbp.unpatch_sklearn()


def _assert_unpatched():
    assert not fastbp.sklearn_is_patched()
    for module in MODULES:
        assert module.MLPClassifier is SKLEARN_CLASSIFIER and module.MLPRegressor is SKLEARN_REGRESSOR


def _assert_patched():
    assert fastbp.sklearn_is_patched()
    for module in MODULES:
        assert module.MLPClassifier is fastbp.MLPClassifier and module.MLPRegressor is fastbp.MLPRegressor


def test_patch_and_unpatch():
    assert SKLEARN_CLASSIFIER.__module__ == "sklearn.neural_network._multilayer_perceptron"
    fastbp.patch_sklearn()
    _assert_patched()
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.neural_network._multilayer_perceptron import MLPClassifier as Deep

    assert MLPClassifier is Deep is fastbp.MLPClassifier and MLPRegressor is fastbp.MLPRegressor
    fastbp.patch_sklearn()  # again: a no-op, one unpatch undoes it
    _assert_patched()
    fastbp.unpatch_sklearn()
    _assert_unpatched()
    fastbp.unpatch_sklearn()  # again: a no-op
    _assert_unpatched()


def test_the_context_manager_undoes_only_its_own_patch():
    with fastbp.patch_sklearn() as patch:
        _assert_patched()
        assert "patched" in repr(patch)
    _assert_unpatched()
    fastbp.patch_sklearn()
    with fastbp.patch_sklearn():
        _assert_patched()
    _assert_patched()  # it was patched before the block, so it stays patched
    with pytest.raises(KeyError):
        with fastbp.patch_sklearn():
            raise KeyError("the block's exception passes through")
    _assert_patched()


def test_a_patched_program_trains_fastbps_model_and_to_sklearn_still_gives_sklearns():
    X, y = np.random.RandomState(0).randn(40, 3), np.arange(40) % 2
    with fastbp.patch_sklearn():
        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
        with pytest.warns(sklearn.exceptions.ConvergenceWarning):
            model.fit(X, y)
        assert type(model) is fastbp.MLPClassifier
        theirs = model.to_sklearn()
        assert type(theirs) is SKLEARN_CLASSIFIER
        np.testing.assert_allclose(theirs.predict_proba(X), model.predict_proba(X), rtol=1e-12)
        with pytest.raises(TypeError, match="from_sklearn takes a fitted sklearn"):
            fastbp.MLPClassifier.from_sklearn(model)


SCRIPT = """
import sys
from sklearn.neural_network import MLPRegressor
print(__name__, sys.argv[1:], MLPRegressor.__module__)
model = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5, random_state=0)
model.fit([[0.0], [1.0]], [0.0, 1.0])
print(type(model).__module__, model.n_iter_ > 0)
sys.exit(int(sys.argv[-1]))
"""


def test_the_command_runs_a_script_patched(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "train_module.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "fastbp.patch", str(script), "--flag", "3"], capture_output=True,
                          text=True, cwd=tmp_path.parent)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["__main__ ['--flag', '3'] fastbp.estimators", "fastbp.estimators True"]

    done = subprocess.run([sys.executable, "-m", "fastbp.patch", "-m", "train_module", "0"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["__main__ ['0'] fastbp.estimators", "fastbp.estimators True"]



def test_the_command_explains_its_usage(capsys, tmp_path):
    assert main([]) == 2
    assert "usage: python -m fastbp.patch script.py [args...]" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "-m module" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.py")]) == 2
    assert "missing.py" in capsys.readouterr().err
    _assert_unpatched()


# Warnings, as code written for scikit-learn filters them: scikit-learn's own plot_mlp_training_curves.py
# example ignores ConvergenceWarning with module="sklearn". The oracle is scikit-learn itself.
def _convergence_warnings(make_estimator, module_filter):
    X, y = np.random.RandomState(0).randn(60, 3), np.arange(60) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module=module_filter)
        make_estimator()(max_iter=2, random_state=0).fit(X, y)
        make_estimator()(solver="lbfgs", max_iter=1, random_state=0).fit(X, y)
        make_estimator()(batch_size=100, max_iter=2, random_state=0).fit(X, y)  # clipped, with a UserWarning
    return [(w.category, str(w.message)) for w in caught if issubclass(w.category, (ConvergenceWarning, UserWarning))]


def test_under_the_patch_warnings_come_from_where_scikit_learns_do():
    stock = _convergence_warnings(lambda: sklearn.neural_network.MLPClassifier, "sklearn")
    with fastbp.patch_sklearn():
        patched = _convergence_warnings(lambda: sklearn.neural_network.MLPClassifier, "sklearn")
    assert [category for category, _ in patched] == [category for category, _ in stock] == [UserWarning]
    assert patched == stock


def test_unpatched_the_drop_ins_warn_from_fastbp():
    assert len(_convergence_warnings(lambda: fastbp.MLPClassifier, "sklearn")) == 4
    assert [category for category, _ in _convergence_warnings(lambda: fastbp.MLPClassifier, "fastbp")] == [UserWarning]
