"""What the compiled core was built with: OpenMP on or off, its version, the compiler flags."""


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
