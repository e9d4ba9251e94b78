"""Combine several `python -m fastbp bench --json` runs into markdown tables, with the targets.

    python bench/summarize.py run1.json run2.json run3.json

For each workload and dtype: fastbp's median epoch time over the runs, then each ratio measured side by side
within a run (fastbp over the GEMM floor, over PyTorch and over scikit-learn, with the targets; the
thread_invariant epoch over the default one, the cost of that option) as every run's value and their median,
and fastbp's share of the machine's peak GEMM rate. Runs of the realistic suite (``--suite realistic``) get
its targets (issue 24), and a table of their predict section: the drop-in's time on one row and on 10,000,
and its ratios to scikit-learn and onnxruntime.
"""

import json
import statistics
import sys

# workload: (vs floor, vs torch), the largest ratio that meets the target (None: no target).
TARGETS = {
    "tiny": (0.80, 0.04),
    "small": (1.10, 0.25),
    "medium": (1.05, 1.00),
    "large": (1.10, 1.00),
    "modern": (None, 0.75),
    "digits": (1.40, None),
    "tabular": (1.20, 0.65),
    "mnist-shaped": (1.20, 0.65),
    "regression": (1.20, 0.65),
    "small-batch": (1.25, None),
    "tabm": (1.10, 0.85),  # issue 28: the ensembles suite (--suite ensembles)
    "tabm-ple": (1.10, 0.85),
}
# The predict section's: (one row vs scikit-learn, 10,000 rows vs scikit-learn, 10,000 rows vs onnxruntime).
PREDICT_TARGETS = (0.5, 0.8, 1.0)


def _record(run, workload, dtype, system):
    return next((r for r in run["comparison"] if r["workload"] == workload and r["dtype"] == dtype
                 and r["system"] == system), None)


def _cell(values, target=None):
    if not values:
        return "-"
    median = statistics.median(values)
    verdict = "" if target is None else f"; <= {target} {'met' if median <= target else 'missed'}"
    return f"{', '.join(f'{x:.3f}' for x in values)}; **{median:.3f}**{verdict}"


def _ratio(run, workload, dtype, system):
    """fastbp's epoch over `system`'s in one run, or None."""
    ours, theirs = _record(run, workload, dtype, "fastbp"), _record(run, workload, dtype, system)
    return None if ours is None or theirs is None else ours["median_s"] / theirs["median_s"]


def main(paths):
    runs = [json.load(open(path)) for path in paths]
    print("| workload | dtype | fastbp ms (median) | vs floor (runs; median; target) | vs torch (runs; median; target) "
          "| vs sklearn (runs; median) | thread_invariant / default (runs; median) | % of peak (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for workload, (floor_target, torch_target) in TARGETS.items():
        for dtype in ("float64", "float32"):
            records = [_record(run, workload, dtype, "fastbp") for run in runs]
            if None in records:
                continue
            invariant = [_record(run, workload, dtype, "invariant") for run in runs]
            cost = [inv["median_s"] / r["median_s"] for inv, r in zip(invariant, records) if inv is not None]
            ms = statistics.median(r["median_s"] for r in records) * 1e3
            peak = statistics.median(r["percent_of_peak"] for r in records)
            vs_floor = _cell([r["vs_floor"] for r in records if "vs_floor" in r], floor_target)
            vs_torch = _cell([r["vs_torch"] for r in records if "vs_torch" in r], torch_target)
            vs_sklearn = _cell([x for run in runs if (x := _ratio(run, workload, dtype, "sklearn")) is not None])
            print(f"| {workload} | {dtype} | {ms:.3f} | {vs_floor} | {vs_torch} | {vs_sklearn} | {_cell(cost)} "
                  f"| {peak:.1f} |")
    predictions = [run for run in runs if run.get("predict")]
    if predictions:
        predict_table(predictions)


def predict_table(runs):
    one_sklearn, big_sklearn, big_onnx = PREDICT_TARGETS
    print("\n| workload | dtype | drop-in 1 row us (median) | vs sklearn (runs; median; target) "
          "| 10,000 rows ms (median) | vs sklearn (runs; median; target) | vs onnxruntime (runs; median; target) |")
    print("|---|---|---|---|---|---|---|")
    keys = list(dict.fromkeys((r["workload"], r["dtype"]) for r in runs[0]["predict"]))
    for workload, dtype in keys:
        records = [next(r for r in run["predict"] if (r["workload"], r["dtype"], r["system"]) == (workload, dtype,
                                                                                                   "fastbp"))
                   for run in runs]
        one = statistics.median(r["one_row_us"] for r in records)
        big = statistics.median(r["big_batch_ms"] for r in records)
        onnx = [r["big_batch_vs_onnxruntime"] for r in records if "big_batch_vs_onnxruntime" in r]
        print(f"| {workload} | {dtype} | {one:.1f} | {_cell([r['one_row_vs_sklearn'] for r in records], one_sklearn)} "
              f"| {big:.2f} | {_cell([r['big_batch_vs_sklearn'] for r in records], big_sklearn)} "
              f"| {_cell(onnx, big_onnx)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
