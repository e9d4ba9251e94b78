"""`MLPRegressor`: the drop-in for scikit-learn's regressor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d, validate_data

from fastbp import _validation as v
from fastbp._typing import Data, Seed
from fastbp.estimators._sklearn import SKLEARN_CLASSES, fit_context, parameter_constraints
from fastbp.estimators.base import BaseMLP
from fastbp.estimators.docs import (
    COMMON_ATTRIBUTES,
    COMMON_PARAMETERS,
    FASTBP_PARAMETERS,
    MODEL_PARAMETERS,
    NOTES,
    estimator_doc,
)
from fastbp.estimators.params import (
    EXTRA_CONSTRAINTS,
    MODEL_CONSTRAINTS,
    REGRESSOR_CONSTRAINTS,
    sparse_structure_checked,
    stochastic_solver,
    store,
)


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = estimator_doc(
        "Multi-layer perceptron regressor, a drop-in for scikit-learn's, trained by fastbp's compiled core.",
        """\
loss="squared_error" gives an identity output with half the squared error (summed over the outputs),
loss="poisson" an exponential output with half the Poisson deviance, for counts; "huber" and
"absolute_error" an identity output with a loss robust to outliers. Dense and
scipy.sparse X (used as CSR, without a dense copy) are accepted.""",
        ("loss",) + COMMON_PARAMETERS + MODEL_PARAMETERS + ("huber_delta",) + FASTBP_PARAMETERS,
        COMMON_ATTRIBUTES,
        ["MLPClassifier : The classifier of the same network.",
         "fastbp.MLP : The network itself, with its own forward pass and gradient.",
         "fastbp.Trainer : Minibatch training of an `MLP`, with callbacks and schedules.",
         "sklearn.neural_network.MLPRegressor : The scikit-learn regressor that `to_sklearn` returns."],
        NOTES,
        """\
>>> import numpy as np
>>> from fastbp import MLPRegressor
>>> X = np.random.RandomState(0).uniform(-2, 2, (200, 2))
>>> y = np.sin(X[:, 0]) + X[:, 1] ** 2 / 4
>>> reg = MLPRegressor(hidden_layer_sizes=(32,), activation="tanh",
...                    learning_rate_init=0.01, random_state=0).fit(X, y)
>>> reg.predict(X[:2]).shape
(2,)
>>> reg.score(X, y) > 0.95
True""")

    _parameter_constraints = {**parameter_constraints(SKLEARN_CLASSES["MLPRegressor"]), **MODEL_CONSTRAINTS,
                              **REGRESSOR_CONSTRAINTS, **EXTRA_CONSTRAINTS}

    def __init__(self, loss: str = "squared_error", hidden_layer_sizes: int | Sequence[int] = (100,),
                 activation: str | Sequence[str] = "relu", *, solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state: Seed = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 max_fun: int = 15000, warmup_fraction: float | None = None, dropout: float | Sequence[float] = 0.0,
                 init: str = "sklearn", weight_decay: float | None = None, clip_norm: float | None = None,
                 huber_delta: float = 1.0, dtype: npt.DTypeLike | None = None, n_threads: int | None = None,
                 thread_invariant: bool = False, callbacks: Sequence[Any] | None = None, progress_bar: bool = False,
                 comm: Any = None) -> None:
        store(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, sparse_structure_checked(X), y, accept_sparse="csr", multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for loss='poisson'.")
        return X, y.reshape(-1, 1) if y.ndim == 1 else y, None

    def _output(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_options(self):
        return {"loss": self.loss if self.loss in ("huber", "absolute_error") else None,
                "huber_delta": self.huber_delta}

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Data, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> MLPRegressor:
        """Fit the model to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; sparse X is used as CSR without a dense copy.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets (non-negative for loss="poisson").
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        Returns
        -------
        self : MLPRegressor
            The fitted regressor.
        """
        return self._fit(X, y, sample_weight)

    @available_if(stochastic_solver)
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Data, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
                    epochs: int = 1) -> MLPRegressor:
        """Update the model with passes of the stochastic solver over one batch of data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; sparse X is used as CSR without a dense copy.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.
        epochs : int >= 1, default=1
            Passes over this batch (fastbp's; scikit-learn makes one).

        Returns
        -------
        self : MLPRegressor
            The updated regressor.
        """
        epochs = v.check_int("epochs", epochs, minimum=1)
        return self._fit(X, y, sample_weight, incremental=True, epochs=epochs)

    def predict(self, X: Data) -> np.ndarray:
        """Predict the targets of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predictions, one column per output (flattened for one output).
        """
        y_hat = self._forward(X)
        return y_hat.ravel() if y_hat.shape[1] == 1 else y_hat
