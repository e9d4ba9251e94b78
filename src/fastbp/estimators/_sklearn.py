"""Every scikit-learn name that is private to scikit-learn, in one place: a release that moves one is a fix here.

The drop-ins use scikit-learn's parameter validation, input checks and fit context, and `to_sklearn` /
`from_sklearn` read and write the private state of scikit-learn's fitted MLPs (their optimizer objects,
best weights, label binarizer, no-improvement count). The rest of the package imports these under public
names from here and never touches a scikit-learn private name itself.
"""

import sys
import warnings

from sklearn.base import _fit_context
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight, _num_samples

__all__ = ["Interval", "StrOptions", "fit_context", "check_sample_weight", "num_samples", "first_partial_fit_call",
           "parameter_constraints", "param_names", "SKLEARN_CLASSES", "PRIVATE_STATE", "best_weights",
           "set_best_weights", "optimizer_of", "set_optimizer", "sgd_optimizer", "adam_optimizer", "warn"]


fit_context = _fit_context
check_sample_weight = _check_sample_weight
num_samples = _num_samples
first_partial_fit_call = _check_partial_fit_first_call

# scikit-learn's own estimators, by the name of the drop-in that stands for each (taken at import, before any
# patch_sklearn replaces the names in sklearn.neural_network).
SKLEARN_CLASSES = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}

# Where scikit-learn's MLP issues its warnings.
MLP_MODULE = "sklearn.neural_network._multilayer_perceptron"

# The names of scikit-learn's private attributes that the drop-ins read or write, spelled here once. Its fitted
# MLPs keep their optimizer object, the weights of the best validation score, the label binarizer and the
# no-improvement count under these names; its estimator classes their parameter constraints.
OPTIMIZER, BEST_COEFS, BEST_INTERCEPTS = "_optimizer", "_best_coefs", "_best_intercepts"
PARAMETER_CONSTRAINTS = "_parameter_constraints"
# Private state that to_sklearn and from_sklearn carry as it is, besides the fitted attributes (the weights, the
# optimizer and the best weights are converted on their own). The drop-ins keep it under the same names, which
# scikit-learn's own tests read.
PRIVATE_STATE = ("_label_binarizer", "_no_improvement_count")


def parameter_constraints(sklearn_class):
    """scikit-learn's parameter constraints of one of its estimators, as its validation reads them."""
    return dict(getattr(sklearn_class, PARAMETER_CONSTRAINTS))


def param_names(sklearn_class):
    """The parameters of scikit-learn's estimator class, as get_params lists them."""
    return list(sklearn_class().get_params(deep=False))


def best_weights(estimator):
    """(coefs, intercepts) of the best validation score a fitted scikit-learn MLP keeps, or None."""
    state = vars(estimator)
    return (state[BEST_COEFS], state[BEST_INTERCEPTS]) if BEST_COEFS in state else None


def set_best_weights(estimator, coefs, intercepts):
    setattr(estimator, BEST_COEFS, coefs)
    setattr(estimator, BEST_INTERCEPTS, intercepts)


def optimizer_of(estimator):
    """The optimizer object of a fitted scikit-learn MLP (SGDOptimizer or AdamOptimizer), or None (lbfgs)."""
    return vars(estimator).get(OPTIMIZER)


def set_optimizer(estimator, optimizer):
    setattr(estimator, OPTIMIZER, optimizer)


def sgd_optimizer(params, learning_rate_init, lr_schedule, momentum, nesterov, power_t, velocities, learning_rate):
    """scikit-learn's SGDOptimizer over `params`, in the given state."""
    optimizer = SGDOptimizer(params, learning_rate_init=learning_rate_init, lr_schedule=lr_schedule,
                             momentum=momentum, nesterov=nesterov, power_t=power_t)
    optimizer.velocities, optimizer.learning_rate = velocities, learning_rate
    return optimizer


def adam_optimizer(params, learning_rate_init, beta_1, beta_2, epsilon, ms, vs, t, learning_rate):
    """scikit-learn's AdamOptimizer over `params`, in the given state."""
    optimizer = AdamOptimizer(params, learning_rate_init=learning_rate_init, beta_1=beta_1, beta_2=beta_2,
                              epsilon=epsilon)
    optimizer.ms, optimizer.vs, optimizer.t, optimizer.learning_rate = ms, vs, t, learning_rate
    return optimizer


def _patched():
    """Whether scikit-learn's MLP names are fastbp's drop-ins now (`fastbp.patch_sklearn`)."""
    module = sys.modules.get("sklearn.neural_network")
    return getattr(getattr(module, "MLPClassifier", None), "__module__", "").startswith("fastbp.")


def warn(message, category, module):
    """Issue a warning as scikit-learn's MLP would: under `patch_sklearn`, from scikit-learn's module, so that
    code written for scikit-learn (``filterwarnings(..., module="sklearn")``, as its own examples do) sees
    what it would see with scikit-learn; otherwise from `module` (the caller's name). Either way it points
    at the caller's line, and repeats as scikit-learn's do (one registry per module)."""
    caller = sys._getframe(1)
    module = MLP_MODULE if _patched() else module
    registry = vars(sys.modules[module]).setdefault("__warningregistry__", {})
    warnings.warn_explicit(message, category, caller.f_code.co_filename, caller.f_lineno, module=module,
                           registry=registry, module_globals=caller.f_globals)
