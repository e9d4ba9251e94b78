"""The workloads (defined once, in fastbp.bench.workloads) and a pytest parametrization over them."""

import pytest

from fastbp.bench.workloads import WORKLOADS, make_data  # noqa: F401  (re-exported for the suites)


def over_workloads(benchmark_function):
    """Parametrize a benchmark over every workload, dtype and backend."""
    for name, values in (("backend", ["cython", "numpy"]), ("dtype", ["float64", "float32"]),
                         ("workload", list(WORKLOADS))):
        benchmark_function = pytest.mark.parametrize(name, values)(benchmark_function)
    return benchmark_function
