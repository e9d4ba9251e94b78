"""`History`: the per-epoch records of a trainer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


class History:
    """Per-epoch records of a trainer, in order, across all its fits.

    Each record is a dict with "epoch" (from 0), "loss" (mean minibatch objective of the epoch),
    "learning_rate", "time" (seconds of the training pass), and with validation data "val_loss" (data loss,
    no penalty) and "val_score" (accuracy for logistic and softmax outputs, R^2 otherwise).
    ``history["loss"]`` or ``history.loss`` gives one key as a list; ``history.records`` the dicts.

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> y = (X[:, 0] > 0).astype(float)
    >>> trainer = fastbp.Trainer(fastbp.MLP([4, 8, 1], random_state=0), max_epochs=3)
    >>> history = trainer.fit(X, y)
    >>> len(history), history.keys()
    (3, ['epoch', 'loss', 'learning_rate', 'time'])
    >>> history.epoch, history.learning_rate
    ([0, 1, 2], [0.1, 0.1, 0.1])
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def append(self, logs: Mapping[str, Any]) -> None:
        self.records.append(dict(logs))

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the history back as it is now: the records after it are dropped (see
        ``fastbp._transaction``)."""
        n_records = len(self.records)

        def restore():
            del self.records[n_records:]

        return restore

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list[Any]:
        if not any(key in record for record in self.records) and key not in ("epoch", "loss", "learning_rate",
                                                                             "time"):
            raise KeyError(f"no {key!r} in the history (keys: {sorted(self.keys())})")
        return [record.get(key, np.nan) for record in self.records]

    def __getattr__(self, key: str) -> list[Any]:
        if key.startswith("_") or key == "records":
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(str(exc)) from None

    def keys(self) -> list[str]:
        keys = {}
        for record in self.records:
            keys.update(dict.fromkeys(record))
        return list(keys)

    def __repr__(self) -> str:
        last = f", last={self.records[-1]}" if self.records else ""
        return f"History(epochs={len(self)}{last})"
