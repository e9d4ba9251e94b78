"""`show_config`: what this fastbp was built with and what it runs on."""

from __future__ import annotations

import platform
import sys
from typing import Any, TextIO

from fastbp._core import _openmp_helpers as omp
from fastbp._version import __version__


def _blas_info():
    # The core calls the BLAS that SciPy ships; threadpoolctl finds it once the core's BLAS module is loaded.
    from threadpoolctl import threadpool_info

    import fastbp._core._blas  # noqa: F401

    return [
        {key: lib.get(key) for key in ("internal_api", "version", "num_threads", "threading_layer", "filepath")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def show_config(file: TextIO | None = None) -> dict[str, Any]:
    """Print the version, OpenMP build and threads, the BLAS libraries in use and the build flags.

    Parameters
    ----------
    file : file-like or None, default=None
        Where to print; None means standard output.

    Returns
    -------
    dict
        The same information: "fastbp" (the version), "python", "platform", "openmp" (whether the core was
        built with it), "openmp_version", "openmp_max_threads", "debug_build", "build_flags" and "blas"
        (a list with one dict per BLAS library loaded).

    Examples
    --------
    >>> import io
    >>> import fastbp
    >>> info = fastbp.show_config(file=io.StringIO())
    >>> info["fastbp"] == fastbp.__version__, info["openmp_max_threads"] >= 1
    (True, True)
    """
    info = {
        "fastbp": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "openmp": omp.openmp_enabled(),
        "openmp_version": omp.openmp_version(),
        "openmp_max_threads": omp.max_threads(),
        "debug_build": omp.debug_build(),
        "build_flags": omp.build_flags(),
        "blas": _blas_info(),
    }
    out = file or sys.stdout
    for key, value in info.items():
        if key == "blas":
            for lib in value:
                print(f"{'blas':>20}: {lib['internal_api']} {lib['version']} ({lib['num_threads']} threads, "
                      f"{lib['threading_layer']}) {lib['filepath']}", file=out)
        else:
            print(f"{key:>20}: {value}", file=out)
    return info
