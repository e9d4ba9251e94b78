"""Zero-code-change acceleration: scikit-learn's `MLPClassifier` and `MLPRegressor` become fastbp's.

`patch_sklearn` points the names `MLPClassifier` and `MLPRegressor` of `sklearn.neural_network` and of
`sklearn.neural_network._multilayer_perceptron` at fastbp's drop-ins, so programs, notebooks and test files
that import them from scikit-learn afterwards run on fastbp unchanged; `unpatch_sklearn` puts scikit-learn's
back. Code that imported the names before the patch keeps what it imported: patch first. Nothing here
imports scikit-learn until a function is called, so `import fastbp` stays light.

    python -m fastbp.patch script.py [args...]      # runs a script patched (also: -m module [args...])
"""

from __future__ import annotations

import importlib
from typing import Literal

MODULES = ("sklearn.neural_network", "sklearn.neural_network._multilayer_perceptron")
NAMES = ("MLPClassifier", "MLPRegressor")

# While patched: {module name: {name: scikit-learn's class}}, what unpatch_sklearn puts back.
_originals: dict = {}


class Patched:
    """What `patch_sklearn` returns: as a context manager, it undoes that call's patch on exit (unless
    scikit-learn was already patched before the call)."""

    def __init__(self, was_patched: bool) -> None:
        self.was_patched = was_patched

    def __enter__(self) -> Patched:
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        if not self.was_patched:
            unpatch_sklearn()
        return False

    def __repr__(self) -> str:
        return f"<fastbp.patch_sklearn: {'patched' if sklearn_is_patched() else 'unpatched'}>"


def patch_sklearn() -> Patched:
    """Make `sklearn.neural_network.MLPClassifier` and `MLPRegressor` (also as imported from
    ``sklearn.neural_network._multilayer_perceptron``) fastbp's drop-ins, until `unpatch_sklearn`.

    Patching again is a no-op. Returns a context manager: ``with fastbp.patch_sklearn(): ...`` patches for
    the block only.

    Examples
    --------
    >>> import fastbp
    >>> with fastbp.patch_sklearn():
    ...     from sklearn.neural_network import MLPClassifier
    >>> MLPClassifier is fastbp.MLPClassifier
    True
    >>> fastbp.sklearn_is_patched()  # only for the block
    False
    """
    # fastbp.estimators first: it keeps scikit-learn's own classes (their parameter constraints, to_sklearn).
    from fastbp import estimators

    was_patched = sklearn_is_patched()
    if not was_patched:
        modules = {name: importlib.import_module(name) for name in MODULES}
        for module_name, module in modules.items():
            _originals[module_name] = {name: getattr(module, name) for name in NAMES}
        for module in modules.values():
            for name in NAMES:
                setattr(module, name, getattr(estimators, name))
    return Patched(was_patched)


def unpatch_sklearn() -> None:
    """Give ``sklearn.neural_network`` its own `MLPClassifier` and `MLPRegressor` back (a no-op if not patched).

    Examples
    --------
    >>> import fastbp
    >>> _ = fastbp.patch_sklearn()
    >>> import sklearn.neural_network
    >>> sklearn.neural_network.MLPRegressor is fastbp.MLPRegressor
    True
    >>> fastbp.unpatch_sklearn()
    >>> sklearn.neural_network.MLPRegressor is fastbp.MLPRegressor
    False
    """
    for module_name, classes in _originals.items():
        module = importlib.import_module(module_name)
        for name, cls in classes.items():
            setattr(module, name, cls)
    _originals.clear()


def sklearn_is_patched() -> bool:
    """Whether `patch_sklearn` is in effect.

    Examples
    --------
    >>> import fastbp
    >>> fastbp.sklearn_is_patched()
    False
    >>> with fastbp.patch_sklearn():
    ...     fastbp.sklearn_is_patched()
    True
    """
    return bool(_originals)
