"""The drop-ins' parameters: fastbp's additions to scikit-learn's constraints, and the checks and conventions
that scikit-learn's own validation does not cover."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse

from fastbp import _validation as v
from fastbp.estimators._sklearn import Interval, StrOptions, num_samples

# Parameters fastbp adds to scikit-learn's, with their constraints.
EXTRA_CONSTRAINTS = {
    "dtype": [None, StrOptions({"float32", "float64"}), type, np.dtype],
    "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    "thread_invariant": ["boolean"],
    "callbacks": [None, list, tuple],
    "progress_bar": ["boolean"],
    "comm": "no_validation",  # checked in fit: mpi4py is optional
}
# The model and training options fastbp adds (beside scikit-learn's), and the values it adds to scikit-learn's
# own parameters: these override scikit-learn's constraints of activation, solver and learning_rate.
RATE = Interval(Real, 0, 1, closed="left")
MODEL_CONSTRAINTS = {
    "activation": [StrOptions(set(v.HIDDEN_ACTIVATIONS) | set(v.ACTIVATION_ALIASES)), list, tuple],
    "solver": [StrOptions({"lbfgs", "sgd", "adam", "adamw", "rmsprop", "adagrad"})],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "warmup_cosine", "one_cycle"})],
    "warmup_fraction": [None, Interval(Real, 0, 1, closed="neither")],
    "dropout": [RATE, list, tuple],
    "init": [StrOptions(set(v.INITS))],
    "weight_decay": [None, Interval(Real, 0, None, closed="left")],
    "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
}
CLASSIFIER_CONSTRAINTS = {"class_weight": [dict, StrOptions({"balanced"}), None], "label_smoothing": [RATE]}
REGRESSOR_CONSTRAINTS = {"loss": [StrOptions({"squared_error", "poisson", "huber", "absolute_error"})],
                         "huber_delta": [Interval(Real, 0, None, closed="neither")]}
STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
# What scikit-learn's estimators can represent: to_sklearn refuses other values of these parameters.
SKLEARN_VALUES = {"activation": ("identity", "logistic", "tanh", "relu"),
                  "solver": ("lbfgs", "sgd", "adam"), "learning_rate": ("constant", "invscaling", "adaptive"),
                  "loss": ("squared_error", "poisson")}
# Attributes only the stochastic solvers set.
STOCHASTIC_ATTRIBUTES = ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                         "validation_loss_curve_", "_no_improvement_count")
# Fitted attributes of fastbp's that scikit-learn's estimators do not have (left out by to_sklearn).
FASTBP_ATTRIBUTES = ("validation_loss_curve_",)
# scikit-learn's message when a solver ends with non-finite weights; fastbp adds its advice after it.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large values "
                      "and need to be preprocessed.")


def hidden_layer_sizes(value):
    sizes = list(value) if hasattr(value, "__iter__") else [value]
    return [v.check_int(f"hidden_layer_sizes[{i}]", size, minimum=1) for i, size in enumerate(sizes)]


def sparse_structure_checked(X):
    """X, after `check_sparse_structure` when it is sparse: scikit-learn's validation converts it to CSR with
    scipy, which trusts the index arrays."""
    if scipy.sparse.issparse(X):
        v.check_sparse_structure(X)
    return X


def check_not_empty(X):
    if num_samples(X) == 0:
        raise ValueError(f"X is empty: it has 0 samples (shape {getattr(X, 'shape', (0,))})")


def check_solver_options(est, incremental):
    """Refuse, by name, the parameters the chosen solver cannot honour: before a fit changes anything."""
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if est.solver == "lbfgs":
        if est.callbacks:
            raise ValueError("callbacks are run by the stochastic solvers ('sgd', 'adam', ...); solver='lbfgs' "
                             "does not run them")
        dropout = est.dropout if isinstance(est.dropout, (list, tuple)) else [est.dropout]
        for name, unset in (("dropout", not any(dropout)), ("clip_norm", est.clip_norm is None),
                            ("weight_decay", est.weight_decay is None)):
            if not unset:
                raise ValueError(f"{name} is for the stochastic solvers; solver='lbfgs' minimizes the objective "
                                 f"of all the data, without it: use {name}={'0.0' if name == 'dropout' else 'None'}"
                                 " or a stochastic solver")
    elif est.weight_decay is not None and est.solver not in ("sgd", "adamw"):
        raise ValueError(f"weight_decay is for solver='sgd' or 'adamw', not solver={est.solver!r} (use alpha, the "
                         "L2 penalty, there; or weight_decay=None)")


def stochastic_solver(estimator):
    """`available_if` predicate of partial_fit: the stochastic solvers only, with scikit-learn's message."""
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} is "
                             "not stochastic.")
    return True


def store(estimator, params):
    """__init__ stores its arguments unchanged, as scikit-learn requires; validation happens in fit."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def is_fitted_attribute(name):
    """scikit-learn's convention: fitted attributes end with one underscore."""
    return name.endswith("_") and not name.startswith("_")
