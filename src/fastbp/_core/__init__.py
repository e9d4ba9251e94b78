"""The compiled core of fastbp (Cython). Its modules are imported by the Python layer, never by users.

Importing this package loads the compiled modules, so that a missing or broken build fails here, loudly and
with what to do, whichever part of fastbp asks for the core first: fastbp never falls back to NumPy.
"""

try:
    from fastbp._core import _activations, _blas, _epoch, _losses, _network, _openmp_helpers, _optim, _sparse  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only by a broken install (tests/test_build.py)
    raise ImportError(
        "fastbp's compiled core (fastbp._core) could not be imported. fastbp does not fall back to NumPy: "
        "install it with `pip install .` (which compiles the core) or from a wheel. "
        f"Original error: {exc}"
    ) from exc
