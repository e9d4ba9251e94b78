"""One training at a time per model: a second fit of the same model from another thread is refused.

Two fits updating one parameter buffer at once would interleave their updates and corrupt the weights, so
`exclusive(model)` raises instead of waiting: a caller that wants to wait can do so explicitly, while a
silent wait could deadlock a callback that fits its own model. Locks live in a weak dictionary, so models
stay picklable and a lock goes away with its model.
"""

import os
import threading
import weakref
from contextlib import contextmanager

_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _after_fork_in_child():
    # Only the forking thread lives on in the child: a fit another thread was running there has ended.
    global _locks, _guard
    _locks, _guard = weakref.WeakKeyDictionary(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def exclusive(model, what="model"):
    """Hold the training lock of `model` for the duration; RuntimeError if another thread holds it."""
    with _guard:
        lock = _locks.setdefault(model, threading.Lock())
    if not lock.acquire(blocking=False):
        raise RuntimeError(f"this {what} is being trained by another call (another thread, or a callback of its "
                           "own fit); a model can only be trained by one fit at a time")
    try:
        yield
    finally:
        lock.release()
