"""`MLP`: a multilayer perceptron whose parameters live in one flat buffer.

The model validates and converts its inputs here, then hands whole batches to its backend object
(`fastbp.backends`): the compiled core (`backend="cython"`, the default) or the NumPy reference
(`backend="numpy"`). Per-layer `coefs` and `intercepts` are views into `params`, laid out by the core's
per-layer table, so optimizers, savers and reducers can work on the flat buffer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fastbp import _validation as v
from fastbp import backends, persistence
from fastbp._threads import ThreadPlan, plan
from fastbp._typing import Data, PathLike, Seed
from fastbp.reference import Spec

Batch = backends.Batch


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
        U(+-1 / sqrt(fan_in)) intercepts). Each layer's coefficients, then its intercepts, in order.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        Every weight and bias; modify it in place (``net.params[:] = ...``) to set them.
    coefs : list of ndarray
        Views into `params` of shape (layer_sizes[l], layer_sizes[l + 1]): the weights of layer l.
    intercepts : list of ndarray
        Views into `params` of shape (layer_sizes[l + 1],): the biases of layer l.

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
                 label_smoothing: float = 0.0, init: str = "sklearn") -> None:
        self.layer_sizes = v.check_layer_sizes(layer_sizes)
        n_hidden = len(self.layer_sizes) - 2
        self.activation, self.activations = v.check_per_layer("activation", activation, n_hidden, v.check_activation)
        self.output = v.check_choice("output", output, v.OUTPUTS)
        if self.output == "softmax" and self.layer_sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units; use output='logistic' for one")
        self.dtype = v.check_dtype(dtype)
        self.backend = v.check_choice("backend", backend, backends.BACKENDS)
        self.n_threads = n_threads
        self.thread_invariant = v.check_bool("thread_invariant", thread_invariant)
        self.dropout, self.dropouts = v.check_per_layer("dropout", dropout, n_hidden, v.check_rate)
        self.loss_function = v.check_loss(loss, self.output)
        self.huber_delta = v.check_float("huber_delta", huber_delta, 0.0, inclusive=False)
        self.label_smoothing = v.check_rate("label_smoothing", label_smoothing)
        if self.label_smoothing and self.output not in ("logistic", "softmax"):
            raise ValueError(f"label_smoothing is for output='logistic' or 'softmax', not {self.output!r}")
        self.init = v.check_choice("init", init, v.INITS)
        self._bind()
        self.initialize(random_state)

    def spec(self) -> Spec:
        """What the network computes besides its weights, as the backends take it (``fastbp.reference.Spec``)."""
        loss = self.loss_function if self.loss_function in ("huber", "absolute_error") else "natural"
        return Spec(self.activations, self.output, loss, self.huber_delta, self.label_smoothing, self.dropouts)

    def options(self) -> dict[str, Any]:
        """The constructor's keyword settings beyond the architecture, as it takes them (for copies and files)."""
        return {"dropout": self.dropout, "loss": None if self.loss_function == v.LOSSES[self.output][0]
                else self.loss_function, "huber_delta": self.huber_delta, "label_smoothing": self.label_smoothing,
                "init": self.init}

    def computes(self, activation: str | Sequence[str], **options: Any) -> bool:
        """Whether ``MLP(self.layer_sizes, activation, self.output, **options)`` would compute what this model
        computes (activations, dropout, loss; the init scheme aside), so that it could keep these weights."""
        n_hidden = len(self.layer_sizes) - 2
        wanted = (v.check_per_layer("activation", activation, n_hidden, v.check_activation)[1],
                  v.check_per_layer("dropout", options.get("dropout", 0.0), n_hidden, v.check_rate)[1],
                  v.check_loss(options.get("loss"), self.output), options.get("huber_delta", 1.0),
                  options.get("label_smoothing", 0.0))
        return wanted == (self.activations, self.dropouts, self.loss_function, self.huber_delta, self.label_smoothing)

    def _bind(self, params=None):
        """Make `params` (zeros when None) the model's buffer: the backend object and the per-layer views."""
        self.engine = backends.attach(self.backend, self.layer_sizes, self.spec())
        self._params = np.zeros(self.engine.n_params, dtype=self.dtype) if params is None else params
        self.coefs, self.intercepts = self.unflatten(self._params)

    # Pickle (and copy.deepcopy) keep the architecture and the flat buffer; the backend object and the views
    # are rebuilt, so `coefs` and `intercepts` stay views into `params` after a round trip.
    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("engine", "coefs", "intercepts"):
            del state[name]
        return state

    def __setstate__(self, state):
        params = state.pop("_params")
        self.__dict__.update(state)
        self._bind(params)

    @property
    def params(self) -> np.ndarray:
        """Every weight and bias in one contiguous buffer: each layer's coefficients, row by row, then each
        layer's intercepts. Modify it in place (``net.params[:] = ...``) to set them."""
        return self._params

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
        defaults = {"dropout": 0.0, "loss": None, "huber_delta": 1.0, "label_smoothing": 0.0, "init": "sklearn"}
        extra = "".join(f", {name}={value!r}" for name, value in self.options().items() if value != defaults[name])
        return (f"MLP({list(self.layer_sizes)}, activation={self.activation!r}, output={self.output!r}, "
                f"dtype={self.dtype.name!r}, backend={self.backend!r}{extra})")

    def initialize(self, random_state: Seed = None) -> MLP:
        """Draw fresh weights in place with the `init` scheme: each layer's coefficients, then its intercepts."""
        rng = v.check_random_state(random_state)
        for l, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            fan_in, fan_out = W.shape
            if self.init == "sklearn":
                # scikit-learn's factor follows its one activation; per layer, the activation its outputs feed.
                name = self.activations[min(l, len(self.activations) - 1)] if self.activations else self.activation
                bound = np.sqrt((2.0 if name == "logistic" else 6.0) / (fan_in + fan_out))
                W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
                b[...] = rng.uniform(-bound, bound, fan_out)
            elif self.init in ("glorot_uniform", "he_uniform", "torch"):
                limit = {"glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "he_uniform": np.sqrt(6.0 / fan_in),
                         "torch": 1.0 / np.sqrt(fan_in)}[self.init]
                W[...] = rng.uniform(-limit, limit, (fan_in, fan_out))
                b[...] = rng.uniform(-limit, limit, fan_out) if self.init == "torch" else 0.0
            else:
                std = {"glorot_normal": np.sqrt(2.0 / (fan_in + fan_out)), "he_normal": np.sqrt(2.0 / fan_in),
                       "lecun_normal": np.sqrt(1.0 / fan_in)}[self.init]
                W[...] = rng.normal(0.0, std, (fan_in, fan_out))
                b[...] = 0.0
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
        return {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "output": self.output,
                "dtype": self.dtype.name, "backend": self.backend, "n_threads": self.n_threads,
                "thread_invariant": self.thread_invariant, **self.options(), "params": self.params}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> MLP:
        """The model of a `state_dict`, with a copy of its parameters."""
        options = {name: state[name] for name in ("dropout", "loss", "huber_delta", "label_smoothing", "init")
                   if name in state}  # a state of fastbp 0.1 has none of them
        net = cls(state["layer_sizes"], state["activation"], state["output"], state["dtype"], random_state=0,
                  backend=state["backend"], n_threads=state["n_threads"], thread_invariant=state["thread_invariant"],
                  **options)
        net.params[...] = state["params"]
        return net

    def unflatten(self, flat: npt.ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Split a flat (n_params,) vector into views (coef_list, intercept_list) shaped like the layers, at the
        offsets of the core's per-layer table."""
        flat = np.asarray(flat)
        if flat.shape != (self.engine.n_params,):
            raise ValueError(f"flat must have shape ({self.engine.n_params},), got {flat.shape}")
        coefs = [flat[layer["coef_offset"]:layer["coef_offset"] + layer["n_in"] * layer["n_out"]].reshape(
            layer["n_in"], layer["n_out"]) for layer in self.engine.layers]
        intercepts = [flat[layer["intercept_offset"]:layer["intercept_offset"] + layer["n_out"]]
                      for layer in self.engine.layers]
        return coefs, intercepts

    def flatten(self, coefs: Sequence[npt.ArrayLike], intercepts: Sequence[npt.ArrayLike],
                out: np.ndarray | None = None) -> np.ndarray:
        """The flat (n_params,) array of per-layer arrays shaped like `coefs` and `intercepts`, laid out like
        `params` (the inverse of `unflatten`); written into `out` when given, else a new array of the model's
        dtype."""
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
        ``params[:n_coefs]`` is what the L2 penalty covers."""
        return self.engine.n_coefs

    def thread_plan(self) -> ThreadPlan:
        """The ``fastbp._threads.ThreadPlan`` of this model's computations: its ``n_threads`` (or OpenMP's
        default) and ``thread_invariant``."""
        return plan(self.n_threads, invariant=self.thread_invariant)

    # --- computation --------------------------------------------------------------------------------------

    def forward(self, X: Data) -> np.ndarray:
        """Output activations y_hat, shape (n_samples, n_outputs), for X of shape (n_samples, n_features),
        dense or scipy.sparse (see `loss_and_grad`)."""
        y_hat = self.forward_plain(X)
        if y_hat is not None:
            return y_hat
        return self.engine.forward(self, v.check_X(X, self.n_features, self.dtype), self.thread_plan())

    def forward_plain(self, X: Any) -> np.ndarray | None:
        """`forward` of a plain ndarray that the core takes as it is (2-D, C-contiguous, of the model's dtype
        and width), which the core checks for NaN and infinity itself: y_hat, or None for anything else (and
        for such an array that holds NaN or infinity), which `forward` then checks and converts. The fast path
        of predictions: one row's full check took three times the compiled pass."""
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.flags.c_contiguous \
                and X.shape[1] == self.n_features and 0 < X.shape[0] <= v.MAX_DIM:
            return self.engine.predict(self, X, self.thread_plan())
        return None

    def logits(self, X: Data) -> np.ndarray:
        """The output layer's pre-activations Z[L], shape (n_samples, n_outputs): what the output activation
        (and the loss, computed stably from them) is applied to."""
        return self.engine.logits(self, v.check_X(X, self.n_features, self.dtype), self.thread_plan())

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
        rows = v.check_X(X, self.n_features, self.dtype, name=names[0])
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


def load(path: PathLike, backend: str = "cython", n_threads: int | None = None) -> MLP:
    """The `MLP` saved at `path` by `MLP.save` (or `Trainer.save`, an estimator's ``save``), with the given
    backend and threads (and the saved ``thread_invariant``). Every field of the file is checked first (see
    `fastbp.persistence`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastbp
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> net = fastbp.MLP([4, 3, 2], output="softmax", random_state=0)
    >>> net.save(path)
    >>> fastbp.load(path, backend="numpy")
    MLP([4, 3, 2], activation='logistic', output='softmax', dtype='float64', backend='numpy')
    >>> bool(np.array_equal(fastbp.load(path).params, net.params))
    True
    """
    return build(persistence.read(path), path, backend, n_threads)


def build(saved, path, backend="cython", n_threads=None):
    """The `MLP` described by `persistence.read`'s result (a `persistence.Saved`) for the file `path`."""
    layer_sizes, activation, output, dtype = saved.architecture
    try:
        net = MLP(layer_sizes, activation, output, dtype=dtype, random_state=0, backend=backend, n_threads=n_threads,
                  thread_invariant=saved.thread_invariant, **saved.options)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
    net.params[...] = saved.params
    return net
