"""Drop-ins for scikit-learn's `MLPClassifier` and `MLPRegressor`, trained by fastbp's compiled core.

scikit-learn's `sklearn.neural_network` is the specification: the same parameters (checked by its own
parameter constraints), fitted attributes and methods, and the same use of the random stream (initial
weights, then the early-stopping split, then one shuffle per epoch), so with an integer `random_state` the
fitted weights equal scikit-learn's to rounding. The sgd and adam solvers run in `fastbp.Trainer`, one
compiled call per epoch; lbfgs runs SciPy's L-BFGS-B on `MLP.loss_and_grad` over the flat parameters.
scikit-learn's own tests (`sklearn/neural_network/tests/test_mlp.py`) run against these classes in
tests/test_sklearn_conformance.py. Fitted attributes set from outside (`coefs_`, `intercepts_`, `t_`,
`loss_curve_`, ...) are what training starts from, as in scikit-learn; `to_sklearn` and `from_sklearn`
convert to and from scikit-learn's estimators. Sparse X is used as CSR without a dense copy (scikit-learn's
validation converts CSC, COO and the other formats to CSR once, a copy of the matrix).

Deliberate differences from scikit-learn, all documented in the user guide's page on the drop-ins:
- the multi-output squared error is reported as the sum over outputs of (y - y_hat)^2 / 2, the function
  whose gradient both libraries follow (scikit-learn reports the mean over outputs). For single-output
  regression and all classification the two agree;
- losses are computed from the logits, not from clipped probabilities, so `loss_` differs where
  predictions saturate; `predict_log_proba` is log(predict_proba) except where a probability underflows
  (below the smallest normal float), where it comes from the logits and stays finite;
- an epoch that diverges with early_stopping=True is recorded as scikit-learn records it (NaN loss and
  validation score) and training ends there with the best weights; scikit-learn runs its remaining epochs
  on the non-finite weights, recording NaN for each, so its `n_iter_` counts to max_iter;
- a minibatch whose sample weights are all zero is skipped (scikit-learn raises ZeroDivisionError);
- `partial_fit` is unavailable with solver="lbfgs" for the regressor as for the classifier;
- with lbfgs, float32 data gives float32 weights (scikit-learn's come back as float64).
"""

import copy
import functools
import itertools
import math
import sys
import warnings
from numbers import Integral

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as _SklearnClassifier
from sklearn.neural_network import MLPRegressor as _SklearnRegressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, _num_samples, check_is_fitted, column_or_1d, validate_data

from fastbp import _validation as v
from fastbp import distributed, optim, persistence, reference
from fastbp._docstrings import estimator_doc
from fastbp._locks import exclusive
from fastbp._threads import single_threaded_blas
from fastbp.callbacks import Callback, EarlyStopping, ProgressBar, call
from fastbp.epochs import DivergenceError
from fastbp.network import MLP
from fastbp.optim import SGD, Adam
from fastbp.trainer import History, Trainer

# Parameters fastbp adds to scikit-learn's, with their constraints.
_EXTRA_CONSTRAINTS = {
    "dtype": [None, StrOptions({"float32", "float64"}), type, np.dtype],
    "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    "thread_invariant": ["boolean"],
    "callbacks": [None, list, tuple],
    "progress_bar": ["boolean"],
    "comm": "no_validation",  # checked in fit: mpi4py is optional
}
# Attributes only the stochastic solvers set.
_STOCHASTIC_ATTRIBUTES = ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                          "validation_loss_curve_", "_no_improvement_count")
# Fitted attributes of fastbp's that scikit-learn's estimators do not have (left out by to_sklearn).
_FASTBP_ATTRIBUTES = ("validation_loss_curve_",)
# Private state of scikit-learn's estimators that to_sklearn and from_sklearn carry besides the fitted
# attributes (the weights, optimizer and best weights are converted on their own).
_SKLEARN_PRIVATE_STATE = ("_label_binarizer", "_no_improvement_count")
# scikit-learn's message when a solver ends with non-finite weights; fastbp adds its advice after it.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large values "
                      "and need to be preprocessed.")


# Where scikit-learn's MLP issues its warnings.
SKLEARN_MLP_MODULE = "sklearn.neural_network._multilayer_perceptron"


def _sklearn_is_patched():
    """Whether scikit-learn's MLP names are these drop-ins (`fastbp.patch_sklearn`, which imports this module)."""
    module = sys.modules.get("sklearn.neural_network")
    return module is not None and getattr(module, "MLPClassifier", None) is globals().get("MLPClassifier")


def _warn(message, category):
    """Issue a warning as scikit-learn's MLP would: under `patch_sklearn`, from scikit-learn's module, so that
    code written for scikit-learn (``filterwarnings(..., module="sklearn")``, as its own examples do) sees
    what it would see with scikit-learn; otherwise from here. Either way it points at the line of this
    module that warns, and repeats as scikit-learn's do (one registry per module)."""
    caller = sys._getframe(1)
    module = SKLEARN_MLP_MODULE if _sklearn_is_patched() else __name__
    registry = vars(sys.modules[module]).setdefault("__warningregistry__", {})
    warnings.warn_explicit(message, category, caller.f_code.co_filename, caller.f_lineno, module=module,
                           registry=registry, module_globals=caller.f_globals)


def _hidden_layer_sizes(value):
    sizes = list(value) if hasattr(value, "__iter__") else [value]
    return [v.check_int(f"hidden_layer_sizes[{i}]", size, minimum=1) for i, size in enumerate(sizes)]


def _sparse_structure_checked(X):
    """X, after `check_sparse_structure` when it is sparse: scikit-learn's validation converts it to CSR with
    scipy, which trusts the index arrays."""
    if scipy.sparse.issparse(X):
        v.check_sparse_structure(X)
    return X


def _check_not_empty(X):
    if _num_samples(X) == 0:
        raise ValueError(f"X is empty: it has 0 samples (shape {getattr(X, 'shape', (0,))})")


def _stochastic_solver(estimator):
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} is "
                             "not stochastic.")
    return True


class _Report(Callback):
    """What `verbose` prints, in scikit-learn's words: a line per epoch and why training stopped."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.n_iter = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.n_iter += 1
        print("Iteration %d, loss = %.8f" % (self.n_iter, logs["loss"]))
        if "val_score" in logs:
            print("Validation score: %f" % logs["val_score"])
        return False

    def on_train_end(self, trainer):
        est = self.estimator
        watched = "Validation score" if est.early_stopping else "Training loss"
        if trainer.stop_reason in ("early_stopping", "learning_rate"):
            detail = " Learning rate too small." if trainer.stop_reason == "learning_rate" else ""
            print(f"{watched} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} consecutive "
                  f"epochs.{detail} Stopping.")


class _Solver:
    """What a stochastic fit leaves for the next one, kept as scikit-learn keeps it in ``_optimizer``: fastbp's
    optimizer (settings, velocities or moments, step count) and the schedule's learning rate for the next
    epoch."""

    def __init__(self, optimizer, rate):
        self.optimizer = optimizer
        self.rate = rate

    def __repr__(self):
        return f"_Solver({self.optimizer!r}, rate={self.rate!r})"

    def state_dict(self):
        return {"optimizer": self.optimizer.state_dict(), "rate": self.rate}

    @classmethod
    def from_state_dict(cls, state):
        return cls(optim.from_state_dict(state["optimizer"]), state["rate"])

    @property
    def learning_rate_init(self):
        return self.optimizer.learning_rate

    @property
    def learning_rate(self):
        """scikit-learn's ``_optimizer.learning_rate``: for sgd the rate in force now (after invscaling or
        adaptive); for adam the bias-corrected step size of the last update."""
        opt = self.optimizer
        if isinstance(opt, Adam) and opt.t:
            return float(self.rate * np.sqrt(1 - opt.beta_2**opt.t) / (1 - opt.beta_1**opt.t))
        return self.rate

    @classmethod
    def from_sklearn(cls, theirs, net):
        """The state of scikit-learn's SGDOptimizer or AdamOptimizer `theirs`, for the network `net`."""
        if hasattr(theirs, "velocities"):
            ours = SGD(theirs.learning_rate_init, theirs.momentum, theirs.nesterov)
            buffers, rate = {"velocity": theirs.velocities}, theirs.learning_rate
        else:
            ours = Adam(theirs.learning_rate_init, theirs.beta_1, theirs.beta_2, theirs.epsilon)
            buffers, rate = {"m": theirs.ms, "v": theirs.vs}, theirs.learning_rate_init
        state = ours.state_for(net.params)
        for name, arrays in buffers.items():  # per layer, coefs then intercepts: the flat layout of params
            reference.flatten(arrays, out=state[name])
        ours.t = int(getattr(theirs, "t", 0))
        return cls(ours, float(rate))

    def to_sklearn(self, net, params, lr_schedule, power_t):
        """This state as scikit-learn's optimizer object, for its estimator whose coefs_ + intercepts_ are
        `params` (the weights of `net`)."""
        from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

        ours = self.optimizer
        state = ours.state_for(net.params)

        def per_layer(flat):
            coefs, intercepts = net.unflatten(flat.copy())
            return coefs + intercepts

        if isinstance(ours, SGD):
            theirs = SGDOptimizer(params, learning_rate_init=ours.learning_rate, lr_schedule=lr_schedule,
                                  momentum=ours.momentum, nesterov=ours.nesterov, power_t=power_t)
            theirs.velocities = per_layer(state["velocity"])
        else:
            theirs = AdamOptimizer(params, learning_rate_init=ours.learning_rate, beta_1=ours.beta_1,
                                   beta_2=ours.beta_2, epsilon=ours.epsilon)
            theirs.ms, theirs.vs, theirs.t = per_layer(state["m"]), per_layer(state["v"]), ours.t
        theirs.learning_rate = self.learning_rate
        return theirs


def _layer_sizes(coefs, intercepts):
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


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: fitting, the network, prediction, pickling."""

    def _output(self):
        """The output activation (and with it the loss) for the targets seen at the first fit."""
        raise NotImplementedError

    # --- fitting ----------------------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight=None, incremental=False, epochs=1):
        with exclusive(self, "estimator"):
            if self.comm is None:
                return self._fit_unlocked(X, y, sample_weight, incremental, epochs)
            with distributed.abort_on_error(distributed.check_comm(self.comm)):
                return self._fit_unlocked(X, y, sample_weight, incremental, epochs)

    def _fit_unlocked(self, X, y, sample_weight, incremental, epochs):
        hidden = _hidden_layer_sizes(self.hidden_layer_sizes)
        if self.comm is not None:  # a rank without rows would fail validation alone and abort the job
            distributed.agree(self.comm, _check_not_empty, X)
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
        if net.activation != self.activation:  # changed by set_params between warm-started fits
            self._use_net(MLP(net.layer_sizes, self.activation, net.output, net.dtype, 0))
            self._net.params[...] = net.params
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
        return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)

    def _initialize(self, layer_sizes, dtype, rng):
        """A new network, with its weights drawn from rng as scikit-learn draws them, and no history."""
        self.out_activation_ = self._output()
        self._use_net(MLP(layer_sizes, self.activation, self.out_activation_, dtype, rng, n_threads=self.n_threads))
        self.n_layers_ = len(layer_sizes)
        self.n_outputs_ = layer_sizes[-1]
        self.n_iter_ = 0
        self.t_ = 0
        self._optimizer = None
        self._stopper = None
        self._history = History()
        for name in _STOCHASTIC_ATTRIBUTES:
            self.__dict__.pop(name, None)

    def _adopt(self, optimizer=None, best_weights=None):
        """Make the network, and the stochastic solvers' history, from fitted attributes set from outside, so
        that training and prediction start from them: coefs_ and intercepts_ (with out_activation_, t_,
        loss_curve_, best_loss_, ...) assigned to an unfitted estimator, as in scikit-learn's worked example,
        or copied by `from_sklearn` with scikit-learn's optimizer object and best weights (coefs, intercepts)."""
        coefs, intercepts = list(self.coefs_), list(self.intercepts_)
        layer_sizes = _layer_sizes(coefs, intercepts)
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
        net = MLP(layer_sizes, self.activation, output, dtype, 0, n_threads=self.n_threads,
                  thread_invariant=bool(self.thread_invariant))
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
        self._optimizer = None if optimizer is None else _Solver.from_sklearn(optimizer, net)
        self._stopper = None
        if best_weights is not None and self.early_stopping:
            self._stopper = EarlyStopping("val_score", restore_best_weights=True)
            self._stopper.best_params = reference.flatten([*best_weights[0], *best_weights[1]]).astype(dtype)

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
            for i, (view, array) in enumerate(zip(views, arrays)):
                array = np.asarray(array)
                if array.shape != view.shape:
                    raise ValueError(f"coefs_/intercepts_ entry {i} has shape {array.shape}, expected {view.shape}")
                view[...] = array
            self._use_net(net)
        return net

    def _early_stopping(self):
        """The no-improvement rule of this fit (scikit-learn's, on the validation score or the training loss).
        Its best value and count continue from the fitted attributes, as scikit-learn's do."""
        monitor = "val_score" if self.early_stopping else "loss"
        if self._stopper is None or self._stopper.monitor != monitor:
            self._stopper = EarlyStopping(monitor, restore_best_weights=bool(self.early_stopping))
        stopper = self._stopper
        stopper.n_iter_no_change = sys.maxsize if self.n_iter_no_change == np.inf else int(self.n_iter_no_change)
        stopper.tol = float(self.tol)
        stopper.best = getattr(self, "best_validation_score_" if self.early_stopping else "best_loss_", None)
        stopper.n_no_improvement = getattr(self, "_no_improvement_count", 0)
        return stopper

    def _fit_stochastic(self, X, Y, sample_weight, rng, incremental, epochs):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or self._optimizer is None:
            # fit starts a new optimizer (state, step count, learning rate); partial_fit continues the last one.
            if self.solver == "sgd":
                optimizer = SGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum)
            else:
                optimizer = Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
            self._optimizer = _Solver(optimizer, float(self.learning_rate_init))
        stopper = self._early_stopping()

        n_train = X.shape[0] - (math.ceil(self.validation_fraction * X.shape[0]) if self.early_stopping else 0)
        n_train = distributed.total(self.comm, n_train)  # every rank's training rows
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                _warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", UserWarning)
            batch_size = self.batch_size
        callbacks = list(self.callbacks or ())
        if self.comm is None or self.comm.rank == 0:
            callbacks += [_Report(self)] if self.verbose else []
            callbacks += [ProgressBar()] if self.progress_bar else []
        trainer = Trainer(
            self._net, self._optimizer.optimizer, batch_size=batch_size,
            max_epochs=epochs if incremental else self.max_iter, shuffle=self.shuffle, random_state=rng,
            alpha=self.alpha, schedule=self.learning_rate if self.solver == "sgd" else "constant",
            power_t=self.power_t, early_stopping=stopper,
            validation_fraction=self.validation_fraction if self.early_stopping else None, n_threads=self.n_threads,
            callbacks=callbacks, comm=self.comm)
        trainer.history, trainer.epoch, trainer.t = self._history, len(self._history), self.t_
        trainer.learning_rate = self._optimizer.rate
        epochs_before = len(self._history)
        try:
            trainer.fit(X, Y, sample_weight)
        except DivergenceError as exc:
            if not self.early_stopping:
                detail = str(exc)
                raise DivergenceError(f"{NON_FINITE_WEIGHTS} {detail[:1].upper()}{detail[1:]}") from exc
            self._end_diverged(trainer, callbacks)
        finally:  # after a DivergenceError too: the model holds its last finite epoch, say which
            self._record(trainer, epochs_before)
        if trainer.stop_reason == "max_epochs" and not incremental:
            _warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                  "hasn't converged yet.", ConvergenceWarning)

    def _end_diverged(self, trainer, callbacks):
        """End a fit with early stopping whose epoch diverged (the trainer rolled it back) as scikit-learn
        does: the epoch scores NaN and the model keeps the weights of the best validation score. scikit-learn
        then runs its remaining epochs on non-finite weights, which can only score NaN; fastbp stops here."""
        epoch = trainer.epoch
        logs = {"epoch": epoch, "loss": np.nan, "learning_rate": trainer.learning_rate, "time": np.nan,
                "val_loss": np.nan, "val_score": np.nan}
        self._history.append(logs)
        self._stopper.plateau(trainer, epoch, logs)
        for callback in callbacks:
            call(callback, "on_epoch_end", trainer, epoch, logs)
        self._stopper.on_train_end(trainer)
        for callback in callbacks:
            call(callback, "on_train_end", trainer)
        _warn(f"Training diverged in epoch {epoch + 1} (learning rate {trainer.learning_rate:g}): its loss or "
              "weights became NaN or infinite. As scikit-learn does with early_stopping=True, the epoch is "
              "recorded with a NaN validation score and the model keeps the weights of the best validation "
              f"score ({self._stopper.best:g}). Try a smaller learning_rate_init.", ConvergenceWarning)

    def _record(self, trainer, epochs_before):
        """The fitted attributes of the stochastic solvers, from the trainer's history and stopper."""
        history = self._history
        self.n_iter_ = len(history) - epochs_before
        self.t_ = trainer.t
        self._optimizer.rate = trainer.learning_rate
        self._no_improvement_count = self._stopper.n_no_improvement
        self.loss_curve_ = history["loss"]
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]
        if self.early_stopping:
            self.validation_scores_ = history["val_score"] if len(history) else []
            self.validation_loss_curve_ = history["val_loss"] if len(history) else []
            self.best_validation_score_ = self._stopper.best
            self.best_loss_ = None
        else:
            self.best_loss_ = self._stopper.best
            self.validation_scores_ = self.best_validation_score_ = self.validation_loss_curve_ = None

    def _fit_lbfgs(self, X, Y, sample_weight):
        if self.callbacks:
            raise ValueError("callbacks are run by the stochastic solvers ('sgd', 'adam'); solver='lbfgs' does not "
                             "run them")
        net, comm = self._net, self.comm
        X, Y, sample_weight, weight_sum, alpha = net._check_batch(X, Y, sample_weight, self.alpha)
        if comm is None:
            def loss_and_grad():
                return net._loss_and_grad(X, Y, sample_weight, weight_sum, alpha)
        else:  # every rank runs the same L-BFGS-B iterations on the objective of all the ranks' rows
            distributed.start(comm, net)
            loss_and_grad = functools.partial(distributed.GradientSum(comm, net), X, Y, sample_weight,
                                              distributed.total(comm, weight_sum), alpha)
        start = net.params.copy()

        def objective(x):
            net.params[...] = x
            loss, grad = loss_and_grad()
            return loss, np.array(grad, dtype=np.float64)  # a copy: SciPy keeps it, the core reuses its buffer

        iteration = itertools.count(1)

        def report(intermediate_result):
            print("Iteration %d, loss = %.8f" % (next(iteration), intermediate_result.fun))

        # BLAS at one thread for the whole solve, not only inside the core: L-BFGS-B's own small BLAS calls,
        # threaded between the core's, took 3x to 10x longer than the whole fit on a loaded 2-core machine.
        with np.errstate(over="ignore", invalid="ignore"), single_threaded_blas():  # non-finite: see below
            result = scipy.optimize.minimize(
                objective, start.astype(np.float64), method="L-BFGS-B", jac=True,
                callback=report if self.verbose and (comm is None or comm.rank == 0) else None,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        net.params[...] = result.x
        if not np.isfinite(net.params).all() or not np.isfinite(result.fun):
            net.params[...] = start
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} The weights are back where lbfgs started.")
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        if result.status != 0:
            _warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                  f"{result.message}\n\nIncrease the number of iterations (max_iter) or scale the data.",
                  ConvergenceWarning)

    # --- prediction -------------------------------------------------------------------------------------

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, _sparse_structure_checked(X), accept_sparse="csr", reset=False)

    def _forward(self, X):
        """Output activations y_hat (n_samples, n_outputs_)."""
        X = self._check_X(X)
        return self._network().forward(X)

    def save(self, path):
        """Write the fitted network, and the sgd or adam optimizer's state, to an .npz file without pickle.

        ``fastbp.load(path)`` reads it back as a `fastbp.MLP` whose ``forward`` gives this estimator's output
        activations (``predict_proba`` for a multiclass classifier); the class labels, feature names and
        the estimator's parameters are not in the file. Use pickle, joblib or skops for the whole estimator.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically); its directory must exist.

        See Also
        --------
        fastbp.load : Read the network back.
        """
        check_is_fitted(self)
        with exclusive(self, "estimator"):
            persistence.save(self._network(), path, None if self._optimizer is None else self._optimizer.optimizer)

    # --- scikit-learn's estimators ----------------------------------------------------------------------

    def to_sklearn(self):
        """Convert to scikit-learn's fitted estimator, which predicts the same.

        The result carries this model's parameters, weights, fitted attributes and sgd or adam optimizer
        state, so that scikit-learn-aware tools (skl2onnx, for one) take it and scikit-learn's ``fit`` or
        ``partial_fit`` continues training it. fastbp's own parameters (dtype, n_threads, thread_invariant,
        callbacks, progress_bar, comm, class_weight) and ``validation_loss_curve_`` are left out.

        Returns
        -------
        estimator : sklearn.neural_network.MLPClassifier or sklearn.neural_network.MLPRegressor
            A fitted scikit-learn estimator of the same kind.
        """
        check_is_fitted(self)
        with exclusive(self, "estimator"):
            net = self._network()
            names = self._sklearn_class._get_param_names()
            theirs = self._sklearn_class(**{k: v for k, v in self.get_params(deep=False).items() if k in names})
            for name, value in vars(self).items():
                if (_is_fitted_attribute(name) and name not in _FASTBP_ATTRIBUTES) or name in _SKLEARN_PRIVATE_STATE:
                    setattr(theirs, name, copy.deepcopy(value))
            coefs, intercepts = net.unflatten(net.params.copy())
            theirs.coefs_, theirs.intercepts_ = coefs, intercepts
            # scikit-learn keeps the weights of the best validation score for early stopping (the initial ones
            # until an epoch beats them).
            stopper = self._stopper
            best = net.params if stopper is None or stopper.best_params is None else stopper.best_params
            theirs._best_coefs, theirs._best_intercepts = net.unflatten(best.copy())
            if self._optimizer is not None:
                theirs._optimizer = self._optimizer.to_sklearn(net, coefs + intercepts, self.learning_rate,
                                                               self.power_t)
        return theirs

    @classmethod
    def from_sklearn(cls, estimator, **params):
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
        if not isinstance(estimator, cls._sklearn_class):
            kind = type(estimator)
            raise TypeError(f"from_sklearn takes a fitted sklearn.neural_network.{cls._sklearn_class.__name__}, got "
                            f"{kind.__module__}.{kind.__name__}")
        check_is_fitted(estimator)
        ours = cls(**{**estimator.get_params(deep=False), **params})
        state = vars(estimator)
        for name, value in state.items():
            if _is_fitted_attribute(name) or name in _SKLEARN_PRIVATE_STATE:
                setattr(ours, name, copy.deepcopy(value))
        best = (state["_best_coefs"], state["_best_intercepts"]) if "_best_coefs" in state else None
        ours._adopt(state.get("_optimizer"), best)
        return ours

    # --- pickling ---------------------------------------------------------------------------------------

    # Pickles (and skops files) hold fastbp's parts as plain values: the network, the optimizer, the stopper and
    # the history as dicts and lists of numbers, strings and arrays. So skops needs to trust only the estimator's
    # class, and a pickle does not name fastbp's internal classes. The weights are stored once, in the network;
    # coefs_ and intercepts_ become its views again.
    def __getstate__(self):
        state = super().__getstate__()
        if "_net" in state:
            net = self._network()
            state = {key: value for key, value in state.items() if key not in ("coefs_", "intercepts_")}
            state["_net"] = net.state_dict()
        if state.get("_optimizer") is not None:
            state["_optimizer"] = self._optimizer.state_dict()
        if state.get("_stopper") is not None:
            state["_stopper"] = self._stopper.state_dict()
        if state.get("_history") is not None:
            state["_history"] = list(self._history.records)
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("_net"), dict):  # else a pickle of an earlier fastbp, which held the objects
            state["_net"] = MLP.from_state_dict(state["_net"])
        if isinstance(state.get("_optimizer"), dict):
            state["_optimizer"] = _Solver.from_state_dict(state["_optimizer"])
        if isinstance(state.get("_stopper"), dict):
            state["_stopper"] = EarlyStopping.from_state_dict(state["_stopper"])
        if isinstance(state.get("_history"), list):
            history = History()
            for record in state["_history"]:
                history.append(record)
            state["_history"] = history
        super().__setstate__(state)
        if "_net" in state:
            self._use_net(self._net)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _is_fitted_attribute(name):
    """scikit-learn's convention: fitted attributes end with one underscore."""
    return name.endswith("_") and not name.startswith("_")


def _store(estimator, params):
    """__init__ stores its arguments unchanged, as scikit-learn requires; validation happens in fit."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


_COMMON_PARAMETERS = ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size", "learning_rate",
                      "learning_rate_init", "power_t", "max_iter", "shuffle", "random_state", "tol", "verbose",
                      "warm_start", "momentum", "nesterovs_momentum", "early_stopping", "validation_fraction", "beta_1",
                      "beta_2", "epsilon", "n_iter_no_change", "max_fun")
_FASTBP_PARAMETERS = ("dtype", "n_threads", "thread_invariant", "callbacks", "progress_bar", "comm")
_ATTRIBUTES = ("loss_", "best_loss_", "loss_curve_", "validation_scores_", "validation_loss_curve_",
               "best_validation_score_", "t_", "coefs_", "intercepts_", "n_features_in_", "feature_names_in_",
               "n_iter_", "n_layers_", "n_outputs_", "out_activation_")
_NOTES = """\
The parameters up to `max_fun` are scikit-learn's, with its defaults and constraints (an invalid value
raises scikit-learn's InvalidParameterError); the ones after are fastbp's. With an integer `random_state`
the fitted weights equal scikit-learn's up to rounding. The objective is computed from the logits, so it
stays finite where probabilities saturate. The differences from scikit-learn are listed in the user
guide's page on the drop-ins and in the module docstring of `fastbp.estimators`."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = estimator_doc(
        "Multi-layer perceptron classifier, a drop-in for scikit-learn's, trained by fastbp's compiled core.",
        """\
Binary targets and multilabel indicator matrices get logistic outputs with binary cross-entropy,
multiclass targets a softmax output with cross-entropy. Dense and scipy.sparse X (used as CSR,
without a dense copy) are accepted.""",
        _COMMON_PARAMETERS + ("class_weight",) + _FASTBP_PARAMETERS,
        ("classes_",) + _ATTRIBUTES,
        ["MLPRegressor : The regressor of the same network.",
         "fastbp.MLP : The network itself, with its own forward pass and gradient.",
         "fastbp.Trainer : Minibatch training of an `MLP`, with callbacks and schedules.",
         "sklearn.neural_network.MLPClassifier : The scikit-learn classifier that `to_sklearn` returns."],
        _NOTES,
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

    _sklearn_class = _SklearnClassifier  # what to_sklearn makes and from_sklearn takes
    _parameter_constraints = {**_SklearnClassifier._parameter_constraints, **_EXTRA_CONSTRAINTS,
                              "class_weight": [dict, StrOptions({"balanced"}), None]}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, class_weight=None, dtype=None,
                 n_threads=None, thread_invariant=False, callbacks=None, progress_bar=False, comm=None):
        _store(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, _sparse_structure_checked(X), y, accept_sparse="csr", multi_output=True,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
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

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None, epochs=1):
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
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight, incremental=True, epochs=epochs)

    def predict(self, X):
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
        return self._label_binarizer.inverse_transform(y_hat.ravel() if self.n_outputs_ == 1 else y_hat)

    def predict_proba(self, X):
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

    def predict_log_proba(self, X):
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


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = estimator_doc(
        "Multi-layer perceptron regressor, a drop-in for scikit-learn's, trained by fastbp's compiled core.",
        """\
loss="squared_error" gives an identity output with half the squared error (summed over the outputs),
loss="poisson" an exponential output with half the Poisson deviance, for counts. Dense and
scipy.sparse X (used as CSR, without a dense copy) are accepted.""",
        ("loss",) + _COMMON_PARAMETERS + _FASTBP_PARAMETERS,
        _ATTRIBUTES,
        ["MLPClassifier : The classifier of the same network.",
         "fastbp.MLP : The network itself, with its own forward pass and gradient.",
         "fastbp.Trainer : Minibatch training of an `MLP`, with callbacks and schedules.",
         "sklearn.neural_network.MLPRegressor : The scikit-learn regressor that `to_sklearn` returns."],
        _NOTES,
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

    _sklearn_class = _SklearnRegressor  # what to_sklearn makes and from_sklearn takes
    _parameter_constraints = {**_SklearnRegressor._parameter_constraints, **_EXTRA_CONSTRAINTS}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None, n_threads=None,
                 thread_invariant=False, callbacks=None, progress_bar=False, comm=None):
        _store(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, _sparse_structure_checked(X), y, accept_sparse="csr", multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for loss='poisson'.")
        return X, y.reshape(-1, 1) if y.ndim == 1 else y, None

    def _output(self):
        return "exp" if self.loss == "poisson" else "identity"

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
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

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, epochs=1):
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

    def predict(self, X):
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
