"""Combine several `python -m fastbp bench --json` runs into one markdown table, with the targets.

    python bench/summarize.py run1.json run2.json run3.json

For each workload and dtype: fastbp's median epoch time over the runs, then each ratio measured side by side
within a run (fastbp over the GEMM floor and over PyTorch, with the issue 14 targets; the thread_invariant
epoch over the default one, the cost of that option) as every run's value and their median, and fastbp's
share of the machine's peak GEMM rate.
"""

import json
import statistics
import sys

# workload: (vs floor, vs torch), the largest ratio that meets the target.
TARGETS = {
    "tiny": (0.80, 0.04),
    "small": (1.10, 0.25),
    "medium": (1.10, 1.00),
    "large": (1.10, 1.00),
}


def _record(run, workload, dtype, system):
    return next((r for r in run["comparison"] if r["workload"] == workload and r["dtype"] == dtype
                 and r["system"] == system), None)


def _cell(values, target=None):
    if not values:
        return "-"
    median = statistics.median(values)
    verdict = "" if target is None else f"; <= {target} {'met' if median <= target else 'missed'}"
    return f"{', '.join(f'{x:.3f}' for x in values)}; **{median:.3f}**{verdict}"


def main(paths):
    runs = [json.load(open(path)) for path in paths]
    print("| workload | dtype | fastbp ms (median) | vs floor (runs; median; target) | vs torch (runs; median; target) "
          "| thread_invariant / default (runs; median) | % of peak (median) |")
    print("|---|---|---|---|---|---|---|")
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
            print(f"| {workload} | {dtype} | {ms:.3f} | {vs_floor} | {vs_torch} | {_cell(cost)} | {peak:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
