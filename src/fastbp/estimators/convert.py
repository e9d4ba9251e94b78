"""Conversion between the drop-ins and scikit-learn's fitted MLPs (`to_sklearn`, `from_sklearn`), and the
adoption of weights set from outside (``coefs_`` and ``intercepts_`` assigned to an estimator)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from fastbp import _validation as v
from fastbp import export
from fastbp._locks import exclusive
from fastbp.callbacks import EarlyStopping
from fastbp.estimators import _sklearn
from fastbp.estimators.params import FASTBP_ATTRIBUTES, SKLEARN_VALUES, is_fitted_attribute
from fastbp.estimators.stochastic import Solver
from fastbp.history import History
from fastbp.network import MLP
from fastbp.optim import SGD, Adam


def layer_sizes_of(coefs, intercepts):
    """The layer sizes of weights given per layer (coefs_, intercepts_), checked: shapes that chain, finite
    numbers."""
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError(f"coefs_ and intercepts_ must hold one array per layer, as many of each (at least 1); "
                         f"got {len(coefs)} and {len(intercepts)}")
    sizes = [np.shape(coefs[0])[0] if np.ndim(coefs[0]) == 2 else None]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        if np.ndim(W) != 2 or np.shape(W)[0] != sizes[-1]:
            raise ValueError(f"coefs_[{i}] has shape {np.shape(W)}; expected ({sizes[-1]}, n_units)")
        if np.shape(b) != (np.shape(W)[1],):
            raise ValueError(f"intercepts_[{i}] has shape {np.shape(b)}; expected ({np.shape(W)[1]},)")
        for name, array in ((f"coefs_[{i}]", W), (f"intercepts_[{i}]", b)):
            if not np.isfinite(array).all():
                raise ValueError(f"{name} has non-finite values")
        sizes.append(np.shape(W)[1])
    return tuple(sizes)


def solver_from_sklearn(theirs, net):
    """The `Solver` holding the state of scikit-learn's SGDOptimizer or AdamOptimizer `theirs`, for `net`."""
    if hasattr(theirs, "velocities"):
        ours = SGD(theirs.learning_rate_init, theirs.momentum, theirs.nesterov)
        buffers, rate = {"velocity": theirs.velocities}, theirs.learning_rate
    else:
        ours = Adam(theirs.learning_rate_init, theirs.beta_1, theirs.beta_2, theirs.epsilon)
        buffers, rate = {"m": theirs.ms, "v": theirs.vs}, theirs.learning_rate_init
    state = ours.state_for(net.params)
    n_layers = len(net.coefs)
    for name, arrays in buffers.items():  # scikit-learn's lists hold every layer's coefs, then its intercepts
        net.flatten(arrays[:n_layers], arrays[n_layers:], out=state[name])
    ours.t = int(getattr(theirs, "t", 0))
    return Solver(ours, float(rate))


def solver_to_sklearn(solver, net, params, lr_schedule, power_t):
    """The `Solver`'s state as scikit-learn's optimizer object, for its estimator whose coefs_ + intercepts_ are
    `params` (the weights of `net`)."""
    ours = solver.optimizer
    state = ours.state_for(net.params)

    def per_layer(flat):
        coefs, intercepts = net.unflatten(flat.copy())
        return coefs + intercepts

    if isinstance(ours, SGD):
        return _sklearn.sgd_optimizer(params, ours.learning_rate, lr_schedule, ours.momentum, ours.nesterov, power_t,
                                      per_layer(state["velocity"]), solver.learning_rate)
    return _sklearn.adam_optimizer(params, ours.learning_rate, ours.beta_1, ours.beta_2, ours.epsilon,
                                   per_layer(state["m"]), per_layer(state["v"]), ours.t, solver.learning_rate)


def sklearn_params(estimator, net, names):
    """The parameters of scikit-learn's estimator (`names`) from the drop-in's, whose network is `net`; a
    ValueError naming the first parameter whose value scikit-learn's MLP cannot represent."""
    params = {k: value for k, value in estimator.get_params(deep=False).items() if k in names}
    activations = set(net.activations)
    if len(activations) > 1 or not activations <= set(SKLEARN_VALUES["activation"]):
        raise ValueError(f"to_sklearn: scikit-learn's MLP cannot represent activation={estimator.activation!r}: "
                         f"its hidden layers share one of {', '.join(map(repr, SKLEARN_VALUES['activation']))}")
    if activations:
        params["activation"] = activations.pop()  # one name for every layer, as scikit-learn takes it
    for name in ("solver", "learning_rate", "loss"):
        if name in params and params[name] not in SKLEARN_VALUES[name]:
            raise ValueError(f"to_sklearn: scikit-learn's MLP cannot represent {name}={params[name]!r} (it takes "
                             f"{', '.join(map(repr, SKLEARN_VALUES[name]))})")
    return params


class Conversion:
    """`to_sklearn`, `from_sklearn` and the adoption of outside weights, for `fastbp.estimators.base.BaseMLP`."""

    def _adopt(self, optimizer=None, best_weights=None):
        """Make the network, and the stochastic solvers' history, from fitted attributes set from outside, so
        that training and prediction start from them: coefs_ and intercepts_ (with out_activation_, t_,
        loss_curve_, best_loss_, ...) assigned to an unfitted estimator, as in scikit-learn's worked example,
        or copied by `from_sklearn` with scikit-learn's optimizer object and best weights (coefs, intercepts)."""
        coefs, intercepts = list(self.coefs_), list(self.intercepts_)
        layer_sizes = layer_sizes_of(coefs, intercepts)
        if self.dtype is not None:
            dtype = v.check_dtype(self.dtype)
        else:  # float32 weights stay float32, as float32 data trains them
            dtype = np.result_type(*coefs, *intercepts, np.float32)
            dtype = dtype if dtype == np.float32 else np.float64
        if "out_activation_" in self.__dict__:
            output = self.out_activation_
            if output not in v.OUTPUTS:
                raise ValueError(f"out_activation_ must be one of {list(v.OUTPUTS)}, got {output!r}")
        elif hasattr(self, "_label_binarizer") or not is_classifier(self):
            output = self._output()
        else:
            raise ValueError("out_activation_ must be set with coefs_ and intercepts_ (the classes are not known)")
        net = MLP(layer_sizes, self.activation, output, dtype=dtype, random_state=0, n_threads=self.n_threads,
                  thread_invariant=bool(self.thread_invariant), **self._model_options())
        for view, array in zip(net.coefs + net.intercepts, coefs + intercepts):
            view[...] = array
        self._use_net(net)
        self.out_activation_, self.n_layers_, self.n_outputs_ = output, len(layer_sizes), layer_sizes[-1]
        self.t_ = getattr(self, "t_", 0)
        self._history = History()
        scores = getattr(self, "validation_scores_", None) or []
        for epoch, loss in enumerate(getattr(self, "loss_curve_", None) or []):
            record = {"epoch": epoch, "loss": loss, "learning_rate": np.nan, "time": np.nan}
            if epoch < len(scores):
                record["val_score"], record["val_loss"] = scores[epoch], np.nan
            self._history.append(record)
        self._optimizer = None if optimizer is None else solver_from_sklearn(optimizer, net)
        self._stopper = None
        if best_weights is not None and self.early_stopping:
            self._stopper = EarlyStopping("val_score", restore_best_weights=True)
            self._stopper.resume(best_params=net.flatten(*best_weights))

    def to_sklearn(self: Any) -> Any:
        """Convert to scikit-learn's fitted estimator, which predicts the same.

        The result carries this model's parameters, weights, fitted attributes and sgd or adam optimizer
        state, so that scikit-learn-aware tools (skl2onnx, for one) take it and scikit-learn's ``fit`` or
        ``partial_fit`` continues training it. fastbp's own parameters (dropout, init, weight_decay,
        clip_norm, label_smoothing, huber_delta, warmup_fraction, dtype, n_threads, thread_invariant,
        callbacks, progress_bar, comm, class_weight) and ``validation_loss_curve_`` are left out: a model
        trained with dropout converts, since prediction has none.

        Returns
        -------
        estimator : sklearn.neural_network.MLPClassifier or sklearn.neural_network.MLPRegressor
            A fitted scikit-learn estimator of the same kind.

        Raises
        ------
        ValueError
            For a model scikit-learn's MLP cannot represent, naming the parameter: an activation other than
            its four or one per layer, solver "adamw", "rmsprop" or "adagrad", learning_rate "warmup_cosine" or
            "one_cycle", loss "huber" or "absolute_error". `fastbp.to_onnx` exports any model.
        """
        check_is_fitted(self)
        sklearn_class = _sklearn.SKLEARN_CLASSES[type(self).__name__]
        with exclusive(self, "estimator"):
            net = self._network()
            theirs = sklearn_class(**sklearn_params(self, net, _sklearn.param_names(sklearn_class)))
            for name, value in vars(self).items():
                if (is_fitted_attribute(name) and name not in FASTBP_ATTRIBUTES) or name in _sklearn.PRIVATE_STATE:
                    setattr(theirs, name, copy.deepcopy(value))
            coefs, intercepts = net.unflatten(net.params.copy())
            theirs.coefs_, theirs.intercepts_ = coefs, intercepts
            # scikit-learn keeps the weights of the best validation score for early stopping (the initial ones
            # until an epoch beats them).
            stopper = self._stopper
            best = net.params if stopper is None or stopper.best_params is None else stopper.best_params
            _sklearn.set_best_weights(theirs, *net.unflatten(best.copy()))
            if self._optimizer is not None:
                _sklearn.set_optimizer(theirs, solver_to_sklearn(self._optimizer, net, coefs + intercepts,
                                                                 self.learning_rate, self.power_t))
        return theirs

    def to_onnx(self: Any, opset: int = export.MIN_OPSET) -> Any:
        """The fitted estimator as an ONNX model (an ``onnx.ModelProto``), without scikit-learn or skl2onnx.

        The graph takes "X", float (n_samples, ``n_features_in_``) in the fitted dtype. A classifier gives
        "label" (as `predict`: labels of `classes_`, or the 0/1 indicator matrix for multilabel targets) and
        "probabilities" (as `predict_proba`); a regressor gives "prediction" (as `predict`). Any activation,
        loss and solver exports (see `fastbp.to_onnx`).

        Parameters
        ----------
        opset : int >= 17, default=17
            The ONNX operator set the model declares.

        Returns
        -------
        onnx.ModelProto
            The model; save it with ``onnx.save``.
        """
        check_is_fitted(self)
        opset = export.check_opset(opset)
        with exclusive(self, "estimator"):
            net = self._network().copy()  # the weights at this moment
        classes = np.asarray(self.classes_) if is_classifier(self) else None
        return export.estimator_model(net, classes, opset, f"{type(self).__name__} exported by fastbp")

    @classmethod
    def from_sklearn(cls, estimator: Any, **params: Any) -> Any:
        """Make a fastbp estimator that continues from a fitted scikit-learn estimator.

        It takes the estimator's parameters, weights, fitted attributes and sgd or adam optimizer state, so
        it predicts the same, and ``partial_fit`` (or ``fit`` with warm_start=True) goes on training from
        there as scikit-learn's would.

        Parameters
        ----------
        estimator : sklearn.neural_network.MLPClassifier or sklearn.neural_network.MLPRegressor
            A fitted scikit-learn estimator of this class's kind.
        **params : dict
            Parameters that replace the estimator's, such as fastbp's ``n_threads``.

        Returns
        -------
        estimator : MLPClassifier or MLPRegressor
            The fastbp estimator, fitted.
        """
        sklearn_class = _sklearn.SKLEARN_CLASSES[cls.__name__]
        if not isinstance(estimator, sklearn_class):
            kind = type(estimator)
            raise TypeError(f"from_sklearn takes a fitted sklearn.neural_network.{sklearn_class.__name__}, got "
                            f"{kind.__module__}.{kind.__name__}")
        check_is_fitted(estimator)
        ours = cls(**{**estimator.get_params(deep=False), **params})
        for name, value in vars(estimator).items():
            if is_fitted_attribute(name) or name in _sklearn.PRIVATE_STATE:
                setattr(ours, name, copy.deepcopy(value))
        ours._adopt(_sklearn.optimizer_of(estimator), _sklearn.best_weights(estimator))
        return ours
