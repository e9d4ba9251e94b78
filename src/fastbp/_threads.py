"""Thread policy: OpenMP in the core is the only level of parallelism; BLAS runs single-threaded inside it.

Measured on the 2-core machines: threaded OpenBLAS calls alternating with OpenMP loops in one minibatch
step ran up to 10x slower than either alone (both pools busy-wait for the same cores). So, as
scikit-learn's k-means does, the core splits its work into fixed blocks spread over `n_threads` OpenMP
threads, and BLAS is limited to one thread while the core runs. The limit is set directly on the BLAS
libraries threadpoolctl finds (about a microsecond each), not through a `threadpool_limits` context,
which costs tens of microseconds per call.
"""

from contextlib import contextmanager

_blas_libraries = None


def _blas_controllers():
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        import fastbp._core._blas  # noqa: F401  (loads SciPy's BLAS, which the core calls)

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


@contextmanager
def single_threaded_blas():
    """Limit every BLAS library to one thread for the duration; restore the previous counts after."""
    changed = []
    for lib in _blas_controllers():
        previous = lib.num_threads
        if previous != 1:
            lib.set_num_threads(1)
            changed.append((lib, previous))
    try:
        yield
    finally:
        for lib, previous in changed:
            lib.set_num_threads(previous)
