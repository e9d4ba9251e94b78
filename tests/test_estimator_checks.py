"""scikit-learn's own estimator checks, run over both drop-ins.

Every check runs and passes. The one pytest reports as skipped is not applicable:
`check_classifiers_multilabel_output_format_decision_function` (MLPs have no decision_function, in
scikit-learn too). `check_array_api_input` skips itself unless SCIPY_ARRAY_API=1 is set before SciPy is
imported, so a second test runs it in a fresh interpreter with that setting.
"""

import os
import subprocess
import sys

import pytest
import sklearn
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    estimator_checks_generator,
    parametrize_with_checks,
)

from fastbp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# max_iter=100 is what scikit-learn's own test suite uses for its MLPs.
ESTIMATORS = [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)]
# fastbp's options away from their defaults: the checks hold for them too.
MODERN = [
    MLPClassifier(hidden_layer_sizes=(20, 10), activation=["gelu", "silu"], solver="adamw",
                  learning_rate="warmup_cosine", learning_rate_init=0.01, dropout=[0.1, 0.0], clip_norm=1.0,
                  label_smoothing=0.05, init="he_uniform", max_iter=100),
    MLPRegressor(loss="huber", huber_delta=0.5, activation="mish", solver="rmsprop", learning_rate="one_cycle",
                 learning_rate_init=0.01, dropout=0.1, init="torch", max_iter=100),
    MLPRegressor(loss="absolute_error", activation="leaky_relu", solver="sgd", weight_decay=1e-3, clip_norm=5.0,
                 max_iter=100),
    MLPClassifier(activation="selu", solver="adagrad", learning_rate_init=0.01, init="lecun_normal", max_iter=100),
]



def expected_failures(estimator):
    """Dropout draws a mask per row: k repeated rows get k masks where one row of weight k gets one, so the
    two fits differ (as with dropout in any library); without dropout the check passes."""
    if estimator.dropout == 0.0:
        return {}
    reason = "dropout masks each repeated row on its own"
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@parametrize_with_checks(ESTIMATORS + MODERN, expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _check_names(estimator):
    return {getattr(check, "func", check).__name__ for _, check in estimator_checks_generator(estimator)}


def test_array_api_check_with_dispatch_enabled():
    if "check_array_api_input" not in _check_names(ESTIMATORS[0]):
        # Older scikit-learn releases (1.7 among them) run it only on estimators that declare array API
        # support, which fastbp's (NumPy arrays only) do not.
        pytest.skip(f"scikit-learn {sklearn.__version__} does not run check_array_api_input on these estimators")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k", "check_array_api_input",
         "-W", "ignore::sklearn.exceptions.ConvergenceWarning"],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(ESTIMATORS + MODERN)} passed" in result.stdout and "skipped" not in result.stdout, result.stdout


# scikit-learn runs this check on its MLPs with these parameters as well (PER_ESTIMATOR_CHECK_PARAMS in
# sklearn/utils/_test_common/instance_generator.py): weight k and k repeated rows are the same objective.
@pytest.mark.parametrize("estimator", [MLPClassifier(solver="lbfgs", max_iter=100),
                                       MLPRegressor(solver="sgd", tol=1e-2, random_state=42, max_iter=100)],
                         ids=["classifier-lbfgs", "regressor-sgd"])
def test_sample_weight_equivalence_with_sklearns_parameters(estimator):
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
