"""All or nothing: a call that raises leaves the object it was changing exactly as it was.

The methods that change state (`Trainer.fit`, the drop-ins' `fit` and `partial_fit`) validate what they can
before their first write; `atomic(obj)` is what makes the rule hold for everything after that (a failure
found by scikit-learn's split, an optimizer refusing a model, a divergence, a callback's exception). It keeps
the object's attributes (the references, so that an attribute set or replaced during the call is put back)
and asks each attribute value that is changed in place (the network's weights, an optimizer's state, a
history, an early-stopping rule) for a snapshot of its own: any object with a ``snapshot()`` method returning
a function that puts it back.

Transactions nest: a value that an enclosing `atomic` already holds (the estimator's network, when its fit
runs a Trainer's) is put back by that one's snapshot, not copied again, since the enclosing call re-raises
what the inner one raises.

A KeyboardInterrupt that escapes a call is rolled back like any error. (Ctrl-C during a fit's epochs does not
escape it: the Trainer ends the fit after the completed epochs, with a warning; see `fastbp.Trainer.fit`.)
"""

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

# id(value) -> the function that puts it back, for each value an enclosing `atomic` holds (in this thread).
_held: ContextVar[dict | None] = ContextVar("held", default=None)


def keeping(obj, arrays):
    """The ``snapshot()`` of an object whose attributes and the values of `arrays` (its own, changed in place)
    are all there is to put back: a function that does."""
    attributes = dict(vars(obj))
    saved = [(array, array.copy()) for array in arrays]

    def restore():
        for array, values in saved:
            array[...] = values
        vars(obj).clear()
        vars(obj).update(attributes)

    return restore


def takes_snapshots(value):
    return callable(getattr(value, "snapshot", None))


def snapshot_of(obj):
    """A function that puts `obj` (its attributes, and their values that take snapshots) back as it is now, and
    the restores of those values by id."""
    attributes = dict(vars(obj))
    held = _held.get() or {}
    restores = {}
    for value in filter(takes_snapshots, attributes.values()):
        put_back = restores[id(value)] = held.get(id(value)) or value.snapshot()
        # A value's snapshot puts back its own parts that take snapshots (a Solver's, its optimizer).
        parts = getattr(value, "__dict__", {}).values()
        restores.update({id(part): put_back for part in parts if takes_snapshots(part)})

    generators = [(value, value.get_state()) for value in attributes.values()
                  if isinstance(value, np.random.RandomState)]  # a failed fit's draws are put back too

    def restore():
        try:  # every part is put back, even if one of them fails; the attributes last
            for put_back in restores.values():
                try:
                    put_back()
                except Exception:  # noqa: BLE001, S110 - the call's own error is the one to report
                    pass
            for generator, state in generators:
                generator.set_state(state)
        finally:
            vars(obj).clear()
            vars(obj).update(attributes)

    return restore, restores


@contextmanager
def atomic(obj):
    """Run the body; if it raises (a KeyboardInterrupt too), put `obj` back as it was before and re-raise."""
    restore, restores = snapshot_of(obj)
    token = _held.set({**(_held.get() or {}), **restores})
    try:
        yield
    except BaseException:
        restore()
        raise
    finally:
        _held.reset(token)
