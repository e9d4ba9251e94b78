"""The drop-ins' parameters: fastbp's additions to scikit-learn's constraints, and the checks and conventions
that scikit-learn's own validation does not cover."""

from numbers import Integral

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
CLASS_WEIGHT_CONSTRAINT = [dict, StrOptions({"balanced"}), None]
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


def stochastic_solver(estimator):
    """`available_if` predicate of partial_fit: sgd and adam only, with scikit-learn's message."""
    if estimator.solver not in ("sgd", "adam"):
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
