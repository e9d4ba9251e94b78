"""Combine several `python -m fastbp bench --json` runs into one markdown table, with the issue's targets.

    python bench/summarize.py run1.json run2.json run3.json

For each workload, dtype and ratio (fastbp's epoch time over the NumPy backend's, the GEMM floor's and
PyTorch's, each measured side by side within a run) it prints every run's value and their median, and
whether the median meets the target.
"""

import json
import statistics
import sys

# workload: (vs numpy, vs floor, vs torch), the largest ratio that meets the target.
TARGETS = {
    "tiny": (0.10, 0.5, 0.02),
    "small": (0.40, 0.85, 0.15),
    "medium": (0.80, 1.08, 0.70),
    "large": (0.92, 1.04, 0.90),
}
RATIOS = ("vs_numpy", "vs_floor", "vs_torch")


def main(paths):
    runs = [json.load(open(path)) for path in paths]
    print("| workload | dtype | fastbp ms (median) | " + " | ".join(
        f"{ratio.replace('_', ' ')} (runs; median; target)" for ratio in RATIOS) + " |")
    print("|---|---|---|" + "---|" * len(RATIOS))
    for workload, targets in TARGETS.items():
        for dtype in ("float64", "float32"):
            records = [next((r for r in run["comparison"] if r["workload"] == workload and r["dtype"] == dtype
                             and r["system"] == "fastbp"), None) for run in runs]
            if None in records:
                continue
            ms = statistics.median(r["median_s"] for r in records) * 1e3
            cells = []
            for ratio, target in zip(RATIOS, targets):
                values = [r[ratio] for r in records if ratio in r]
                if not values:
                    cells.append("-")
                    continue
                median = statistics.median(values)
                verdict = "met" if median <= target else "missed"
                cells.append(f"{', '.join(f'{x:.3f}' for x in values)}; **{median:.3f}**; <= {target} {verdict}")
            print(f"| {workload} | {dtype} | {ms:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
