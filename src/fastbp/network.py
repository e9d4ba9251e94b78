"""`MLP`: a multilayer perceptron whose parameters live in one flat buffer.

The model validates and converts its inputs here, then hands whole batches to its backend object
(`fastbp.backends`): the compiled core (`backend="cython"`, the default) or the NumPy reference
(`backend="numpy"`). Per-layer `coefs` and `intercepts` are views into `params`, where the model's `layout`
puts them, so optimizers, savers and reducers can work on the flat buffer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fastbp import _validation as v
from fastbp import backends, embeddings, persistence
from fastbp._settings import SETTINGS, check_settings, derived, option_settings, read_only, setting, spec_of
from fastbp._threads import ThreadPlan, plan
from fastbp._transaction import keeping
from fastbp._typing import Data, PathLike, Seed
from fastbp.initializers import initialize
from fastbp.options import DEFAULTS, check_structure
from fastbp.reference import Spec

Batch = backends.Batch


# What every MLP.state_dict() has (the model options came later, with defaults).
STATE_KEYS = ("layer_sizes", "activation", "output", "dtype", "backend", "n_threads", "thread_invariant", "params")


class MLP:
    """A fully connected network trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first: ``[n_features, hidden..., n_outputs]``, each >= 1.
    activation : str or sequence of str, default="logistic"
        The hidden layers' activation, or one per hidden layer: "identity", "logistic" (alias "sigmoid"),
        "tanh", "relu", "leaky_relu" (slope 0.01), "elu" (alpha 1), "selu", "softplus" (beta 1, threshold 20),
        "gelu" (exact, with erf), "gelu_tanh" (the tanh approximation), "silu" (alias "swish") or "mish",
        each as PyTorch defines it.
    output : {"logistic", "softmax", "identity", "exp"}, default="logistic"
        Output activation with its loss: binary cross-entropy, cross-entropy, half squared error, or half
        Poisson deviance (scikit-learn's ``out_activation_`` names).
    dtype : {"float64", "float32"}, default="float64"
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights (see `init`); equal seeds give equal weights.
    backend : {"cython", "numpy"}, default="cython"
    n_threads : int >= 1 or None, default=None
        OpenMP threads of the compiled core; None uses OpenMP's default (all cores, or OMP_NUM_THREADS).
        Larger values are lowered to 4 per core this process may use (its CPU affinity), checked again
        when the attribute is assigned. Threads are used only where a product is large enough for them
        to pay.
    thread_invariant : bool, default=False
        False: each product is cut into one block per thread, the fastest way; results are bitwise
        reproducible run to run for the same thread count. True: fixed blocks whose shapes depend only on
        the data, so results are bitwise equal for any ``n_threads``, at a cost in speed (see the user guide's
        page on threads and reproducibility).
    dropout : float or sequence of float in [0, 1), default=0.0
        The dropout rate of the hidden layers, or one per hidden layer: inverted dropout, in training passes
        only (`fastbp.Trainer`, the drop-ins' fit; never in `forward` or `predict`). The masks are a pure
        function of (seed, step, layer, row, unit), so they repeat bitwise and do not depend on threads.
    loss : str or None, default=None
        The loss: None is the output's own; for ``output="identity"`` also "huber" (see `huber_delta`) or
        "absolute_error". Stored as ``loss_function`` (`loss` is the method that computes it).
    huber_delta : float > 0, default=1.0
        Where "huber" turns from squared to absolute error, as ``torch.nn.HuberLoss``'s delta.
    label_smoothing : float in [0, 1), default=0.0
        For "softmax" and "logistic" outputs: train on targets y (1 - e) + e / K (K classes) or
        y (1 - e) + e / 2, as PyTorch's cross-entropy smooths them.
    init : str, default="sklearn"
        The initial weights: "sklearn" (scikit-learn's Glorot-uniform, factor 2 for logistic layers and 6
        otherwise, intercepts drawn too), "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
        "lecun_normal" (intercepts zero), or "torch" (``nn.Linear``'s: kaiming-uniform with a = sqrt(5) and
        U(+-1 / sqrt(fan_in)) intercepts). Each layer's coefficients, then its intercepts, in order; for an
        ensemble see ``fastbp.initializers`` (``init="torch"`` draws what ``tabm.TabM.make`` draws).
    ensemble_size : int >= 1, default=1
        k: train k MLPs at once as one network (TabM and its kin, see the user guide's page on ensembles); the
        training loss is the mean of the members' losses, and `forward` returns the mean of the members' output
        activations. 1 is a plain MLP. The members take dense X (a sparse X is refused).
    ensemble : {"batch", "mini", "independent"}, default="batch"
        The form of an ensemble (``ensemble_size > 1``): "batch" is TabM (every hidden layer shares its W and
        gives each member its own input and output scalings r, s and bias), "mini" is TabM-mini (one r per
        member before the first layer, every hidden layer shared), "independent" k separate MLPs (a deep
        ensemble). Each form ends in k output heads. See ``fastbp.layout.ensemble_layout``.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        Every weight and bias; modify it in place (``net.params[:] = ...``) to set them.
    coefs : list of ndarray
        Views into `params` of shape (layer_sizes[l], layer_sizes[l + 1]): the weights of layer l; an
        ensemble's layer with one W per member has (ensemble_size, layer_sizes[l], layer_sizes[l + 1]).
    intercepts : list of ndarray
        Views into `params` of shape (layer_sizes[l + 1],): the biases of layer l; (ensemble_size,
        layer_sizes[l + 1]) where each member has its own.
    layout : fastbp.layout.Layout
        Every block of `params` (an ensemble's scalings r and s too) with its role and policy;
        ``net.layout.block("in_scale", 0).view(net.params)`` is a view of one.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> net = fastbp.MLP([3, 2, 1], activation="logistic", output="logistic",
    ...                  random_state=0)
    >>> [W.shape for W in net.coefs], [b.shape for b in net.intercepts]
    ([(3, 2), (2, 1)], [(2,), (1,)])
    >>> net.params.shape
    (11,)
    >>> X = np.array([[1.0, 2.0, -1.5]])
    >>> y = np.array([[1.0]])
    >>> net.forward(X).round(6)
    array([[0.690903]])
    >>> loss, grad = net.loss_and_grad(X, y)
    >>> coef_grads, intercept_grads = net.unflatten(grad)
    >>> [g.shape for g in coef_grads]
    [(3, 2), (2, 1)]
    >>> net.params[:] -= 0.5 * grad  # one step of gradient descent
    >>> net.loss(X, y) < loss
    True
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str | Sequence[str] = "logistic",
                 output: str = "logistic", dtype: npt.DTypeLike = "float64", random_state: Seed = None,
                 backend: str = "cython", n_threads: int | None = None, thread_invariant: bool = False, *,
                 dropout: float | Sequence[float] = 0.0, loss: str | None = None, huber_delta: float = 1.0,
                 label_smoothing: float = 0.0, init: str = "sklearn", ensemble_size: int = 1,
                 ensemble: str = "batch", embedding: Any = None, categories: Sequence[int] | None = None) -> None:
        self._layer_sizes = v.check_layer_sizes(layer_sizes)
        self._output = v.check_choice("output", output, v.OUTPUTS)
        if self._output == "softmax" and self._layer_sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units; use output='logistic' for one")
        self._dtype = v.check_dtype(dtype)
        structure = check_structure(self._layer_sizes, self._dtype, ensemble_size, ensemble, embedding, categories)
        self._ensemble_size, self._ensemble = structure.ensemble_size, structure.ensemble
        self._embedding, self._categories, self._layout = structure.embedding, structure.categories, structure.layout
        n_params = v.check_n_params(self._layer_sizes, self._dtype, self._layout.n_params, self._ensemble_size)
        self.n_threads = n_threads
        self.thread_invariant = thread_invariant
        self.init = init
        self._settings: dict[str, Any] = {}
        self._configure(activation=activation, backend=backend, dropout=dropout, loss_function=loss,
                        huber_delta=huber_delta, label_smoothing=label_smoothing)
        self._bind(np.zeros(n_params, dtype=self._dtype))
        self.initialize(random_state)

    # --- settings (fastbp._settings): assigned ones take effect on both backends; the architecture is read-only

    def _configure(self, **changes: Any) -> None:
        """Make the settings with `changes` the model's, all checked first, then the backend object rebuilt."""
        settings = check_settings(self._layer_sizes, self._output, {**self._settings, **changes}, backends.BACKENDS)
        engine = backends.attach(settings["backend"], self._layout, spec_of(settings, self._output))
        self._settings, self.engine = settings, engine

    layer_sizes = read_only("layer_sizes", "the architecture fixes the size of params; build a new MLP")
    output = read_only("output", "build a new MLP for another output")
    dtype = read_only("dtype", "net.copy(dtype=...) makes a model of the other dtype with these weights")
    ensemble_size = read_only("ensemble_size", "the architecture fixes the size of params; build a new MLP")
    ensemble = read_only("ensemble", "the architecture fixes the size of params; build a new MLP")
    embedding = read_only("embedding", "the architecture fixes the size of params; build a new MLP")
    categories = read_only("categories", "the architecture fixes the size of params; build a new MLP")
    layout = read_only("layout", "where each array lives in params, with its role and policy (a "
                                 "fastbp.layout.Layout), follows from the architecture")
    activation = setting("activation", "The hidden activation(s), as given (checked on assignment).")
    activations = derived("activations", "activation")
    backend = setting("backend", "The backend's name, 'cython' or 'numpy' (checked on assignment).")
    dropout = setting("dropout", "The dropout rate(s), as given (checked on assignment).")
    dropouts = derived("dropouts", "dropout")
    loss_function = setting("loss_function", "The loss (None on assignment: the output's own).")
    huber_delta = setting("huber_delta", "Where 'huber' turns from squared to absolute error.")
    label_smoothing = setting("label_smoothing", "The label smoothing of 'logistic' and 'softmax' outputs.")

    @property
    def init(self) -> str:
        """The scheme `initialize` draws weights with (checked on assignment)."""
        return self._init

    @init.setter
    def init(self, value: str) -> None:
        self._init = v.check_choice("init", value, v.INITS)

    @property
    def thread_invariant(self) -> bool:
        """Whether results are bitwise equal for any thread count (checked on assignment)."""
        return self._thread_invariant

    @thread_invariant.setter
    def thread_invariant(self, value: bool) -> None:
        self._thread_invariant = v.check_bool("thread_invariant", value)

    def spec(self) -> Spec:
        """What the network computes besides its weights, as the backends take it (``fastbp.reference.Spec``)."""
        return spec_of(self._settings, self._output)

    def options(self) -> dict[str, Any]:
        """The constructor's keyword options (``fastbp.options.OPTIONS``) as it takes them, for copies and files."""
        values = {name: getattr(self, name) for name in DEFAULTS if name not in ("loss", "categories")}
        loss = None if self.loss_function == v.LOSSES[self.output][0] else self.loss_function
        return {**values, "loss": loss, "categories": None if self.categories is None else list(self.categories)}

    def computes(self, activation: str | Sequence[str], **options: Any) -> bool:
        """Whether ``MLP(self.layer_sizes, activation, self.output, **options)`` would compute what this model
        computes (activations, dropout, loss; the init scheme aside), so that it could keep these weights."""
        given = {**DEFAULTS, **options}
        wanted = check_settings(self._layer_sizes, self._output,
                                {**self._settings, "activation": activation, **option_settings(given)},
                                backends.BACKENDS)
        return all(wanted[name] == self._settings[name] for name in ("activations", "dropouts", "loss_function",
                                                                     "huber_delta", "label_smoothing"))

    def _bind(self, params):
        """Make `params` the model's buffer, with the per-layer views into it."""
        self._params = params
        self._coefs, self._intercepts = self.unflatten(params)

    # Pickle (and copy.deepcopy) keep the architecture, the settings and the flat buffer; the backend object and
    # the views are rebuilt, so `coefs` and `intercepts` stay views into `params` after a round trip.
    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("engine", "_coefs", "_intercepts"):
            del state[name]
        return state

    def __setstate__(self, state):
        state = dict(state)
        params = state.pop("_params")
        state = persistence.upgrade_pickle(state)
        settings = state.pop("_settings")
        self.__dict__.update(state)
        self._settings = {}
        self._configure(**{name: settings[name] for name in SETTINGS})
        self._bind(params)

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the model back as it is now: its settings and the values of its weights (see
        ``fastbp._transaction``)."""
        return keeping(self, [self._params])

    params = read_only("params", "modify it in place (net.params[:] = values) to set the weights")
    coefs = read_only("coefs", "views into params of shape (layer_sizes[l], layer_sizes[l + 1]); modify them in "
                               "place (net.coefs[l][...] = values)")
    intercepts = read_only("intercepts", "views into params of shape (layer_sizes[l + 1],); modify them in place "
                                         "(net.intercepts[l][...] = values)")

    @property
    def n_threads(self) -> int | None:
        """OpenMP threads of the compiled core, or None for OpenMP's default; validated on assignment."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int | None) -> None:
        self._n_threads = v.check_n_threads(value)

    @property
    def n_params(self) -> int:
        return self._params.size

    @property
    def n_features(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    def __repr__(self) -> str:
        defaults = {**DEFAULTS, "ensemble": DEFAULTS["ensemble"] if self.ensemble_size == 1 else None}
        extra = "".join(f", {name}={value!r}" for name, value in self.options().items() if value != defaults[name])
        return (f"MLP({list(self.layer_sizes)}, activation={self.activation!r}, output={self.output!r}, "
                f"dtype={self.dtype.name!r}, backend={self.backend!r}{extra})")

    def initialize(self, random_state: Seed = None) -> MLP:
        """Draw fresh weights in place with the `init` scheme (``fastbp.initializers``): each layer's
        coefficients, then its intercepts."""
        # scikit-learn's factor follows its one activation; per layer, the activation its outputs feed.
        initialize(self.layout, self.params, self.init, self.activations or (self.activation,),
                   v.check_random_state(random_state))
        return self

    def copy(self, dtype: npt.DTypeLike | None = None, backend: str | None = None) -> MLP:
        """An independent model with the same architecture and weights (cast to `dtype` if given)."""
        other = MLP(self.layer_sizes, self.activation, self.output, dtype=dtype or self.dtype, random_state=0,
                    backend=backend or self.backend, n_threads=self.n_threads, thread_invariant=self.thread_invariant,
                    **self.options())
        other.params[...] = self.params
        return other

    def save(self, path: PathLike) -> None:
        """Write the architecture and weights to `path` (.npz, no pickle); read back with `fastbp.load`."""
        persistence.save(self, path)

    def state_dict(self) -> dict[str, Any]:
        """The architecture, settings and parameters as plain values (strings, numbers, lists, one array: not a
        copy), for formats that store such values; `MLP.from_state_dict` builds the model back."""
        options = self.options()
        options["embedding"] = None if self.embedding is None else self.embedding.to_dict()
        return {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "output": self.output,
                "dtype": self.dtype.name, "backend": self.backend, "n_threads": self.n_threads,
                "thread_invariant": self.thread_invariant, **options, "params": self.params}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> MLP:
        """The model of a `state_dict`, with a copy of its parameters (checked: their number, and finite)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping (a state_dict), got {type(state).__name__}")
        missing = [name for name in STATE_KEYS if name not in state]
        if missing:
            raise ValueError(f"state has no {', '.join(map(repr, missing))}: not an MLP.state_dict()")
        # A state of fastbp 0.1 has none of the options, one from before ensembles none of theirs.
        options = {name: state[name] for name in DEFAULTS if name in state and name != "embedding"}
        if state.get("embedding") is not None:
            options["embedding"] = embeddings.from_dict(state["embedding"])
        net = cls(state["layer_sizes"], state["activation"], state["output"], state["dtype"], random_state=0,
                  backend=state["backend"], n_threads=state["n_threads"], thread_invariant=state["thread_invariant"],
                  **options)
        net.params[...] = v.check_params("state['params']", state["params"], net.n_params, net.dtype,
                                         f"layer_sizes {list(net.layer_sizes)}")
        return net

    def unflatten(self, flat: npt.ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Split a flat (n_params,) vector into views (coef_list, intercept_list) shaped like the layers, at the
        offsets of the model's `layout`."""
        flat = np.asarray(flat)
        if flat.shape != (self.engine.n_params,):
            raise ValueError(f"flat must have shape ({self.engine.n_params},), got {flat.shape}")
        layers = range(self.layout.n_layers)
        return ([self.layout.block("weight", l).view(flat) for l in layers],
                [self.layout.block("bias", l).view(flat) for l in layers])

    def flatten(self, coefs: Sequence[npt.ArrayLike], intercepts: Sequence[npt.ArrayLike],
                out: np.ndarray | None = None) -> np.ndarray:
        """The flat (n_params,) array of per-layer arrays shaped like `coefs` and `intercepts`, laid out like
        `params` (the inverse of `unflatten`); written into `out` when given, else a new array of the model's
        dtype. An ensemble with scalings r and s has more than these in `params`: give it `out` (its other
        blocks are left as they are)."""
        if out is None and any(block.role not in ("weight", "bias") for block in self.layout.blocks):
            raise ValueError("this model's params also hold blocks that coefs and intercepts do not (an ensemble's "
                             "scalings r and s, an embedding, the categories' rows): flatten into "
                             "out=net.params.copy(), or set blocks through net.layout")
        flat = np.empty(self.engine.n_params, dtype=self.dtype) if out is None else out
        coef_views, intercept_views = self.unflatten(flat)
        if len(coefs) != len(coef_views) or len(intercepts) != len(intercept_views):
            raise ValueError(f"flatten takes {len(coef_views)} coefficient and intercept arrays each, got "
                             f"{len(coefs)} and {len(intercepts)}")
        for view, array in zip(coef_views + intercept_views, list(coefs) + list(intercepts)):
            view[...] = array
        return flat

    @property
    def n_coefs(self) -> int:
        """The coefficients' share of `params`: every coefficient comes before every intercept, so
        ``params[:n_coefs]`` is what the L2 penalty covers, and for a plain MLP what weight decay covers (an
        ensemble's decay covers its scalings too: ``Optimizer.step(..., layout=net.layout)``)."""
        return sum(block.size for block in self.layout.blocks if block.role == "weight")

    def thread_plan(self) -> ThreadPlan:
        """The ``fastbp._threads.ThreadPlan`` of this model's computations: its ``n_threads`` (or OpenMP's
        default) and ``thread_invariant``."""
        return plan(self.n_threads, invariant=self.thread_invariant)

    # --- computation --------------------------------------------------------------------------------------

    def forward(self, X: Data, members: bool = False) -> np.ndarray:
        """Output activations y_hat, shape (n_samples, n_outputs), for X of shape (n_samples, n_features),
        dense or scipy.sparse (see `loss_and_grad`): an ensemble's mean of its members', or with `members` each
        member's, shape (n_samples, ensemble_size, n_outputs)."""
        y_hat = None if members else self.forward_plain(X)
        if y_hat is not None:
            return y_hat
        return self.engine.forward(self, self.check_X(X), self.thread_plan(), v.check_bool("members", members))

    def check_X(self, X: Data, name: str = "X") -> Any:
        """X checked and converted for this model (``fastbp._validation.check_X``); an ensemble takes it dense."""
        rows = v.check_X(X, self.n_features, self.dtype, name=name)
        if self.layout.staged and not isinstance(rows, np.ndarray):
            what = f"an ensemble (ensemble_size={self.ensemble_size})" if self.ensemble_size > 1 \
                else "a model with an embedding or categories"
            raise TypeError(f"{name} must be dense for {what}: its first layer does not take sparse input; pass "
                            "X.toarray()")
        if self.categories:
            v.check_codes(rows[:, self.n_features - len(self.categories):], name)
        return rows

    def forward_plain(self, X: Any) -> np.ndarray | None:
        """`forward` of a plain ndarray that the core takes as it is (2-D, C-contiguous, of the model's dtype
        and width), which the core checks for NaN and infinity itself: y_hat, or None for anything else (and
        for such an array that holds NaN or infinity), which `forward` then checks and converts. The fast path
        of predictions: one row's full check took three times the compiled pass."""
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.flags.c_contiguous \
                and X.shape[1] == self.n_features and 0 < X.shape[0] <= v.MAX_DIM and not self.categories:
            return self.engine.predict(self, X, self.thread_plan())
        return None

    def logits(self, X: Data) -> np.ndarray:
        """The output layer's pre-activations Z[L], shape (n_samples, n_outputs), an ensemble's (n_samples,
        ensemble_size, n_outputs): what the output activation (and the loss, computed stably) is applied to."""
        return self.engine.logits(self, self.check_X(X), self.thread_plan())

    def predict(self, X: Data) -> np.ndarray:
        """Predictions: 0/1 labels for "logistic" (threshold 0.5), the class index (n_samples,) for
        "softmax", and y_hat itself for "identity" and "exp"."""
        y_hat = self.forward(X)
        if self.output == "logistic":
            return (y_hat > 0.5).astype(np.intp)
        if self.output == "softmax":
            return np.argmax(y_hat, axis=1)
        return y_hat

    def check_batch(self, X: Data, Y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
                    names: tuple[str, str, str] = ("X", "Y", "sample_weight")) -> Batch:
        """The rows X, Y and sample_weight checked and converted for this model, as a ``fastbp.backends.Batch``
        (X C-contiguous in the model's dtype, or CSR; Y (n_samples, n_outputs); the weights' sum); errors name
        the arguments by `names`. What the trainer and the data-parallel layer hand to the backend."""
        rows = self.check_X(X, name=names[0])
        targets = v.check_Y(Y, rows.shape[0], self.n_outputs, self.output, self.dtype, name=names[1])
        weights, weight_sum = v.check_sample_weight(sample_weight, rows.shape[0], self.dtype, name=names[2])
        return Batch(rows, targets, weights, weight_sum)

    def loss_and_grad(self, X: Data, Y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
                      alpha: float = 0.0, dropout_seed: int | None = None) -> tuple[float, np.ndarray]:
        """Objective and its gradient at the current parameters.

        objective = (1/S) sum_i w_i L_i + (alpha / 2S) sum_l ||W[l]||^2, with S = sum_i w_i.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix or array of shape (n_samples, n_features)
            Sparse X is used as CSR without a dense copy: the first layer's products are sparse. CSC, COO
            and other formats are converted to CSR once per call (a copy of the matrix); CSR with data of
            the model's dtype is not copied.
        Y : array-like of shape (n_samples, n_outputs), or (n_samples,) for one output
        sample_weight : array-like of shape (n_samples,), non-negative, default=None (unit weights)
        alpha : float >= 0, default=0.0
            L2 penalty on the coefficients (not the intercepts), scaled as in scikit-learn.
        dropout_seed : int >= 0 or None, default=None
            None: no dropout. An int: the hidden layers with a `dropout` rate drop units with the masks of that
            seed (at step 0), the same on both backends and for any thread count.

        Returns
        -------
        loss : float
            inf when the gradient overflows the model's dtype, even where the objective itself fits, so
            that an optimizer that reads the objective first (L-BFGS) sees the overflow.
        grad : ndarray of shape (n_params,), laid out like `params` (see `unflatten`).
        """
        batch = self.check_batch(X, Y, sample_weight)
        alpha = v.check_float("alpha", alpha, minimum=0.0)
        seed = v.check_seed("dropout_seed", dropout_seed)
        return self.batch_loss_and_grad(batch, alpha, dropout=None if seed is None else (seed, 0))

    def batch_loss_and_grad(self, batch: Batch, alpha: float, out: np.ndarray | None = None,
                            plan: ThreadPlan | None = None,
                            dropout: tuple[int, int] | None = None) -> tuple[float, np.ndarray]:
        """`loss_and_grad` of a checked `Batch` (see `check_batch`): the gradient goes into `out` when given,
        the backend uses `plan` (a ``fastbp._threads.ThreadPlan``; the model's when None), and dropout = (seed,
        step) draws the masks of that seed at that step. The batch's weight_sum divides the weighted sum of its
        rows' losses: a total larger than the rows' own (as data-parallel training passes) gives their share of
        that total's mean."""
        grad = np.empty_like(self._params) if out is None else out
        loss = self.engine.loss_and_grad(self, batch, alpha, self.thread_plan() if plan is None else plan, grad,
                                         dropout)
        if np.isfinite(loss) and not np.isfinite(grad).all():
            loss = np.inf  # the objective is finite, its gradient overflowed (see `loss_and_grad`)
        return loss, grad

    def loss(self, X: Data, Y: npt.ArrayLike, sample_weight: npt.ArrayLike | None = None,
             alpha: float = 0.0, dropout_seed: int | None = None) -> float:
        """The objective of `loss_and_grad`, from a forward pass only (no gradient); with `dropout_seed`, with the
        same masks as `loss_and_grad` draws for it."""
        batch = self.check_batch(X, Y, sample_weight)
        alpha = v.check_float("alpha", alpha, minimum=0.0)
        seed = v.check_seed("dropout_seed", dropout_seed)
        return self.batch_objective_and_output(batch, alpha, dropout=None if seed is None else (seed, 0))[0]

    def batch_objective_and_output(self, batch: Batch, alpha: float = 0.0, plan: ThreadPlan | None = None,
                                   dropout: tuple[int, int] | None = None) -> tuple[float, np.ndarray]:
        """(objective, y_hat) of a checked `Batch`, from one forward pass (the validation pass of a fit, without
        dropout); dropout as for `batch_loss_and_grad`."""
        return self.engine.objective_and_output(self, batch, alpha, self.thread_plan() if plan is None else plan,
                                                dropout)

