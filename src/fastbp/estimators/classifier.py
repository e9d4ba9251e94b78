"""`MLPClassifier`: the drop-in for scikit-learn's classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from fastbp import _validation as v
from fastbp import distributed, reference
from fastbp._typing import Data, Seed
from fastbp.estimators._sklearn import SKLEARN_CLASSES, first_partial_fit_call, fit_context, parameter_constraints
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
    CLASSIFIER_CONSTRAINTS,
    EXTRA_CONSTRAINTS,
    MODEL_CONSTRAINTS,
    sparse_structure_checked,
    stochastic_solver,
    store,
)


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = estimator_doc(
        "Multi-layer perceptron classifier, a drop-in for scikit-learn's, trained by fastbp's compiled core.",
        """\
Binary targets and multilabel indicator matrices get logistic outputs with binary cross-entropy,
multiclass targets a softmax output with cross-entropy. Dense and scipy.sparse X (used as CSR,
without a dense copy) are accepted.""",
        COMMON_PARAMETERS + ("class_weight",) + MODEL_PARAMETERS + ("label_smoothing",) + FASTBP_PARAMETERS,
        ("classes_",) + COMMON_ATTRIBUTES,
        ["MLPRegressor : The regressor of the same network.",
         "fastbp.MLP : The network itself, with its own forward pass and gradient.",
         "fastbp.Trainer : Minibatch training of an `MLP`, with callbacks and schedules.",
         "sklearn.neural_network.MLPClassifier : The scikit-learn classifier that `to_sklearn` returns."],
        NOTES,
        """\
>>> from sklearn.datasets import load_iris
>>> from fastbp import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
...                     max_iter=500, random_state=0).fit(X, y)
>>> clf.predict(X[:3])
array([0, 0, 0])
>>> clf.predict_proba(X[:1]).shape
(1, 3)
>>> clf.score(X, y) > 0.95
True""")

    _parameter_constraints = {**parameter_constraints(SKLEARN_CLASSES["MLPClassifier"]), **MODEL_CONSTRAINTS,
                              **CLASSIFIER_CONSTRAINTS, **EXTRA_CONSTRAINTS}

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,), activation: str | Sequence[str] = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001,
                 batch_size: int | str = "auto", learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True, random_state: Seed = None,
                 tol: float = 1e-4, verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False, validation_fraction: float = 0.1,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10,
                 max_fun: int = 15000, class_weight: dict | str | None = None,
                 warmup_fraction: float | None = None, dropout: float | Sequence[float] = 0.0, init: str = "sklearn",
                 weight_decay: float | None = None, clip_norm: float | None = None, label_smoothing: float = 0.0,
                 dtype: npt.DTypeLike | None = None, n_threads: int | None = None,
                 thread_invariant: bool = False, callbacks: Sequence[Any] | None = None, progress_bar: bool = False,
                 comm: Any = None) -> None:
        store(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, sparse_structure_checked(X), y, accept_sparse="csr", multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            multilabel = type_of_target(y).startswith("multilabel")
            self._label_binarizer = LabelBinarizer().fit(y if multilabel else self._labels(y))
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = self._labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     f"call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y), y

    def _labels(self, y):
        """The labels in y, and with `comm`, in every rank's y."""
        labels = unique_labels(y)
        return labels if self.comm is None else unique_labels(np.concatenate(self.comm.allgather(labels)))

    def _output(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss_options(self):
        return {"label_smoothing": self.label_smoothing}

    def _sample_weight(self, sample_weight, X, labels, incremental):
        sample_weight = super()._sample_weight(sample_weight, X, labels, incremental)
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multilabel targets; pass sample_weight instead")
        if isinstance(self.class_weight, str):  # "balanced"
            if incremental:
                raise ValueError("class_weight='balanced' needs the class counts of all the data, which "
                                 "partial_fit does not see; pass a dict of class weights instead")
            counts = np.bincount(np.searchsorted(self.classes_, labels), minlength=len(self.classes_))
            counts = distributed.total(self.comm, counts.astype(np.float64))  # of every rank's rows
            per_class = counts.sum() / (len(self.classes_) * counts)
        else:
            unknown = [c for c in self.class_weight if c not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(f"class_weight has labels {unknown} that are not classes ({self.classes_.tolist()})")
            per_class = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()], dtype=float)
            if not (np.isfinite(per_class) & (per_class >= 0)).all():
                raise ValueError(f"class_weight values must be finite and >= 0, got {self.class_weight}")
        weights = per_class[np.searchsorted(self.classes_, labels)].astype(X.dtype)
        return weights if sample_weight is None else sample_weight * weights

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Data, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None) -> MLPClassifier:
        """Fit the model to data X and labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; sparse X is used as CSR without a dense copy.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.

        Returns
        -------
        self : MLPClassifier
            The fitted classifier.
        """
        return self._fit(X, y, sample_weight)

    @available_if(stochastic_solver)
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Data, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
                    classes: npt.ArrayLike | None = None, epochs: int = 1) -> MLPClassifier:
        """Update the model with passes of the stochastic solver over one batch of data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; sparse X is used as CSR without a dense copy.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.
        classes : array-like of shape (n_classes,), default=None
            Every label y may take, over all calls; required on the first call unless y is multilabel,
            ignored on later ones.
        epochs : int >= 1, default=1
            Passes over this batch (fastbp's; scikit-learn makes one).

        Returns
        -------
        self : MLPClassifier
            The updated classifier.
        """
        epochs = v.check_int("epochs", epochs, minimum=1)
        return self._fit(X, y, sample_weight, incremental=True, epochs=epochs, classes=classes)

    def _start_partial_fit(self, y, classes):
        if first_partial_fit_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)

    def predict(self, X: Data) -> np.ndarray:
        """Predict the class labels of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted labels, or for multilabel targets the indicator matrix.
        """
        y_hat = self._forward(X)
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":  # LabelBinarizer.inverse_transform's answer, without its checks (most of a row's time)
            return self.classes_.take(y_hat.argmax(axis=1))
        if kind == "binary":  # its threshold: halfway between the negative and the positive label
            return self.classes_[(y_hat[:, 0] > 0.5).astype(np.intp)]
        return self._label_binarizer.inverse_transform(y_hat.ravel() if self.n_outputs_ == 1 else y_hat)

    def predict_proba(self, X: Data) -> np.ndarray:
        """Estimate the probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The probabilities, columns in the order of `classes_` (each row sums to 1 except for
            multilabel targets, whose columns are independent).
        """
        return self._proba(self._forward(X))

    def _proba(self, y_hat):
        return np.column_stack([1 - y_hat[:, 0], y_hat[:, 0]]) if self.n_outputs_ == 1 else y_hat

    def predict_log_proba(self, X: Data) -> np.ndarray:
        """Estimate the log of the probability of each class.

        This is log(predict_proba(X)), except where a probability underflows (below the smallest normal
        float): there the log-probability comes from the logits and stays finite, where scikit-learn's is
        -inf.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            The log-probabilities, columns in the order of `classes_`.
        """
        X = self._check_X(X)
        net = self._network()
        proba = self._proba(net.forward(X))
        with np.errstate(divide="ignore"):
            log_proba = np.log(proba)
        underflow = proba < np.finfo(proba.dtype).tiny
        if underflow.any():
            z = net.logits(X)
            if self.out_activation_ == "softmax":
                exact = z - reference.logsumexp(z)
            elif self.n_outputs_ == 1:  # log(1 - sigmoid(z)), log(sigmoid(z))
                exact = np.column_stack([-reference.softplus(z[:, 0]), -reference.softplus(-z[:, 0])])
            else:
                exact = -reference.softplus(-z)
            log_proba[underflow] = exact[underflow]
        return log_proba

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
