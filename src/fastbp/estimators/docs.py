"""The drop-in estimators' numpydoc docstrings, assembled from one description per parameter and attribute.

`MLPClassifier` and `MLPRegressor` share most of their parameters and fitted attributes; each is written
once here, so the two docstrings cannot drift apart. scikit-learn's own docstring tests
(`sklearn/tests/test_docstrings.py`, `test_docstring_parameters.py`) run on the assembled text.
"""

import textwrap

PARAMETERS = {
    "loss": """\
loss : {"squared_error", "poisson", "huber", "absolute_error"}, default="squared_error"
    The loss, and with it the output activation: "squared_error" is half the squared error summed over the
    outputs, with an identity output; "poisson" is half the Poisson deviance, with an exponential output,
    for counts (y >= 0); "huber" (see `huber_delta`, as ``torch.nn.HuberLoss``) and "absolute_error" are
    robust to outliers, with an identity output (fastbp's; scikit-learn's MLP has neither).""",
    "hidden_layer_sizes": """\
hidden_layer_sizes : array-like of int of shape (n_hidden_layers,), or int, default=(100,)
    The number of units of each hidden layer, first to last. An int is one hidden layer.""",
    "activation": """\
activation : str or list of str, default="relu"
    The activation of every hidden unit, or a list of one per hidden layer: scikit-learn's "identity"
    f(z) = z, "logistic" f(z) = 1 / (1 + exp(-z)), "tanh" f(z) = tanh(z), "relu" f(z) = max(z, 0), and
    fastbp's "leaky_relu", "elu", "selu", "softplus", "gelu", "gelu_tanh", "silu" (alias "swish") and
    "mish", each as PyTorch defines it (see `fastbp.MLP`).""",
    "solver": """\
solver : {"lbfgs", "sgd", "adam", "adamw", "rmsprop", "adagrad"}, default="adam"
    How the weights are optimized. "sgd" (minibatch gradient descent, with momentum), "adam", and fastbp's
    "adamw" (`beta_1`, `beta_2`, `epsilon`, `weight_decay`), "rmsprop" and "adagrad" (`epsilon`, and
    PyTorch's defaults for the rest: `fastbp.RMSprop`, `fastbp.Adagrad`) run in fastbp's compiled core, one
    call per epoch; "lbfgs" runs SciPy's L-BFGS-B on the whole data's objective and gradient, and often
    converges faster on small data sets.""",
    "alpha": """\
alpha : float >= 0, default=0.0001
    Strength of the L2 penalty on the coefficients (not the intercepts): the objective adds
    alpha / (2 S) times the sum of their squares, S the sum of the sample weights (the number of samples
    without weights).""",
    "batch_size": """\
batch_size : int >= 1 or "auto", default="auto"
    Rows per minibatch of the stochastic solvers; "auto" is min(200, n_samples). A size larger than the training
    set is clipped to it, with a warning. Not used by "lbfgs".""",
    "learning_rate": """\
learning_rate : {"constant", "invscaling", "adaptive", "warmup_cosine", "one_cycle"}, default="constant"
    The schedule of the learning rate, from `learning_rate_init`. scikit-learn's, for "sgd" only (the
    other solvers keep the rate constant): "constant" keeps it; "invscaling" sets it to
    learning_rate_init / (t + 1) ** power_t after each epoch, t the number of samples seen; "adaptive"
    divides it by 5 whenever `n_iter_no_change` consecutive epochs fail to improve by `tol` (the
    training loss, or the validation score with `early_stopping`), and stops once it falls below 1e-6.
    fastbp's, per minibatch step, for every stochastic solver, over the ``max_iter`` epochs' steps:
    "warmup_cosine" rises linearly over the first `warmup_fraction` of them, then falls along a cosine
    to 0 (`fastbp.schedules.WarmupCosine`); "one_cycle" is PyTorch's OneCycleLR with peak
    learning_rate_init (`fastbp.schedules.OneCycle`). Not used by "lbfgs".""",
    "learning_rate_init": """\
learning_rate_init : float > 0, default=0.001
    The step size of the stochastic solvers (the first one, for a schedule).""",
    "power_t": """\
power_t : float, default=0.5
    The exponent of the "invscaling" schedule.""",
    "max_iter": """\
max_iter : int >= 1, default=200
    The most epochs (passes over the training data) of the stochastic solvers, or iterations of "lbfgs".""",
    "shuffle": """\
shuffle : bool, default=True
    Whether the stochastic solvers reshuffle the rows every epoch.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    The random stream, drawn in scikit-learn's order: the initial weights, then the `early_stopping`
    split, then the shuffle of every epoch. An int gives the same fit every time (and, for the same
    thread count, the same bits).""",
    "tol": """\
tol : float >= 0, default=1e-4
    The improvement that counts: training stops once `n_iter_no_change` consecutive epochs improve the
    training loss (or, with `early_stopping`, the validation score) by less than `tol`, unless the
    schedule is "adaptive". For "lbfgs", SciPy's gradient tolerance ``gtol``.""",
    "verbose": """\
verbose : bool, default=False
    Print scikit-learn's progress lines: the loss (and validation score) of every epoch, or of every
    "lbfgs" iteration, and why training stopped.""",
    "warm_start": """\
warm_start : bool, default=False
    Whether `fit` continues from the weights of the previous fit instead of drawing new ones. The network
    (its layer sizes, dtype and, for the classifier, its classes) must stay the same.""",
    "momentum": """\
momentum : float in [0, 1], default=0.9
    The momentum of "sgd".""",
    "nesterovs_momentum": """\
nesterovs_momentum : bool, default=True
    Whether "sgd" uses Nesterov's momentum (when `momentum` > 0).""",
    "early_stopping": """\
early_stopping : bool, default=False
    Whether the stochastic solvers hold out `validation_fraction` of the training data (stratified for a
    single label column) and stop when its score stops improving by `tol` for `n_iter_no_change` epochs; the
    model ends with the weights of the best validation score. Without it, training stops when the
    training loss stops improving.""",
    "validation_fraction": """\
validation_fraction : float in (0, 1), default=0.1
    The share of the training data held out with `early_stopping`.""",
    "beta_1": """\
beta_1 : float in [0, 1), default=0.9
    The decay rate of "adam"'s running mean of the gradient.""",
    "beta_2": """\
beta_2 : float in [0, 1), default=0.999
    The decay rate of "adam"'s running mean of the squared gradient.""",
    "epsilon": """\
epsilon : float > 0, default=1e-8
    The term "adam" adds to the square root of its second moment, so that it never divides by zero.""",
    "n_iter_no_change": """\
n_iter_no_change : int >= 1, default=10
    How many consecutive epochs without an improvement of `tol` end the training of the stochastic solvers.""",
    "max_fun": """\
max_fun : int >= 1, default=15000
    The most evaluations of the objective and gradient that "lbfgs" makes.""",
    "class_weight": """\
class_weight : dict, "balanced" or None, default=None
    Weights of the classes, multiplying `sample_weight`: a dict {label: weight} (labels not named weigh
    1), or "balanced" for n_samples / (n_classes * the class's count). Not for multilabel targets;
    "balanced" is not available to `partial_fit`, which sees one batch at a time.""",
    "warmup_fraction": """\
warmup_fraction : float in (0, 1) or None, default=None
    The share of the steps that warm up: "warmup_cosine" rises over it (None: 0.1), "one_cycle" rises
    over it (its pct_start; None: 0.3).""",
    "dropout": """\
dropout : float in [0, 1) or list of float, default=0.0
    The dropout rate of the hidden layers, or one per hidden layer: inverted dropout while fitting
    (never in `predict`), with masks drawn from `random_state` that repeat bitwise and do not depend on
    threads. For the stochastic solvers; "lbfgs" refuses it.""",
    "init": """\
init : str, default="sklearn"
    How the initial weights are drawn (see `fastbp.MLP`): "sklearn" (scikit-learn's), "glorot_uniform",
    "glorot_normal", "he_uniform", "he_normal", "lecun_normal" or "torch" (``nn.Linear``'s).""",
    "weight_decay": """\
weight_decay : float >= 0 or None, default=None
    Decoupled weight decay of the coefficients (not the intercepts), for "sgd" (None: 0) and "adamw"
    (None: 0.01); the other solvers refuse it (use `alpha`, the L2 penalty, there).""",
    "clip_norm": """\
clip_norm : float > 0 or None, default=None
    Scale each minibatch gradient to this global L2 norm when it is larger, as
    ``torch.nn.utils.clip_grad_norm_`` does. For the stochastic solvers; "lbfgs" refuses it.""",
    "label_smoothing": """\
label_smoothing : float in [0, 1), default=0.0
    Fit to smoothed targets, as PyTorch's cross-entropy smooths them: y (1 - e) + e / K for a softmax
    over K classes, y (1 - e) + e / 2 for logistic outputs.""",
    "huber_delta": """\
huber_delta : float > 0, default=1.0
    Where loss="huber" turns from squared to absolute error (``torch.nn.HuberLoss``'s delta).""",
    "dtype": """\
dtype : {None, "float32", "float64"}, default=None
    The precision of the computation: None follows X (float32 stays float32, anything else becomes
    float64), "float32" computes in float32 even for float64 X. Fixed at the first fit of a warm-started
    or incrementally trained model.""",
    "n_threads": """\
n_threads : int >= 1 or None, default=None
    OpenMP threads of the compiled core, for fitting and predicting; None uses OpenMP's default (all
    cores, or OMP_NUM_THREADS, or a threadpoolctl limit). Larger values are lowered to 4 per core this
    process may use. Threads are used only where a product is large enough for them to pay.""",
    "thread_invariant": """\
thread_invariant : bool, default=False
    Whether results are bitwise equal for any `n_threads` (fixed blocks, at a cost in speed). They are
    bitwise reproducible for a given thread count either way.""",
    "callbacks": """\
callbacks : list of fastbp callbacks or None, default=None
    Run by the stochastic solvers around every epoch (see `fastbp.callbacks`); an ``on_epoch_end`` that returns
    True stops training. Not run by "lbfgs", which refuses them.""",
    "progress_bar": """\
progress_bar : bool, default=False
    Show a progress bar over the epochs (tqdm's).""",
    "comm": """\
comm : mpi4py intracommunicator or None, default=None
    Fit data-parallel over the ranks of an MPI job (see `fastbp.distributed`): every rank calls `fit` or
    `partial_fit` with its shard of X and y, and every rank ends with the same model. `batch_size` is the
    global minibatch; classes, class weights, losses and validation scores count every rank's rows.
    Needs ``pip install 'fastbp[mpi]'``.""",
}

ATTRIBUTES = {
    "classes_": """\
classes_ : ndarray of shape (n_classes,)
    The class labels, in the order of `predict_proba`'s columns (for multilabel targets, the label
    columns).""",
    "loss_": """\
loss_ : float
    The objective at the end of fitting: the last epoch's mean minibatch loss for the stochastic solvers, the
    final value for "lbfgs".""",
    "best_loss_": """\
best_loss_ : float or None
    The lowest epoch loss of the stochastic solvers, which the no-improvement rule compares with; None with
    `early_stopping`, which watches `best_validation_score_` instead. Set only by the stochastic
    solvers.""",
    "loss_curve_": """\
loss_curve_ : list of float of shape (n_epochs,)
    The loss of every epoch, over all fits of a warm-started or incrementally trained model. Set only by
    the stochastic solvers.""",
    "validation_scores_": """\
validation_scores_ : list of float of shape (n_epochs,) or None
    The validation score of every epoch (accuracy for the classifier, R^2 for the regressor) with
    `early_stopping`, else None. Set only by the stochastic solvers.""",
    "validation_loss_curve_": """\
validation_loss_curve_ : list of float of shape (n_epochs,) or None
    The data loss on the validation set after every epoch with `early_stopping`, else None (fastbp's;
    scikit-learn's estimators have no such attribute). Set only by the stochastic solvers.""",
    "best_validation_score_": """\
best_validation_score_ : float or None
    The best validation score with `early_stopping`, whose weights the model ends with; else None. Set
    only by the stochastic solvers.""",
    "t_": """\
t_ : int
    The number of training samples the solver has seen: rows times epochs, over all fits.""",
    "coefs_": """\
coefs_ : list of ndarray of shape (n_layers - 1,)
    The weight matrices, layer by layer: ``coefs_[i]`` has shape (units of layer i, units of layer
    i + 1). Views into the model's one parameter buffer; assigning arrays of the same shapes sets the
    weights.""",
    "intercepts_": """\
intercepts_ : list of ndarray of shape (n_layers - 1,)
    The bias vectors, layer by layer: ``intercepts_[i]`` has shape (units of layer i + 1,).""",
    "n_features_in_": """\
n_features_in_ : int
    The number of features seen during `fit`.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (n_features,)
    The names of the features seen during `fit`, defined only when X has feature names that are all
    strings.""",
    "n_iter_": """\
n_iter_ : int
    The number of epochs (iterations for "lbfgs") of the last fit.""",
    "n_layers_": """\
n_layers_ : int
    The number of layers, input and output included.""",
    "n_outputs_": """\
n_outputs_ : int
    The number of output units.""",
    "out_activation_": """\
out_activation_ : str
    The output activation: "logistic" (binary and multilabel) or "softmax" (multiclass) for the
    classifier, "identity" or "exp" (Poisson) for the regressor.""",
}


COMMON_PARAMETERS = ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size", "learning_rate",
                     "learning_rate_init", "power_t", "max_iter", "shuffle", "random_state", "tol", "verbose",
                     "warm_start", "momentum", "nesterovs_momentum", "early_stopping", "validation_fraction", "beta_1",
                     "beta_2", "epsilon", "n_iter_no_change", "max_fun")
MODEL_PARAMETERS = ("warmup_fraction", "dropout", "init", "weight_decay", "clip_norm")
FASTBP_PARAMETERS = ("dtype", "n_threads", "thread_invariant", "callbacks", "progress_bar", "comm")
COMMON_ATTRIBUTES = ("loss_", "best_loss_", "loss_curve_", "validation_scores_", "validation_loss_curve_",
                     "best_validation_score_", "t_", "coefs_", "intercepts_", "n_features_in_", "feature_names_in_",
                     "n_iter_", "n_layers_", "n_outputs_", "out_activation_")
NOTES = """\
The parameters up to `max_fun` are scikit-learn's, with its defaults and constraints (an invalid value
raises scikit-learn's InvalidParameterError), beside fastbp's added values of `activation`, `solver`,
`learning_rate` and the regressor's `loss`; the ones after are fastbp's. With fastbp's options at their
defaults and an integer `random_state`, the fitted weights equal scikit-learn's up to rounding. The
objective is computed from the logits, so it stays finite where probabilities saturate. The differences
from scikit-learn are listed in the user guide's page on the drop-ins and in the docstring of the
`fastbp.estimators` package."""


def _section(title, entries):
    return f"{title}\n{'-' * len(title)}\n" + "\n\n".join(entries)


def estimator_doc(summary, extended, parameters, attributes, see_also, notes, examples):
    """A numpydoc class docstring: the summary, then the parameters and attributes named (each from its table
    entry), See Also, Notes and Examples (both as given: text already indented for the docstring body)."""
    body = "\n\n".join([
        extended,
        _section("Parameters", [PARAMETERS[name] for name in parameters]),
        _section("Attributes", [ATTRIBUTES[name] for name in attributes]),
        _section("See Also", see_also),
        _section("Notes", [notes]),
        _section("Examples", [examples]),
    ])
    return summary + "\n\n" + textwrap.indent(body, "    ") + "\n"
