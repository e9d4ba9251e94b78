"""Print median times and the Cython/NumPy ratio per workload and dtype from a pytest-benchmark JSON file.

    python bench/ratios.py bench.json
"""

import json
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    medians = defaultdict(dict)
    for run in runs:
        info = run["extra_info"]
        key = (run["name"].split("[")[0], info["workload"], info["dtype"])
        medians[key][info["backend"]] = run["stats"]["median"]
    print(f"{'benchmark':<28} {'workload':<8} {'dtype':<8} {'cython':>12} {'numpy':>12} {'cython/numpy':>13}")
    for (name, workload, dtype), m in medians.items():
        if "cython" in m and "numpy" in m:
            print(f"{name:<28} {workload:<8} {dtype:<8} {m['cython'] * 1e6:10.1f}us {m['numpy'] * 1e6:10.1f}us "
                  f"{m['cython'] / m['numpy']:13.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
