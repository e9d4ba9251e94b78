"""`BaseMLP`: what the classifier and the regressor share: the fit's dispatch to a solver, the fitted network
(whose parameters ``coefs_`` and ``intercepts_`` are views of), and prediction."""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from fastbp import _validation as v
from fastbp import distributed
from fastbp._locks import exclusive
from fastbp._transaction import atomic
from fastbp.estimators._sklearn import check_sample_weight
from fastbp.estimators.convert import Conversion
from fastbp.estimators.lbfgs import LbfgsFit
from fastbp.estimators.params import (
    STOCHASTIC_ATTRIBUTES,
    check_not_empty,
    check_solver_options,
    hidden_layer_sizes,
    sparse_structure_checked,
)
from fastbp.estimators.persistence import Persistence
from fastbp.estimators.stochastic import StochasticFit
from fastbp.history import History
from fastbp.network import MLP


class BaseMLP(StochasticFit, LbfgsFit, Conversion, Persistence, BaseEstimator):
    """What the classifier and the regressor share; each solver, the conversions and the pickling are mixins
    of their own modules."""

    def _output(self):
        """The output activation (and with it the loss) for the targets seen at the first fit."""
        raise NotImplementedError

    def _validate_input(self, X, y, incremental, reset):
        """(X, Y, labels): X and y validated as scikit-learn does, Y the targets as the network's outputs."""
        raise NotImplementedError

    def _loss_options(self):
        """The `fastbp.MLP` keyword arguments of the loss (the classifier's smoothing, the regressor's loss)."""
        raise NotImplementedError

    def _model_options(self):
        """Every `fastbp.MLP` keyword argument the estimator's parameters set besides the architecture."""
        return {"dropout": self.dropout, "init": self.init, **self._loss_options()}

    # --- fitting ----------------------------------------------------------------------------------------

    def _start_partial_fit(self, y, classes):
        """What the first partial_fit call sets up besides the network (the classifier's labels)."""

    def _fit(self, X, y, sample_weight=None, incremental=False, epochs=1, classes=None):
        # All or nothing: when the fit raises, the estimator is exactly as it was (unfitted, if it was).
        with exclusive(self, "estimator"), atomic(self):
            if self.comm is None:
                return self._fit_unlocked(X, y, sample_weight, incremental, epochs, classes)
            with distributed.abort_on_error(distributed.check_comm(self.comm)):
                return self._fit_unlocked(X, y, sample_weight, incremental, epochs, classes)

    def _fit_unlocked(self, X, y, sample_weight, incremental, epochs, classes):
        hidden = hidden_layer_sizes(self.hidden_layer_sizes)
        check_solver_options(self, incremental)
        if incremental:
            self._start_partial_fit(y, classes)
        if self.comm is not None:  # a rank without rows would fail validation alone and abort the job
            distributed.agree(self.comm, check_not_empty, X)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y, labels = self._validate_input(X, y, incremental, reset=first_pass)
        if self.comm is not None:
            distributed.same_everywhere(self.comm, {"number of features in X": X.shape[1]})
        sample_weight = self._sample_weight(sample_weight, X, labels, incremental)
        layer_sizes = (X.shape[1], *hidden, Y.shape[1])
        # As scikit-learn: one generator per call draws the initial weights, then the split, then shuffles.
        rng = v.check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_sizes, v.check_dtype(X.dtype if self.dtype is None else self.dtype), rng)
        net = self._network()
        if net.layer_sizes != layer_sizes:
            raise ValueError(f"cannot continue training a network of layer sizes {list(net.layer_sizes)} on "
                             f"data and hidden_layer_sizes that give {list(layer_sizes)}; use warm_start=False")
        if not net.computes(self.activation, **self._model_options()):  # set_params between warm-started fits
            self._use_net(MLP(net.layer_sizes, self.activation, net.output, dtype=net.dtype, random_state=0,
                              **self._model_options()))
            self._net.params[...] = net.params
        # The estimator's thread settings become its network's, which the fit and later predictions use.
        n_threads = v.check_n_threads(self.n_threads)
        if n_threads is None and self.comm is not None:
            n_threads = distributed.default_threads(self.comm)
        self._net.n_threads = n_threads
        self._net.thread_invariant = bool(self.thread_invariant)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._fit_stochastic(X, Y, sample_weight, rng, incremental, epochs)
        return self

    def _sample_weight(self, sample_weight, X, labels, incremental):
        if sample_weight is None:
            return None
        return check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    def _initialize(self, layer_sizes, dtype, rng):
        """A new network, with its weights drawn from rng as scikit-learn draws them, and no history."""
        self.out_activation_ = self._output()
        self._use_net(MLP(layer_sizes, self.activation, self.out_activation_, dtype=dtype, random_state=rng,
                          n_threads=self.n_threads, **self._model_options()))
        self.n_layers_ = len(layer_sizes)
        self.n_outputs_ = layer_sizes[-1]
        self.n_iter_ = 0
        self.t_ = 0
        self._optimizer = None
        self._stopper = None
        self._history = History()
        for name in STOCHASTIC_ATTRIBUTES:
            self.__dict__.pop(name, None)

    def _use_net(self, net):
        """Make `net` the fitted network; coefs_ and intercepts_ are views into its parameters."""
        self._net = net
        self.coefs_, self.intercepts_ = list(net.coefs), list(net.intercepts)

    def _network(self):
        """The fitted MLP, with any array of coefs_ or intercepts_ that the user replaced copied into it."""
        if "_net" not in self.__dict__:  # coefs_ and intercepts_ set on an estimator that fastbp did not fit
            self._adopt()
            return self._net
        net = self._net
        views = net.coefs + net.intercepts
        arrays = list(self.coefs_) + list(self.intercepts_)
        if len(arrays) != len(views) or any(a is not b for a, b in zip(arrays, views)):
            if len(arrays) != len(views):
                raise ValueError(f"coefs_ and intercepts_ must hold {len(net.coefs)} arrays each")
            arrays = [np.asarray(array) for array in arrays]
            for i, (view, array) in enumerate(zip(views, arrays)):  # every one checked before any is copied
                if array.shape != view.shape:
                    raise ValueError(f"coefs_/intercepts_ entry {i} has shape {array.shape}, expected {view.shape}")
            for view, array in zip(views, arrays):
                view[...] = array
            self._use_net(net)
        return net

    # --- prediction -------------------------------------------------------------------------------------

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, sparse_structure_checked(X), accept_sparse="csr", reset=False)

    def _forward(self, X):
        """Output activations y_hat (n_samples, n_outputs_)."""
        state = self.__dict__
        if type(X) is np.ndarray and X.ndim == 2 and X.dtype in v.DTYPES and X.shape[0] > 0 \
                and "coefs_" in state and X.shape[1] == state.get("n_features_in_") \
                and "feature_names_in_" not in state:
            # A plain float array of the fitted width, with no feature names to check: what scikit-learn's
            # validation would pass unchanged (it was 85% of a row's predict_proba). The network checks the
            # values; anything it refuses (NaN, infinity) goes through that validation, for its error.
            net = self._network()
            y_hat = net.forward_plain(np.ascontiguousarray(X, dtype=net.dtype))
            if y_hat is not None:
                return y_hat
        X = self._check_X(X)
        return self._network().forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
