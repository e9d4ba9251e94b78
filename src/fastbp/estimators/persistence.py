"""The drop-ins on disk: `save` (the fitted network as .npz, without pickle) and their pickled state.

Pickles (and skops files) hold fastbp's parts as plain values: the network, the optimizer, the stopper and
the history as dicts and lists of numbers, strings and arrays. So skops needs to trust only the estimator's
class, and a pickle does not name fastbp's internal classes. The weights are stored once, in the network;
coefs_ and intercepts_ become its views again.
"""

from __future__ import annotations

from typing import Any

from sklearn.utils.validation import check_is_fitted

from fastbp import persistence
from fastbp._locks import exclusive
from fastbp._typing import PathLike
from fastbp.callbacks import EarlyStopping
from fastbp.estimators.stochastic import Solver
from fastbp.history import History
from fastbp.network import MLP


class Persistence:
    """`save`, and pickling, for `fastbp.estimators.base.BaseMLP`."""

    def save(self: Any, path: PathLike) -> None:
        """Write the fitted network, and the stochastic solver's optimizer state, to an .npz file without pickle.

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
            state["_optimizer"] = Solver.from_state_dict(state["_optimizer"])
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
