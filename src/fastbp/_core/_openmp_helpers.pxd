# The one place that knows whether OpenMP was compiled in. Kernels take `n_threads` and call
# `use_threads(n_threads, work)` to decide whether a loop is large enough to be worth the threads, and
# `split_work(work)` to decide whether to cut it into blocks at all. Every parallel region takes its team size
# from `start_team`, which records that this process has started OpenMP threads (see `forked_after_threads`).

cdef extern from *:
    """
    #include "fastbp_build.h"
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTBP_OPENMP_ENABLED 1
    #define FASTBP_OPENMP_VERSION _OPENMP
    #else
    #define FASTBP_OPENMP_ENABLED 0
    #define FASTBP_OPENMP_VERSION 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    const int FASTBP_OPENMP_ENABLED
    const int FASTBP_OPENMP_VERSION
    const int FASTBP_DEBUG_BUILD
    const char* FASTBP_BUILD_FLAGS
    int omp_get_max_threads() noexcept nogil

# Below this many multiply-adds per batch (a pass over all layers), starting threads costs more than it
# saves: measured on a 2-core machine, a parallel region costs a few microseconds, and 2^20 multiply-adds
# take about 40 us on one core.
cdef enum:
    MIN_PARALLEL_WORK = 1 << 20
    # Elementwise passes (optimizer updates) stream memory at about a nanosecond per element: below this
    # many elements, one thread finishes before a team would start.
    MIN_PARALLEL_ELEMENTS = 1 << 16
    # Default blocks: a thread must get at least this many float64 multiply-adds of a product (twice as many
    # float32 ones) for threads to pay. Measured on a 2-core AMD EPYC VM: alone, a 64 x 64 x 64 product
    # (262k) ran 1.6x faster on 2 threads; inside training epochs, where each thread waits for the slowest
    # at the end of every product, the 64-64-64-1 epoch ran 1.1 to 1.9x slower on 2 threads than on one
    # at 2^15 or 2^17 per thread. Digits' 200 x 64 x 100 products (1.3M) gained at most 10% on 2 threads,
    # and lost 1.8 to 2.6x when the fit started within 0.1 s of a threaded NumPy product, whose OpenBLAS
    # threads keep spinning on the cores meanwhile; so a product is split only from 2^21 multiply-adds.
    MIN_THREAD_WORK = 1 << 20

# GNU OpenMP's thread pool does not survive fork(): a child whose parent had started a team waits forever
# for threads that the fork did not copy. `start_team(n)` returns n and notes that a team was started;
# `forked_after_threads()` is true in a process forked (at any depth) after its parent had, where the
# core must stay on one thread (`usable_threads`).
cdef int start_team(int n_threads) noexcept nogil
cdef bint forked_after_threads() noexcept nogil


cdef inline int usable_threads(int n_threads) noexcept nogil:
    return 1 if forked_after_threads() else n_threads


cdef inline bint split_work(Py_ssize_t work) noexcept nogil:
    # Whether a pass is cut into blocks for threads at all. It depends on the work only, never on the
    # thread count, so the blocks (and the results) are the same for any n_threads; below the threshold
    # one whole-batch block saves BLAS calls.
    return work >= MIN_PARALLEL_WORK

cdef inline bint use_threads(int n_threads, Py_ssize_t work) noexcept nogil:
    return FASTBP_OPENMP_ENABLED and n_threads > 1 and split_work(work)

cdef inline bint use_threads_elementwise(int n_threads, Py_ssize_t n_elements) noexcept nogil:
    return FASTBP_OPENMP_ENABLED and n_threads > 1 and n_elements >= MIN_PARALLEL_ELEMENTS
