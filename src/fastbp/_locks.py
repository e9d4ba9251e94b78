"""One training at a time per model: a second fit of the same model from another thread is refused.

Two fits updating one parameter buffer at once would interleave their updates and corrupt the weights, so
`exclusive(model)` raises instead of waiting: a caller that wants to wait can do so explicitly, while a
silent wait could deadlock a callback that fits its own model. Locks live in a weak dictionary, so models
stay picklable and a lock goes away with its model.
"""

import threading
import weakref
from contextlib import contextmanager

_locks = weakref.WeakKeyDictionary()
_guard = threading.Lock()


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
