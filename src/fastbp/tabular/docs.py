"""The parameters and attributes the two tabular estimators' docstrings share."""

CLASS_WEIGHT = """    class_weight : "balanced", dict or None, default=None
        Weights of the samples of each class, as scikit-learn's estimators take them (from the training rows,
        applied to the validation rows too).
"""

PARAMETERS = """    Parameters
    ----------
    ensemble_size : int >= 1, default=32
        The members k, trained at once as one network; predictions are their mean.
    ensemble : {"batch", "mini", "independent"}, default="batch"
        TabM (BatchEnsemble layers), TabM-mini (one scaling before shared layers) or k independent MLPs
        (`fastbp.MLP`'s ``ensemble``).
    hidden_layer_sizes : sequence of int or None, default=None
        The hidden layers; None is the recipe's: two of 512 with a numeric embedding, three without.
    activation : str, default="relu"
        The hidden layers' activation (any of `fastbp.MLP`'s).
    dropout : float in [0, 1), default=0.1
    numeric_embedding : {"piecewise_linear", "periodic"} or None, default="piecewise_linear"
        How the numeric columns enter the first layer: `fastbp.embeddings.PiecewiseLinear` over `n_bins` quantile
        bins of the training rows, `fastbp.embeddings.Periodic`, or as they are.
    n_bins : int >= 1, default=48
    d_embedding : int >= 1, default=16
    categorical_features : "from_dtype", None, names, indices or a boolean mask, default="from_dtype"
        Which columns are categorical, as scikit-learn's ``HistGradientBoosting*`` take it: "from_dtype" is a
        data frame's category, object, string and bool columns.
    learning_rate : float > 0, default=2e-3
        AdamW's.
    weight_decay : float >= 0, default=3e-4
        AdamW's decoupled weight decay, on the weights and scalings (not the biases or the embeddings' linear
        terms: ``fastbp.layout.POLICY``).
    batch_size : int >= 1, default=256
    clip_norm : float > 0 or None, default=1.0
        The largest norm of each step's gradient.
    max_epochs : int >= 1, default=1000
    patience : int >= 1, default=16
        Training stops after this many epochs in a row without a better validation score; the best epoch's
        weights are kept.
    validation_fraction : float in (0, 1), default=0.2
        The share of the rows held out for early stopping when ``fit`` is given no ``X_val``.
    scoring : {"auto", "loss"}, default="auto"
        What early stopping follows: the ensemble's validation score ("auto": accuracy, or R² for regression,
        which orders fits as RMSE does) or its validation loss.
%(class_weight)s    dtype : {"float32", "float64"}, default="float32"
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the validation split, the initial weights and the shuffles.
    n_threads : int >= 1 or None, default=None
    verbose : int, default=0
        1 draws a progress bar, 2 prints a line per epoch.

"""

ATTRIBUTES = """    Attributes
    ----------
    columns_ : fastbp.tabular.columns.Columns
        The columns' encoding learned from the training rows: ``categorical``, ``cardinalities``, ``n_numeric``.
    network_ : fastbp.MLP
        The trained ensemble, with the best epoch's weights.
    n_epochs_ : int
        Epochs trained.
    best_epoch_ : int
        The epoch (from 0) whose weights were kept.
    loss_curve_ : list of float
        Each epoch's training loss.
    validation_scores_ : list of float
        Each epoch's validation score (accuracy, or R²).
    validation_loss_curve_ : list of float
        Each epoch's validation loss.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X is a data frame with string column names.
"""


def document(cls, class_weight=""):
    """Put the shared parameters (with `class_weight`'s entry, for the classifier) and attributes into the
    docstring of `cls`."""
    cls.__doc__ = cls.__doc__ % {"parameters": PARAMETERS % {"class_weight": class_weight}, "attributes": ATTRIBUTES}
    return cls
