"""`python -m fastbp bench` runs every system on a workload and checks them against each other."""

import json

import pytest

from fastbp.__main__ import main


def test_bench_times_every_system_and_they_end_with_the_same_loss(tmp_path, capsys):
    path = tmp_path / "bench.json"
    status = main(["bench", "--workloads", "tiny", "--dtypes", "float64", "float32", "--repeats", "2",
                   "--systems", "fastbp", "numpy", "sklearn", "floor", "--json", str(path)])
    assert status == 0
    assert "every system ended each epoch with fastbp's loss" in capsys.readouterr().out
    results = json.loads(path.read_text())
    for dtype in ("float64", "float32"):
        records = {r["system"]: r for r in results["comparison"] if r["dtype"] == dtype}
        assert set(records) == {"fastbp", "numpy", "sklearn", "floor"}
        # scikit-learn and the NumPy backend are independent implementations of the same epoch.
        assert records["sklearn"]["same_loss"] and records["numpy"]["same_loss"]
        assert 0.3 < records["fastbp"]["loss"] < 1.0  # about log 2 from the initial weights
        assert records["floor"]["loss"] is None and "same_loss" not in records["floor"]
        for record in records.values():
            assert len(record["times_s"]) == 2 and record["median_s"] > 0
            assert record["samples_per_s"] == pytest.approx(569 / record["median_s"])
        assert records["fastbp"]["vs_numpy"] == pytest.approx(records["fastbp"]["median_s"]
                                                              / records["numpy"]["median_s"])
    assert results["machine"]["peak_gemm_gflops"]["float64"] > 0


def test_bench_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--repeats", "0"])
    assert exit_info.value.code == 2 and "--repeats must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--workloads", "huge"])


def test_the_realistic_suite_trains_adam_and_times_predictions(tmp_path, capsys):
    path = tmp_path / "realistic.json"
    status = main(["bench", "--suite", "realistic", "--workloads", "digits", "--dtypes", "float32", "--repeats", "1",
                   "--systems", "fastbp", "sklearn", "floor", "--json", str(path)])
    assert status == 0, capsys.readouterr().out
    results = json.loads(path.read_text())
    assert results["suite"] == "realistic"
    records = {r["system"]: r for r in results["comparison"]}
    # scikit-learn's Adam over the same shuffled minibatches: fastbp's epoch, to float32 rounding.
    assert records["sklearn"]["same_loss"] and records["fastbp"]["loss"] > 1.0  # about log 10 at the start
    predicted = {r["system"]: r for r in results["predict"]}
    assert {"fastbp", "MLP.forward", "sklearn"} <= set(predicted)
    assert all(r["agrees"] and r["one_row_us"] > 0 and r["big_batch_ms"] > 0 for r in predicted.values())
    assert predicted["fastbp"]["one_row_vs_sklearn"] == pytest.approx(predicted["fastbp"]["one_row_us"]
                                                                      / predicted["sklearn"]["one_row_us"])
