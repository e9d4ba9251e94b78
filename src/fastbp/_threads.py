"""Thread policy: OpenMP in the core is the only level of parallelism; BLAS runs single-threaded inside it.

Measured on the 2-core machines: threaded OpenBLAS calls alternating with OpenMP loops in one minibatch
step ran up to 10x slower than either alone (both pools busy-wait for the same cores). So, as
scikit-learn's k-means does, the core cuts each product into blocks spread over `n_threads` OpenMP threads,
one single-threaded BLAS call per block, and BLAS is limited to one thread while the core runs.

BLAS thread counts are process-wide. Computations running at once in several Python threads therefore
share one limit: the first to start sets it, the last to end puts the previous counts back, so no
computation changes the count under another one mid-flight. The limit is set directly on the BLAS
libraries threadpoolctl finds (about a microsecond each), not through a `threadpool_limits` context, which
costs tens of microseconds per call.
"""

import threading
from contextlib import contextmanager

_blas_libraries = None
_lock = threading.Lock()
_active = 0      # computations inside `single_threaded_blas` now
_previous = []   # (library, thread count) to put back when the last one ends


def _blas_controllers():
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        import fastbp._core._blas  # noqa: F401  (loads SciPy's BLAS, which the core calls)

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


@contextmanager
def single_threaded_blas():
    """Every BLAS library limited to one thread while any computation of this process is inside."""
    global _active, _previous
    libraries = _blas_controllers()
    with _lock:
        if _active == 0:
            _previous = [(lib, lib.num_threads) for lib in libraries if lib.num_threads != 1]
            for lib, _ in _previous:
                lib.set_num_threads(1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for lib, count in _previous:
                    lib.set_num_threads(count)
                _previous = []
