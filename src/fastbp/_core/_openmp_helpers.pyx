"""What the compiled core was built with (OpenMP on or off, its version, the compiler flags), and whether
this process may start OpenMP threads: not in a child forked after its parent had started them.

The flags live here, in one extension module, so that every module of the core reads the same ones.
`pthread_atfork` (not Python's `os.register_at_fork`) sets the child's flag, so a fork from C code counts too.
"""

cdef extern from *:
    """
    #if defined(_WIN32)
    #define fastbp_watch_fork() ((void)0)
    #else
    #include <pthread.h>
    #endif
    static volatile int fastbp_threads_started = 0;
    static volatile int fastbp_forked_after_threads = 0;
    #if !defined(_WIN32)
    static void fastbp_after_fork_in_child(void) {
        /* Threads started by the parent (or an earlier ancestor) are gone, but the pool still lists them. */
        if (fastbp_threads_started) fastbp_forked_after_threads = 1;
    }
    static void fastbp_watch_fork(void) { pthread_atfork(NULL, NULL, fastbp_after_fork_in_child); }
    #endif
    """
    int fastbp_threads_started
    int fastbp_forked_after_threads
    void fastbp_watch_fork() noexcept nogil

fastbp_watch_fork()


cdef int start_team(int n_threads) noexcept nogil:
    global fastbp_threads_started
    if n_threads > 1:
        fastbp_threads_started = 1  # the same value from any thread: the race is harmless
    return n_threads


cdef bint forked_after_threads() noexcept nogil:
    return fastbp_forked_after_threads != 0


def threads_started():
    """True once the core has started a team of OpenMP threads in this process (or an ancestor it was forked
    from)."""
    return bool(fastbp_threads_started)


def forked_after_threads_started():
    """True in a process forked after its parent had started the core's OpenMP threads, which fork() does not
    copy: the core runs on one thread there."""
    return forked_after_threads()


def openmp_enabled():
    """True when the core was compiled with OpenMP."""
    return bool(FASTBP_OPENMP_ENABLED)


def openmp_version():
    """The `_OPENMP` date macro (e.g. 201511), or 0 for a serial build."""
    return FASTBP_OPENMP_VERSION


def max_threads():
    """OpenMP's default thread count (honours OMP_NUM_THREADS and threadpoolctl limits); 1 when serial."""
    return omp_get_max_threads()


def build_flags():
    """The extra compiler and linker flags the core was built with."""
    return FASTBP_BUILD_FLAGS.decode()


def debug_build():
    """True for a FASTBP_DEBUG=1 build (bounds checks on)."""
    return bool(FASTBP_DEBUG_BUILD)
