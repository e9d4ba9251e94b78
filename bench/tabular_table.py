"""The tabular benchmark's table and plot from its cache alone, fitting nothing.

    python bench/tabular_table.py [--cache bench/tabular_results.json] [--seeds 3] [--plot PATH]

`python -m fastbp bench --suite tabular` fits whatever its cache lacks, and a complete run takes hours on two
cores; this reads the results the cache holds for this machine's CPU, the installed versions (fastbp's build
fingerprint included) and all threads, as the bench would look them up, and prints a markdown table: per data set
and system the test metric's mean ± std over the seeds found, the median fit time, and for fastbp's estimators the
median number of epochs. A cell without a result shows a dash; the winners of each row are in bold.
"""

import argparse
import json
import sys

import numpy as np

from fastbp.bench import tabular

NAMES = {"fastbp": "Tabular estimator", "fastbp-mini": "TabM-mini variant", "fastbp-no-embedding":
         "no-embedding variant", "fastbp-mlp": "fastbp MLP", "sklearn-mlp": "scikit-learn MLP", "lightgbm": "LightGBM",
         "pytabkit-tabm": "pytabkit TabM_D", "pytabkit-realmlp": "pytabkit RealMLP_TD"}
LABELS = {"537_houses": "California housing (RMSE, $100k)", "574_house_16H": "house_16H (RMSE)",
          "adult": "Adult (accuracy)", "churn": "churn (accuracy)", "letter": "letter (accuracy)",
          "magic": "MAGIC (accuracy)"}


def collect(cache, systems, seeds, n_threads=None):
    """The bench's result records (as its --json writes them) for what `cache` holds."""
    records = []
    for dataset, (task, _) in tabular.DATASETS.items():
        for system in systems:
            runs = [cache[key] for seed in range(seeds)
                    if (key := tabular.cache_key(dataset, system, seed, n_threads)) in cache]
            if not runs:
                continue
            values, seconds = [r["metric"] for r in runs], [r["seconds"] for r in runs]
            record = {"dataset": dataset, "system": system, "task": task, "metric_mean": float(np.mean(values)),
                      "metric_std": float(np.std(values)), "fit_seconds": float(np.median(seconds)), "seeds": len(runs)}
            if all("n_epochs" in r for r in runs):
                record["n_epochs"] = float(np.median([r["n_epochs"] for r in runs]))
            records.append(record)
    return records


def cell(record, best):
    digits = ",.0f" if record["metric_mean"] > 100 else ".4f"
    metric = f"{record['metric_mean']:{digits}}"
    if record["seeds"] > 1:
        metric += f" ± {record['metric_std']:{digits}}"
    if record["metric_mean"] == best:
        metric = f"**{metric}**"
    epochs = f", {record['n_epochs']:g} ep" if "n_epochs" in record else ""
    return f"{metric} ({record['fit_seconds']:.1f} s{epochs}, {record['seeds']} seed{'s' * (record['seeds'] > 1)})"


def table(records, systems):
    lines = ["| data set | " + " | ".join(NAMES.get(s, s) for s in systems) + " |",
             "|---" * (len(systems) + 1) + "|"]
    for dataset in tabular.DATASETS:
        rows = {r["system"]: r for r in records if r["dataset"] == dataset}
        if not rows:
            continue
        sign = 1 if next(iter(rows.values()))["task"] == "regression" else -1
        best = min(rows.values(), key=lambda r: sign * r["metric_mean"])["metric_mean"]
        lines.append(f"| {LABELS[dataset]} | " + " | ".join(cell(rows[s], best) if s in rows else "–"
                                                           for s in systems) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="bench/tabular_results.json")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--systems", nargs="+", default=["fastbp", "fastbp-mlp", "sklearn-mlp", "lightgbm",
                                                         "pytabkit-tabm", "pytabkit-realmlp"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--plot", metavar="PATH", help="also draw the metric and fit time (needs matplotlib)")
    args = parser.parse_args(argv)
    with open(args.cache) as f:
        records = collect(json.load(f), args.systems, args.seeds, args.threads)
    print(f"{tabular.cpu_model()}, threads {args.threads or 'all'}; {tabular.versions()}\n")
    print(table(records, [s for s in args.systems if any(r["system"] == s for r in records)]))
    if args.plot:
        tabular.plot(records, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
