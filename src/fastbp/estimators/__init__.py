"""Drop-ins for scikit-learn's `MLPClassifier` and `MLPRegressor`, trained by fastbp's compiled core.

scikit-learn's `sklearn.neural_network` is the specification: the same parameters (checked by its own
parameter constraints), fitted attributes and methods, and the same use of the random stream (initial
weights, then the early-stopping split, then one shuffle per epoch), so with an integer `random_state` the
fitted weights equal scikit-learn's to rounding. The stochastic solvers (scikit-learn's sgd and adam, and
fastbp's adamw, rmsprop and adagrad) run in `fastbp.Trainer`, one compiled call per epoch; lbfgs runs
SciPy's L-BFGS-B on `MLP.loss_and_grad` over the flat parameters. scikit-learn's own tests
(`sklearn/neural_network/tests/test_mlp.py`) run against these classes in tests/test_sklearn_conformance.py.
Fitted attributes set from outside (`coefs_`, `intercepts_`, `t_`,
`loss_curve_`, ...) are what training starts from, as in scikit-learn; `to_sklearn` and `from_sklearn`
convert to and from scikit-learn's estimators. Sparse X is used as CSR without a dense copy (scikit-learn's
validation converts CSC, COO and the other formats to CSR once, a copy of the matrix).

Deliberate differences from scikit-learn, all documented in the user guide's page on the drop-ins:
- the multi-output squared error is reported as the sum over outputs of (y - y_hat)^2 / 2, the function
  whose gradient both libraries follow (scikit-learn reports the mean over outputs). For single-output
  regression and all classification the two agree;
- losses are computed from the logits, not from clipped probabilities, so `loss_` differs where
  predictions saturate; `predict_log_proba` is log(predict_proba) except where a probability underflows
  (below the smallest normal float), where it comes from the logits and stays finite;
- an epoch that diverges with early_stopping=True is recorded as scikit-learn records it (NaN loss and
  validation score) and training ends there with the best weights; scikit-learn runs its remaining epochs
  on the non-finite weights, recording NaN for each, so its `n_iter_` counts to max_iter;
- a minibatch whose sample weights are all zero is skipped (scikit-learn raises ZeroDivisionError);
- `partial_fit` is unavailable with solver="lbfgs" for the regressor as for the classifier;
- with lbfgs, float32 data gives float32 weights (scikit-learn's come back as float64).

The package is split by concern: `params` (fastbp's parameters and checks), `docs` (the docstrings), `base`
(the fit's dispatch, the network, prediction), `stochastic` and `lbfgs` (the solvers), `convert` (to and
from scikit-learn), `persistence` (save and pickling), `classifier` and `regressor`; every name private to
scikit-learn is used in `_sklearn` only.
"""

from fastbp.estimators.classifier import MLPClassifier
from fastbp.estimators.regressor import MLPRegressor
from fastbp.estimators.stochastic import Solver

__all__ = ["MLPClassifier", "MLPRegressor"]

# The classes' public path, which pickles, skops's trusted types, numpydoc and the API pages name.
MLPClassifier.__module__ = MLPRegressor.__module__ = __name__
# Pickles of fastbp 0.1 name the solver state `fastbp.estimators._Solver`.
_Solver = Solver
