"""`TabularRegressor` and `TabularClassifier`: TabM ensembles for tables as people have them.

A fit prepares the columns (`fastbp.tabular.columns`) from the training rows, builds a `fastbp.MLP` ensemble
(k members trained as one network, piecewise-linear embeddings of the numeric columns, the categorical columns
as lookups of the first layer's rows) and trains it with `fastbp.Trainer`: AdamW, gradient clipping, and early
stopping on the ensemble's validation score with the best epoch's weights restored. The recipe is TabM's
(Gorishniy et al., ICLR 2025, and pytabkit's TabM_D): k = 32 BatchEnsemble members of three 512-unit ReLU
layers (two with embeddings), dropout 0.1, AdamW at 2e-3 with weight decay 3e-4 on the weights and scalings,
clipping at norm 1, batches of 256, patience 16; numeric columns through a quantile-normal transform; the
regression target standardized inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, column_or_1d, validate_data

from fastbp import embeddings, export, persistence
from fastbp._locks import exclusive
from fastbp._transaction import atomic
from fastbp._typing import PathLike, Seed
from fastbp.callbacks import EarlyStopping
from fastbp.estimators._sklearn import Interval, StrOptions, check_sample_weight, fit_context, num_samples
from fastbp.network import MLP
from fastbp.optim import AdamW
from fastbp.tabular.columns import Columns, is_frame, is_polars
from fastbp.tabular.docs import CLASS_WEIGHT, document
from fastbp.tabular.export import check_exportable, encoding
from fastbp.trainer import Trainer

RECIPE_WIDTH = 512
RECIPE_DEPTH = {False: 3, True: 2}  # hidden layers without and with a numeric embedding


class TabularBase(BaseEstimator):
    """What the two estimators share: parameters, the fit, the ensemble's forward pass."""

    _parameter_constraints = {
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "ensemble": [StrOptions({"batch", "mini", "independent"})],
        "hidden_layer_sizes": [None, "array-like"],
        "activation": [str],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "numeric_embedding": [None, StrOptions({"piecewise_linear", "periodic"})],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "d_embedding": [Interval(Integral, 1, None, closed="left")],
        "categorical_features": [None, StrOptions({"from_dtype"}), "array-like"],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "scoring": [StrOptions({"auto", "loss"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, *, ensemble_size: int = 32, ensemble: str = "batch",
                 hidden_layer_sizes: Sequence[int] | None = None, activation: str = "relu", dropout: float = 0.1,
                 numeric_embedding: str | None = "piecewise_linear", n_bins: int = 48, d_embedding: int = 16,
                 categorical_features: Any = "from_dtype", learning_rate: float = 2e-3, weight_decay: float = 3e-4,
                 batch_size: int = 256, clip_norm: float | None = 1.0, max_epochs: int = 1000, patience: int = 16,
                 validation_fraction: float = 0.2, scoring: str = "auto", dtype: str = "float32",
                 random_state: Seed = None, n_threads: int | None = None, verbose: int = 0) -> None:
        self.ensemble_size = ensemble_size
        self.ensemble = ensemble
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.numeric_embedding = numeric_embedding
        self.n_bins = n_bins
        self.d_embedding = d_embedding
        self.categorical_features = categorical_features
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.dtype = dtype
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = self.random_state is None
        return tags

    # --- the fit ---------------------------------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None, *, X_val: Any = None,
            y_val: npt.ArrayLike | None = None, sample_weight_val: npt.ArrayLike | None = None) -> TabularBase:
        """Train on the rows of X (a data frame or array) and targets y, stopping early on the validation rows
        (X_val, y_val, or `validation_fraction` of X's rows); the best epoch's weights are kept. All or nothing:
        a fit that raises leaves the estimator as it was."""
        with exclusive(self, "estimator"), atomic(self):
            return self._fit(X, y, sample_weight, X_val, y_val, sample_weight_val)

    def _fit(self, X, y, sample_weight, X_val, y_val, sample_weight_val):
        X = check_table(self, X, reset=True)
        y = self._targets(y, fit=True)
        n_rows = num_samples(X)
        if n_rows != len(y):
            raise ValueError(f"X has {n_rows} rows and y {len(y)}: they must be the same samples")
        if X_val is None and n_rows < 2:
            raise ValueError(f"a fit needs at least 2 samples, one to train on and one to validate: got {n_rows} "
                             "sample")
        sample_weight = check_sample_weight(sample_weight, np.empty((n_rows, 0)), dtype=np.float64)
        class_weights = self._class_weights(y)
        sample_weight = sample_weight * class_weights(y)
        rng = check_random_state(self.random_state)
        split_seed, init_seed, train_seed = rng.randint(np.iinfo(np.int32).max, size=3)
        if X_val is None:
            if y_val is not None or sample_weight_val is not None:
                raise ValueError("y_val and sample_weight_val need X_val")
            train, val = train_test_split(np.arange(n_rows), test_size=self.validation_fraction,
                                          random_state=split_seed, stratify=self._stratify(y, n_rows))
            X, X_val = rows(X, train), rows(X, val)
            y, y_val = y[train], y[val]
            sample_weight, sample_weight_val = sample_weight[train], sample_weight[val]
        else:
            if y_val is None:
                raise ValueError("X_val needs y_val")
            X_val = check_table(self, X_val, reset=False)
            y_val = self._targets(y_val)
            if num_samples(X_val) != len(y_val):
                raise ValueError("X_val and y_val must be the same samples")
            sample_weight_val = check_sample_weight(sample_weight_val, np.empty((len(y_val), 0)),
                                                    dtype=np.float64) * class_weights(y_val)

        columns = Columns(self.categorical_features, random_state=split_seed).fit(X)
        A, A_val = columns.transform(X, self.dtype), columns.transform(X_val, self.dtype)
        Y, Y_val = self._fit_outputs(y), self._outputs(y_val)
        net = self._network(columns, A, Y.shape[1], init_seed)
        stopping = EarlyStopping(monitor="val_loss" if self.scoring == "loss" else "val_score",
                                 n_iter_no_change=self.patience, tol=0.0, restore_best_weights=True)
        trainer = Trainer(net, AdamW(self.learning_rate, weight_decay=self.weight_decay),
                          batch_size=min(self.batch_size, A.shape[0]), max_epochs=self.max_epochs,
                          random_state=train_seed, early_stopping=stopping, n_threads=self.n_threads,
                          verbose=self.verbose, clip_norm=self.clip_norm)
        history = trainer.fit(A, Y, sample_weight, validation_data=(A_val, Y_val, sample_weight_val))
        self.columns_, self.network_ = columns, net
        self.n_epochs_ = len(history.loss)
        self.best_epoch_ = int(stopping.best_epoch) if stopping.best_epoch is not None else self.n_epochs_ - 1
        self.loss_curve_ = list(history.loss)
        self.validation_scores_ = list(history.val_score)
        self.validation_loss_curve_ = list(history.val_loss)
        return self

    def _network(self, columns, A, n_outputs, seed):
        embedding = None
        numeric = A[:, :columns.n_numeric]
        if self.numeric_embedding is not None and columns.numeric:
            if self.numeric_embedding == "piecewise_linear":
                bins = embeddings.compute_bins(numeric, min(self.n_bins, max(A.shape[0] - 1, 1)))
                embedding = embeddings.PiecewiseLinear(bins, self.d_embedding)
            else:
                embedding = embeddings.Periodic(columns.n_numeric, self.d_embedding)
        hidden = self.hidden_layer_sizes
        if hidden is None:
            hidden = [RECIPE_WIDTH] * RECIPE_DEPTH[embedding is not None]
        return MLP([A.shape[1], *np.atleast_1d(hidden).tolist(), n_outputs], self.activation, self._output,
                   dtype=self.dtype, random_state=int(seed), n_threads=self.n_threads, dropout=self.dropout,
                   ensemble_size=self.ensemble_size, ensemble=self.ensemble, embedding=embedding,
                   categories=columns.cardinalities or None)

    def _class_weights(self, y):
        """The function of targets that gives each row its class's weight, from the training targets y."""
        return lambda y: 1.0

    def _stratify(self, y, n_rows):
        """The labels to stratify the validation split by, or None."""
        return None

    # --- persistence -----------------------------------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Write the fitted network to an .npz file without pickle; ``fastbp.load(path)`` reads it back as a
        `fastbp.MLP` that takes the encoded columns (``columns_.transform``), not the table. Use pickle, joblib
        or skops for the whole estimator."""
        check_is_fitted(self, "network_")
        with exclusive(self, "estimator"):
            persistence.save(self.network_, path)

    def __getstate__(self) -> dict[str, Any]:
        # fastbp's parts as plain values: a pickle names no class of fastbp's but the estimator's, and skops needs
        # to trust only that.
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives the instance's own dict
        if "network_" in state:
            state["network_"] = self.network_.state_dict()
            state["columns_"] = self.columns_.to_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "network_" in state:
            state["network_"] = MLP.from_state_dict(state["network_"])
            state["columns_"] = Columns.from_dict(state["columns_"])
        super().__setstate__(state)

    def to_onnx(self, opset: int = export.MIN_OPSET) -> Any:
        """The fitted estimator, its columns' encoding included, as an ONNX model (an ``onnx.ModelProto``).

        The graph takes "X", float64 (n_samples, ``n_features_in_``): the table's columns in their order, missing
        values as NaN, categorical columns as numbers (their levels must be numbers: string categories are
        refused, naming the column; encode them as integers before fit). A classifier gives "label" (as
        `predict`) and "probabilities" (as `predict_proba`), a regressor "prediction" (as `predict`, float64).
        The normal scores of the quantile transform agree with scikit-learn's to about 1e-9 (the graph's normal
        quantile function is a rational approximation).

        Parameters
        ----------
        opset : int >= 17, default=17
            The ONNX operator set the model declares.

        Returns
        -------
        onnx.ModelProto
            The model; save it with ``onnx.save``.
        """
        check_is_fitted(self, "network_")
        opset = export.check_opset(opset)
        with exclusive(self, "estimator"):
            net, columns = self.network_.copy(), self.columns_
        names = getattr(self, "feature_names_in_", None)
        check_exportable(columns, None if names is None else list(names))
        classifier = is_classifier(self)
        return export.estimator_model(
            net, np.asarray(self.classes_) if classifier else None, opset, f"{type(self).__name__} by fastbp",
            encode=lambda graph, x: encoding(graph, columns, x, net.dtype), n_features=self.n_features_in_,
            target=None if classifier else (self.target_scale_, self.target_mean_))

    # --- prediction ------------------------------------------------------------------------------------------

    def _forward(self, X, members):
        """The ensemble's output activations (n, n_outputs), or each member's (n, k, n_outputs)."""
        check_is_fitted(self, "network_")
        X = check_table(self, X, reset=False)
        return self.network_.forward(self.columns_.transform(X, self.dtype), members=members)


def check_table(estimator, X, reset):
    """X as a data frame or a 2-D array of at least one row and one column, its feature names and count checked
    (and recorded with `reset`) as scikit-learn does; sparse X is refused."""
    if scipy.sparse.issparse(X):
        raise TypeError(f"{type(estimator).__name__} does not support sparse input: pass a dense array or a data "
                        "frame")
    if not is_frame(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D array, got a {X.ndim}D array instead. Reshape your data either using "
                             "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
                             "contains a single sample.")
    for count, what in ((X.shape[0], "sample"), (X.shape[1], "feature")):
        if count == 0:
            raise ValueError(f"Found array with 0 {what}(s) (shape={tuple(X.shape)}) while a minimum of 1 is "
                             "required.")
    validate_data(estimator, X, skip_check_array=True, reset=reset)
    return X


def rows(X, index):
    """Rows `index` of a data frame (pandas' or polars') or an array."""
    if is_polars(X):
        return X[np.asarray(index)]
    return X.iloc[index] if hasattr(X, "iloc") else np.asarray(X)[index]


@document
class TabularRegressor(RegressorMixin, TabularBase):
    """A TabM ensemble for regression on tables: data frames with numeric and categorical columns and missing
    values, or arrays (the user guide's page "Tabular data" gives the recipe). The target is standardized inside
    and the predictions come back in its units.

%(parameters)s%(attributes)s    target_mean_, target_scale_ : float
        The training target's mean and standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import fastbp
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame({"size": rng.rand(200) * 100, "city": rng.choice(["Oslo", "Rome"], 200)})
    >>> y = 3 * X["size"] + np.where(X["city"] == "Oslo", 50, 0)
    >>> reg = fastbp.TabularRegressor(ensemble_size=4, hidden_layer_sizes=(32,), max_epochs=5, random_state=0)
    >>> reg.fit(X, y).predict(X.head(3)).shape
    (3,)
    >>> reg.predict(X.head(3), members=True).shape
    (3, 4)
    >>> reg.columns_.cardinalities
    [2]
    """

    _output = "identity"

    def _targets(self, y, fit=False):
        y = column_or_1d(y, warn=True).astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError("y must be finite: it holds NaN or infinity")
        return y

    def _fit_outputs(self, y):
        self.target_mean_, self.target_scale_ = float(y.mean()), float(y.std()) or 1.0
        return self._outputs(y)

    def _outputs(self, y):
        return ((y - self.target_mean_) / self.target_scale_)[:, None]

    def predict(self, X: Any, members: bool = False) -> np.ndarray:
        """The ensemble's predictions (n,), the mean of the members'; with `members`, each member's (n, k)."""
        out = self._forward(X, members)[..., 0]
        return out.astype(np.float64) * self.target_scale_ + self.target_mean_


@partial(document, class_weight=CLASS_WEIGHT)
class TabularClassifier(ClassifierMixin, TabularBase):
    """A TabM ensemble for classification on tables: data frames with numeric and categorical columns and missing
    values, or arrays (the user guide's page "Tabular data" gives the recipe). Probabilities are the mean of the
    members'.

%(parameters)s%(attributes)s    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import fastbp
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame({"age": rng.rand(200) * 80, "plan": rng.choice(["basic", "pro", None], 200)})
    >>> y = np.where(X["age"] > 40, "yes", "no")
    >>> clf = fastbp.TabularClassifier(ensemble_size=4, hidden_layer_sizes=(32,), max_epochs=5, random_state=0)
    >>> clf.fit(X, y).classes_.tolist()
    ['no', 'yes']
    >>> clf.predict_proba(X.head(2)).shape
    (2, 2)
    >>> clf.predict(pd.DataFrame({"age": [70.0], "plan": ["enterprise"]})).shape  # a plan never seen: unknown
    (1,)
    """

    _parameter_constraints = {**TabularBase._parameter_constraints,
                              "class_weight": [None, dict, StrOptions({"balanced"})]}

    def __init__(self, *, ensemble_size: int = 32, ensemble: str = "batch",
                 hidden_layer_sizes: Sequence[int] | None = None, activation: str = "relu", dropout: float = 0.1,
                 numeric_embedding: str | None = "piecewise_linear", n_bins: int = 48, d_embedding: int = 16,
                 categorical_features: Any = "from_dtype", learning_rate: float = 2e-3, weight_decay: float = 3e-4,
                 batch_size: int = 256, clip_norm: float | None = 1.0, max_epochs: int = 1000, patience: int = 16,
                 validation_fraction: float = 0.2, scoring: str = "auto", class_weight: Any = None,
                 dtype: str = "float32", random_state: Seed = None, n_threads: int | None = None,
                 verbose: int = 0) -> None:
        super().__init__(ensemble_size=ensemble_size, ensemble=ensemble, hidden_layer_sizes=hidden_layer_sizes,
                         activation=activation, dropout=dropout, numeric_embedding=numeric_embedding, n_bins=n_bins,
                         d_embedding=d_embedding, categorical_features=categorical_features,
                         learning_rate=learning_rate, weight_decay=weight_decay, batch_size=batch_size,
                         clip_norm=clip_norm, max_epochs=max_epochs, patience=patience,
                         validation_fraction=validation_fraction, scoring=scoring, dtype=dtype,
                         random_state=random_state, n_threads=n_threads, verbose=verbose)
        self.class_weight = class_weight

    @property
    def _output(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _targets(self, y, fit=False):
        y = column_or_1d(y, warn=True)
        if fit:
            check_classification_targets(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"y has one class ({self.classes_[0]!r}); a classifier needs at least 2")
            return np.searchsorted(self.classes_, y)
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y_val has classes not in y: {unseen.tolist()}")
        return np.searchsorted(self.classes_, y)

    def _fit_outputs(self, y):
        return self._outputs(y)

    def _outputs(self, y):
        if len(self.classes_) == 2:
            return y.astype(np.float64)[:, None]
        return np.eye(len(self.classes_))[y]

    def _class_weights(self, y):
        if self.class_weight is None:
            return lambda y: 1.0
        weights = self.class_weight
        if isinstance(weights, dict):
            unknown = [label for label in weights if label not in self.classes_]
            if unknown:
                raise ValueError(f"class_weight names classes {unknown} that y does not have")
            weights = {int(np.searchsorted(self.classes_, label)): weight for label, weight in weights.items()}
        by_code = compute_class_weight(weights, classes=np.arange(len(self.classes_)), y=y)
        return lambda y: by_code[y]

    def _stratify(self, y, n_rows):
        # Only where every class can be on both sides; a random split otherwise (a tiny or very uneven y).
        n_val = int(np.ceil(self.validation_fraction * n_rows))
        counts = np.bincount(y)
        return y if counts.min() >= 2 and min(n_val, n_rows - n_val) >= len(counts) else None

    def predict_proba(self, X: Any, members: bool = False) -> np.ndarray:
        """Class probabilities (n, n_classes): the mean of the members'; with `members`, each member's
        (n, k, n_classes)."""
        p = self._forward(X, members).astype(np.float64)
        return np.concatenate([1 - p, p], axis=-1) if len(self.classes_) == 2 else p

    def predict(self, X: Any, members: bool = False) -> np.ndarray:
        """The most probable class of each row (n,); with `members`, each member's (n, k)."""
        best = self.predict_proba(X, members).argmax(axis=-1)
        return self.classes_[best]
