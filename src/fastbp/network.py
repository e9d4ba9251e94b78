"""`MLP`: a multilayer perceptron whose parameters live in one flat buffer.

The model validates and converts its inputs here, then hands whole batches to a backend: the compiled
core (`backend="cython"`, the default) or the NumPy reference (`backend="numpy"`). Per-layer `coefs` and
`intercepts` are views into `params`, so optimizers, savers and reducers can work on the flat buffer.
"""

import numpy as np

from fastbp import _validation as v
from fastbp import persistence, reference
try:
    from fastbp._core._network import CoreNet
    from fastbp._threads import core_threads, single_threaded_blas
except ImportError as exc:  # pragma: no cover - exercised only by a broken install
    raise ImportError(
        "fastbp's compiled core (fastbp._core) could not be imported. fastbp does not fall back to NumPy: "
        "install it with `pip install .` (which compiles the core) or from a wheel. "
        f"Original error: {exc}"
    ) from exc

BACKENDS = ("cython", "numpy")
# Codes of the compiled core's enums (fastbp/_core/_activations.pxd and _losses.pxd).
_ACTIVATION_CODES = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3}
_OUTPUT_CODES = {"identity": 0, "logistic": 1, "softmax": 2, "exp": 3}


def resolve_n_threads(n_threads):
    """Threads for the core's OpenMP loops: `n_threads`, or OpenMP's default (OMP_NUM_THREADS, threadpoolctl);
    one after a fork that threads do not survive (see `fastbp._threads.core_threads`)."""
    return core_threads(n_threads)


class MLP:
    """A fully connected network trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first: ``[n_features, hidden..., n_outputs]``, each >= 1.
    activation : {"logistic", "sigmoid", "tanh", "relu", "identity"}, default="logistic"
        Hidden-layer activation ("sigmoid" is an alias of "logistic").
    output : {"logistic", "softmax", "identity", "exp"}, default="logistic"
        Output activation with its loss: binary cross-entropy, cross-entropy, half squared error, or half
        Poisson deviance (scikit-learn's ``out_activation_`` names).
    dtype : {"float64", "float32"}, default="float64"
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initial weights exactly as scikit-learn's MLP does (Glorot-uniform, factor 2 for logistic
        and 6 otherwise, each layer's coefficients then intercepts), so equal seeds give equal weights.
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

    def __init__(self, layer_sizes, activation="logistic", output="logistic", dtype="float64",
                 random_state=None, backend="cython", n_threads=None, thread_invariant=False):
        self.layer_sizes = v.check_layer_sizes(layer_sizes)
        self.activation = v.check_choice("activation", activation, v.HIDDEN_ACTIVATIONS, v.ACTIVATION_ALIASES)
        self.output = v.check_choice("output", output, v.OUTPUTS)
        if self.output == "softmax" and self.layer_sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units; use output='logistic' for one")
        self.dtype = v.check_dtype(dtype)
        self.backend = v.check_choice("backend", backend, BACKENDS)
        self.n_threads = n_threads
        self.thread_invariant = v.check_bool("thread_invariant", thread_invariant)
        self._bind()
        self.initialize(random_state)

    def _bind(self, params=None):
        """Make `params` (zeros when None) the model's buffer: the compiled networks and the per-layer views."""
        self._core = CoreNet(self.layer_sizes, _ACTIVATION_CODES[self.activation], _OUTPUT_CODES[self.output])
        self._logit_core = None  # the same network with an identity output, made when `logits` needs it
        self._params = np.zeros(self._core.n_params, dtype=self.dtype) if params is None else params
        self.coefs, self.intercepts = self.unflatten(self._params)

    # Pickle (and copy.deepcopy) keep the architecture and the flat buffer; the compiled objects and the views
    # are rebuilt, so `coefs` and `intercepts` stay views into `params` after a round trip.
    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("_core", "_logit_core", "coefs", "intercepts"):
            del state[name]
        return state

    def __setstate__(self, state):
        params = state.pop("_params")
        self.__dict__.update(state)
        self._bind(params)

    @property
    def params(self):
        """Every weight and bias in one contiguous buffer: each layer's coefficients, row by row, then each
        layer's intercepts. Modify it in place (``net.params[:] = ...``) to set them."""
        return self._params

    @property
    def n_threads(self):
        """OpenMP threads of the compiled core, or None for OpenMP's default; validated on assignment."""
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value):
        self._n_threads = v.check_n_threads(value)

    @property
    def n_params(self):
        return self._params.size

    @property
    def n_features(self):
        return self.layer_sizes[0]

    @property
    def n_outputs(self):
        return self.layer_sizes[-1]

    def __repr__(self):
        return (f"MLP({list(self.layer_sizes)}, activation={self.activation!r}, output={self.output!r}, "
                f"dtype={self.dtype.name!r}, backend={self.backend!r})")

    def initialize(self, random_state=None):
        """Draw fresh weights in place, in scikit-learn's order and with its bounds."""
        rng = v.check_random_state(random_state)
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in zip(self.coefs, self.intercepts):
            fan_in, fan_out = W.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            b[...] = rng.uniform(-bound, bound, fan_out)
        return self

    def copy(self, dtype=None, backend=None):
        """An independent model with the same architecture and weights (cast to `dtype` if given)."""
        other = MLP(self.layer_sizes, self.activation, self.output, dtype or self.dtype, 0,
                    backend or self.backend, self.n_threads, self.thread_invariant)
        other.params[...] = self.params
        return other

    def save(self, path):
        """Write the architecture and weights to `path` (.npz, no pickle); read back with `fastbp.load`."""
        persistence.save(self, path)

    def state_dict(self):
        """The architecture, settings and parameters as plain values (strings, numbers, lists, one array: not a
        copy), for formats that store such values; `MLP.from_state_dict` builds the model back."""
        return {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "output": self.output,
                "dtype": self.dtype.name, "backend": self.backend, "n_threads": self.n_threads,
                "thread_invariant": self.thread_invariant, "params": self.params}

    @classmethod
    def from_state_dict(cls, state):
        """The model of a `state_dict`, with a copy of its parameters."""
        net = cls(state["layer_sizes"], state["activation"], state["output"], state["dtype"], random_state=0,
                  backend=state["backend"], n_threads=state["n_threads"], thread_invariant=state["thread_invariant"])
        net.params[...] = state["params"]
        return net

    def unflatten(self, flat):
        """Split a flat (n_params,) vector into views (coef_list, intercept_list) shaped like the layers."""
        flat = np.asarray(flat)
        if flat.shape != (self._core.n_params,):
            raise ValueError(f"flat must have shape ({self._core.n_params},), got {flat.shape}")
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        coefs, intercepts, offset = [], [], 0
        for n_in, n_out in pairs:
            coefs.append(flat[offset:offset + n_in * n_out].reshape(n_in, n_out))
            offset += n_in * n_out
        for _, n_out in pairs:
            intercepts.append(flat[offset:offset + n_out])
            offset += n_out
        return coefs, intercepts

    # --- computation --------------------------------------------------------------------------------------

    def _threads(self):
        return resolve_n_threads(self.n_threads)

    def _check_X(self, X):
        return v.check_X(X, self.n_features, self.dtype)

    def forward(self, X):
        """Output activations y_hat, shape (n_samples, n_outputs), for X of shape (n_samples, n_features),
        dense or scipy.sparse (see `loss_and_grad`)."""
        X = self._check_X(X)
        if self.backend == "numpy":
            return reference.forward(self.coefs, self.intercepts, X, self.activation, self.output)
        with single_threaded_blas():
            return self._core.forward(self._params, X, self._threads(), self.thread_invariant)

    def logits(self, X):
        """The output layer's pre-activations Z[L], shape (n_samples, n_outputs): what the output activation
        (and the loss, computed stably from them) is applied to."""
        X = self._check_X(X)
        if self.backend == "numpy":
            return reference.forward_pass(self.coefs, self.intercepts, X, self.activation)[-1]
        if self._logit_core is None:
            self._logit_core = CoreNet(self.layer_sizes, _ACTIVATION_CODES[self.activation], _OUTPUT_CODES["identity"])
        with single_threaded_blas():
            return self._logit_core.forward(self._params, X, self._threads(), self.thread_invariant)

    def predict(self, X):
        """Predictions: 0/1 labels for "logistic" (threshold 0.5), the class index (n_samples,) for
        "softmax", and y_hat itself for "identity" and "exp"."""
        y_hat = self.forward(X)
        if self.output == "logistic":
            return (y_hat > 0.5).astype(np.intp)
        if self.output == "softmax":
            return np.argmax(y_hat, axis=1)
        return y_hat

    def _check_batch(self, X, Y, sample_weight, alpha, names=("X", "Y", "sample_weight")):
        """(X, Y, sample_weight, weight_sum, alpha), validated and converted; errors use `names`."""
        X = v.check_X(X, self.n_features, self.dtype, name=names[0])
        Y = v.check_Y(Y, X.shape[0], self.n_outputs, self.output, self.dtype, name=names[1])
        sample_weight, weight_sum = v.check_sample_weight(sample_weight, X.shape[0], self.dtype, name=names[2])
        alpha = v.check_float("alpha", alpha, minimum=0.0)
        return X, Y, sample_weight, weight_sum, alpha

    def loss_and_grad(self, X, Y, sample_weight=None, alpha=0.0):
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

        Returns
        -------
        loss : float
            inf when the gradient overflows the model's dtype, even where the objective itself fits, so
            that an optimizer that reads the objective first (L-BFGS) sees the overflow.
        grad : ndarray of shape (n_params,), laid out like `params` (see `unflatten`).
        """
        return self._loss_and_grad(*self._check_batch(X, Y, sample_weight, alpha))

    def _loss_and_grad(self, X, Y, sample_weight, weight_sum, alpha, out=None, n_threads=None):
        """`loss_and_grad` of validated inputs (see `_check_batch`); the gradient goes into `out` when given,
        and the core uses `n_threads` threads when given (else the model's).

        On the Cython backend `weight_sum` divides the weighted sum of the rows' losses: a larger total than
        the rows' own (as data-parallel training passes) gives their share of that total's mean.
        """
        if self.backend == "numpy":
            loss, coef_grads, intercept_grads = reference.loss_and_grad(
                self.coefs, self.intercepts, X, Y, self.activation, self.output, sample_weight, alpha)
            grad = reference.flatten(coef_grads + intercept_grads, out=out)
        else:
            grad = np.empty_like(self._params) if out is None else out
            with single_threaded_blas():
                loss = self._core.loss_and_grad(self._params, X, Y, sample_weight, weight_sum, alpha, grad,
                                                self._threads() if n_threads is None else n_threads,
                                                self.thread_invariant)
        if np.isfinite(loss) and not np.isfinite(grad).all():
            loss = np.inf  # the objective is finite, its gradient overflowed (see `loss_and_grad`)
        return loss, grad

    def loss(self, X, Y, sample_weight=None, alpha=0.0):
        """The objective of `loss_and_grad`, from a forward pass only (no gradient)."""
        return self._objective_and_output(*self._check_batch(X, Y, sample_weight, alpha))[0]

    def _objective_and_output(self, X, Y, sample_weight, weight_sum, alpha):
        """(objective, y_hat) of validated inputs (see `_check_batch`), from one forward pass."""
        if self.backend == "numpy":
            return reference.objective_and_output(self.coefs, self.intercepts, X, Y, self.activation, self.output,
                                                  sample_weight, alpha)
        with single_threaded_blas():
            return self._core.forward(self._params, X, self._threads(), self.thread_invariant, Y, sample_weight,
                                      weight_sum, alpha)


def load(path, backend="cython", n_threads=None):
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
    """The `MLP` described by `persistence.read`'s result for the file `path`."""
    try:
        net = MLP(*saved["architecture"], 0, backend, n_threads, saved["thread_invariant"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
    net.params[...] = saved["params"]
    return net
