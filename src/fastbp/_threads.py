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

After fork(): GNU OpenMP's thread pool does not survive it, so a child forked after its parent had started
the core's threads runs the core on one thread (`plan`), with one RuntimeWarning when that lowers a
thread count. Measured on a 2-core Intel Xeon (one epoch of a 200-256-1 relu network on 20,000 rows, two
forked workers at once): 0.15 s each on one thread, 1.55 s each on two, whose busy-waiting teams took
each other's cores; one child alone ran it in 0.06 s on two threads and 0.15 s on one. Children started by
'spawn' or 'forkserver' are new processes and use threads as usual.
"""

import ctypes
import itertools
import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from fastbp._core._openmp_helpers import forked_after_threads_started, max_threads

_blas_libraries = None
_lock = threading.Lock()
_active = 0      # computations inside `single_threaded_blas` now
_previous: list = []   # (setter, thread count) to put back when the last one ends


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


# The process id that has been warned that it runs the core on one thread after fork (see `plan`).
_warned_pid = None

FORK_WARNING = (
    "fastbp: this process was forked after its parent had started the core's OpenMP threads, which do not "
    "survive fork(); the core runs on one thread here instead of {n}. Start worker processes with the "
    "'spawn' or 'forkserver' method (multiprocessing.get_context) to use threads in them, or pass "
    "n_threads=1 to say that one thread is meant.")


@dataclass(frozen=True)
class ThreadPlan:
    """How a computation uses threads, resolved once (`plan`) and read by everything below it.

    n_threads: the OpenMP threads of the core (>= 1); invariant: fixed blocks, so that results do not
    depend on n_threads (the model's ``thread_invariant``).
    """

    n_threads: int
    invariant: bool = False


def plan(*requests, invariant=False):
    """The ThreadPlan for the first of `requests` that is not None (each an ``n_threads`` setting, the most
    specific first: a trainer's, then its model's, ...), else OpenMP's default (which honours
    OMP_NUM_THREADS and threadpoolctl's limits). In a process forked after its parent started the core's
    threads, one thread, with one RuntimeWarning per process when that lowers the count."""
    global _warned_pid
    n = next((request for request in requests if request is not None), None)
    n = max_threads() if n is None else n
    if n > 1 and forked_after_threads_started():
        if _warned_pid != os.getpid():
            _warned_pid = os.getpid()
            warnings.warn(FORK_WARNING.format(n=n), RuntimeWarning, stacklevel=3)
        n = 1
    return ThreadPlan(n, bool(invariant))


def _after_fork_in_child():
    """A fork copies only the thread that called it: a computation another thread was running inside
    `single_threaded_blas`, or a lock it held, ends there, so the child starts with none."""
    global _lock, _active, _previous
    _lock = threading.Lock()
    if _active:
        for set_, count in _previous:
            set_(count)
    _active, _previous = 0, []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
