"""pytest-benchmark: one training epoch (plain SGD, shuffled), per workload, dtype and backend.

    python -m pytest bench/test_bench_epoch.py --benchmark-json=epoch.json
    python bench/ratios.py epoch.json

Each round is one epoch of the Trainer's epoch loop (shuffle, then every minibatch's gather, forward,
backward and update), after a warm-up epoch; the per-fit set-up (input checks, workspaces) is not timed.
"""

import numpy as np

import fastbp
from fastbp._threads import plan
from fastbp.backends import Training
from fastbp.epochs import FitLoop
from workloads import WORKLOADS, make_data, over_workloads

ROUNDS = {"tiny": 50, "small": 10, "medium": 5, "large": 3}


@over_workloads
def test_epoch(benchmark, workload, dtype, backend):
    sizes, _, batch_size = WORKLOADS[workload]
    X, Y = make_data(workload, dtype)
    net = fastbp.MLP(sizes, dtype=dtype, random_state=0, backend=backend)
    loop = FitLoop(net, fastbp.SGD(0.01, momentum=0.0, nesterov=False), net.check_batch(X, Y),
                   np.random.RandomState(0), batch_size=batch_size, training=Training(), shuffle=True, plan=plan(None))
    benchmark.group = f"epoch {workload} {dtype}"
    benchmark.extra_info.update(workload=workload, dtype=dtype, backend=backend, batch_size=batch_size,
                                rows=X.shape[0])
    outcome = benchmark.pedantic(loop.run_epoch, args=(0, 0.01), rounds=ROUNDS[workload], warmup_rounds=1)
    assert np.isfinite(outcome.loss) and np.isfinite(net.params).all()
