"""Data-parallel training over MPI (fastbp.distributed): `mpiexec -n 2` and `-n 3` runs equal
single-process training on the same global minibatches, and failures end every rank with the error."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbp

pytest.importorskip("mpi4py")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
pytestmark = pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec next to this Python (pip install mpich)")

WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from mpi4py import MPI
    import fastbp
    from fastbp.distributed import train

    case, dtype, optimizer, n_rows, out = sys.argv[1:6]
    comm = MPI.COMM_WORLD
    rng = np.random.RandomState(0)
    X = rng.randn(int(n_rows), 6).astype(dtype)
    Y = (X[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    w = rng.uniform(0.5, 1.5, int(n_rows)).astype(dtype)
    shard = slice(comm.rank, None, comm.size)
    X, Y, w = X[shard], Y[shard], w[shard]
    if case == "features" and comm.rank == 1:
        X = X[:, :4]
    opt = fastbp.SGD(0.1, momentum=0.9) if optimizer == "sgd" else fastbp.Adam(0.01)
    if case == "crash" and comm.rank == 1:
        class Failing(type(opt)):
            def step(self, params, grad, learning_rate=None):
                if self.t == 3:
                    raise RuntimeError("injected failure")
                super().step(params, grad, learning_rate)
        opt = Failing(0.1)
    net = fastbp.MLP([6, 5, 1], dtype=dtype, random_state=comm.rank)  # rank 0's weights are broadcast
    losses = train(net, opt, X, Y, sample_weight=w, batch_size=4, epochs=3, alpha=0.01, n_threads=1)
    if comm.rank == 0:
        np.savez(out, params=net.params, losses=np.array(losses))
""")


def run(tmp_path, n_ranks, case="ok", dtype="float64", optimizer="sgd", n_rows=50):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out.npz"
    result = subprocess.run([MPIEXEC, "-n", str(n_ranks), sys.executable, str(script), case, dtype, optimizer,
                             str(n_rows), str(out)], capture_output=True, text=True, timeout=120)
    return result, out


def single_process(n_ranks, dtype, optimizer, n_rows):
    """The same global minibatches in one process: step s uses every rank's rows s*4 .. s*4+3."""
    rng = np.random.RandomState(0)
    X = rng.randn(n_rows, 6).astype(dtype)
    Y = (X[:, :2].sum(axis=1, keepdims=True) > 0).astype(dtype)
    w = rng.uniform(0.5, 1.5, n_rows).astype(dtype)
    shards = [np.arange(n_rows)[r::n_ranks] for r in range(n_ranks)]
    net = fastbp.MLP([6, 5, 1], dtype=dtype, random_state=0)
    opt = fastbp.SGD(0.1, momentum=0.9) if optimizer == "sgd" else fastbp.Adam(0.01)
    n_steps = max(-(-len(s) // 4) for s in shards)
    losses = []
    for _ in range(3):
        total = 0.0
        for step in range(n_steps):
            rows = np.concatenate([s[step * 4:(step + 1) * 4] for s in shards])
            loss, grad = net.loss_and_grad(X[rows], Y[rows], w[rows], alpha=0.01)
            opt.step(net.params, grad)
            total += loss * len(rows)
        losses.append(total / n_rows)
    return net.params, np.array(losses)


@pytest.mark.parametrize("n_ranks, n_rows", [(2, 50), (3, 50)], ids=["2-ranks", "3-ranks-uneven"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mpi_training_equals_single_process_training(tmp_path, n_ranks, n_rows, optimizer):
    result, out = run(tmp_path, n_ranks, optimizer=optimizer, n_rows=n_rows)
    assert result.returncode == 0, result.stderr
    expected_params, expected_losses = single_process(n_ranks, "float64", optimizer, n_rows)
    with np.load(out) as got:
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["losses"], expected_losses, rtol=1e-12)


def test_mpi_training_in_float32(tmp_path):
    result, out = run(tmp_path, 2, dtype="float32")
    assert result.returncode == 0, result.stderr
    expected_params, _ = single_process(2, "float32", "sgd", 50)
    with np.load(out) as got:
        assert got["params"].dtype == np.float32
        np.testing.assert_allclose(got["params"], expected_params, rtol=1e-4, atol=1e-5)


def test_a_shard_with_the_wrong_features_ends_every_rank_with_the_error(tmp_path):
    result, _ = run(tmp_path, 2, case="features")
    assert result.returncode != 0
    # Both ranks raise the same error, naming the rank whose shard is wrong.
    assert result.stderr.count("bad data shard(s): rank 1: X has 4 features, but the network expects 6") == 2


def test_a_failing_rank_ends_the_job_instead_of_a_hang(tmp_path):
    result, _ = run(tmp_path, 2, case="crash")  # the timeout in `run` turns a hang into a failure
    assert result.returncode != 0
    assert "rank 1 failed" in result.stderr and "injected failure" in result.stderr
