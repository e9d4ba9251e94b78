"""The workloads (defined once, in fastbp.bench.workloads) and a pytest parametrization over them: the
plain-SGD ones (the performance page lists them), which the pytest-benchmark suites and bench/fit_vs_sklearn.py run."""

import pytest

from fastbp.bench.workloads import PLAIN_SGD, make_data
from fastbp.bench.workloads import WORKLOADS as ALL_WORKLOADS

__all__ = ["WORKLOADS", "make_data", "over_workloads"]  # what the suites and scripts import

WORKLOADS = {name: ALL_WORKLOADS[name] for name in PLAIN_SGD}


def over_workloads(benchmark_function):
    """Parametrize a benchmark over every plain-SGD workload, dtype and backend."""
    for name, values in (("backend", ["cython", "numpy"]), ("dtype", ["float64", "float32"]),
                         ("workload", list(WORKLOADS))):
        benchmark_function = pytest.mark.parametrize(name, values)(benchmark_function)
    return benchmark_function
