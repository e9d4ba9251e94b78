"""Thread policy: OpenMP in the core is the only level of parallelism; BLAS runs single-threaded inside it.

Measured on the 2-core machines: threaded OpenBLAS calls alternating with OpenMP loops in one minibatch
step ran up to 10x slower than either alone (both pools busy-wait for the same cores). So, as
scikit-learn's k-means does, the core cuts each product into blocks spread over `n_threads` OpenMP threads,
one single-threaded BLAS call per block, and BLAS is limited to one thread while the core runs.

BLAS thread counts are process-wide. Computations running at once in several Python threads therefore
share one limit: the first to start sets it, the last to end puts the previous counts back, so no
computation changes the count under another one mid-flight. Each OpenBLAS with its own thread pool (the one
SciPy ships, NumPy's) is set through its C functions directly: about 0.2 microseconds a call, where
threadpoolctl's controllers took 7 microseconds for the two libraries (8% of a 30-16-1 epoch) and, for such
a library, let only the first Python thread that ever set a limit set one. Other BLAS libraries (MKL,
BLIS, OpenBLAS built with OpenMP) go through threadpoolctl.
"""

import ctypes
import itertools
import threading
from contextlib import contextmanager

_blas_libraries = None
_lock = threading.Lock()
_active = 0      # computations inside `single_threaded_blas` now
_previous = []   # (setter, thread count) to put back when the last one ends


def _openblas_functions(controller):
    """(get, set) of an OpenBLAS library's C thread-count functions, whatever its symbol prefix and suffix."""
    library = ctypes.CDLL(controller.filepath)
    for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
        get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
        set_ = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
        if get is not None and set_ is not None:
            get.argtypes, get.restype = [], ctypes.c_int
            set_.argtypes, set_.restype = [ctypes.c_int], None
            return get, set_
    return None


def _blas_controllers():
    """(get thread count, set thread count) of every BLAS library loaded, SciPy's included."""
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        import fastbp._core._blas  # noqa: F401  (loads SciPy's BLAS, which the core calls)

        libraries = []
        for controller in ThreadpoolController().select(user_api="blas").lib_controllers:
            functions = None
            if controller.internal_api == "openblas" and controller.threading_layer != "openmp":
                functions = _openblas_functions(controller)
            libraries.append(functions or (lambda c=controller: c.num_threads, controller.set_num_threads))
        _blas_libraries = libraries
    return _blas_libraries


@contextmanager
def single_threaded_blas():
    """Every BLAS library limited to one thread while any computation of this process is inside."""
    global _active, _previous
    with _lock:
        if _active == 0:
            _previous = [(set_, count) for get, set_ in _blas_controllers() if (count := get()) != 1]
            for set_, _ in _previous:
                set_(1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for set_, count in _previous:
                    set_(count)
                _previous = []
