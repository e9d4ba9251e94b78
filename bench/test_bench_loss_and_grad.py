"""pytest-benchmark: one `loss_and_grad` call on one minibatch, per workload, dtype and backend.

    python -m pytest bench/test_bench_loss_and_grad.py --benchmark-json=bench.json
    python bench/ratios.py bench.json
"""

import numpy as np

import fastbp
from workloads import WORKLOADS, make_data, over_workloads


@over_workloads
def test_loss_and_grad(benchmark, workload, dtype, backend):
    sizes, _, batch_size = WORKLOADS[workload]
    X, Y = make_data(workload, dtype)
    X, Y = X[:batch_size], Y[:batch_size]
    net = fastbp.MLP(sizes, dtype=dtype, random_state=0, backend=backend)
    benchmark.group = f"loss_and_grad {workload} {dtype}"
    benchmark.extra_info.update(workload=workload, dtype=dtype, backend=backend, batch_size=batch_size)
    loss, grad = benchmark(net.loss_and_grad, X, Y)
    assert np.isfinite(loss) and np.isfinite(grad).all()
