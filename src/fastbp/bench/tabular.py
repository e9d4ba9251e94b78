"""The accuracy benchmark on real tables: ``python -m fastbp bench --suite tabular [--data DIR] [--seeds N]``.

Each data set is read with ``pmlb.fetch_data(name, local_cache_dir=DIR)`` (pmlb's download without DIR), its
categorical columns decoded to their strings from pmlb's ``metadata.yaml``, so every system gets the table as a
user has it. Per seed, fixed splits of the rows: 64% to train on, 16% to validate on (early stopping, where a
system has it), 20% to test on, stratified for classification. Reported: the test RMSE (regression) or accuracy
(classification), mean ± std over the seeds, and the whole fit's wall time, every system at the same threads.

Systems: fastbp's tabular estimators with their defaults ("fastbp"); fastbp's and scikit-learn's MLPs with their
defaults behind one preprocessing (numeric columns quantile-normalized with the median for missing values,
categorical ones one-hot encoded); LightGBM with early stopping on the validation rows; and where installed,
pytabkit's TabM_D and RealMLP_TD; named in ``--systems``, the recipe's alternatives that chose its defaults
(``fastbp-mini``: TabM-mini; ``fastbp-no-embedding``: no numeric embedding, three hidden layers). A fit's result,
which its split and seed determine, is cached in a JSON file (``--cache``) and reused unless ``--refresh``: keyed by
data set, seed, system, the versions of what the system runs (for fastbp's systems, a fingerprint of the installed
package's files, so that any change of fastbp fits again), CPU model and threads. The PyTorch peers take many
minutes a fit on two cores and fastbp's ensembles several: a whole run may span sessions.
"""

import argparse
import functools
import hashlib
import inspect
import json
import os
import platform
import re
import time

import numpy as np

# name: (task, what the target is divided by)
DATASETS = {"537_houses": ("regression", 1e5), "574_house_16H": ("regression", 1.0), "adult": ("binary", 1.0),
            "churn": ("binary", 1.0), "letter": ("multiclass", 1.0), "magic": ("binary", 1.0)}
FASTBP_SYSTEMS = ("fastbp", "fastbp-mlp", "sklearn-mlp", "lightgbm")
PEERS = ("pytabkit-tabm", "pytabkit-realmlp")
# The recipe's alternatives (only when named in --systems): the measurements that chose the defaults.
VARIANTS = {"fastbp-mini": {"ensemble": "mini"}, "fastbp-no-embedding": {"numeric_embedding": None}}
# what each system's result depends on, besides its split: the packages whose versions key its cached results
PACKAGES = {"fastbp": ("fastbp", "scikit-learn"), "fastbp-mlp": ("fastbp", "scikit-learn"),
            **{variant: ("fastbp", "scikit-learn") for variant in VARIANTS},
            "sklearn-mlp": ("scikit-learn",), "lightgbm": ("lightgbm", "scikit-learn"),
            "pytabkit-tabm": ("pytabkit", "torch", "scikit-learn"),
            "pytabkit-realmlp": ("pytabkit", "torch", "scikit-learn")}
CODE = re.compile(r"'((?:[^']|'')*)'\s*=\s*(-?\d+)")


def load(name, data_dir=None):
    """(X, y, task) of pmlb's data set `name`: X a data frame whose categorical columns hold their strings (from
    the codes in pmlb's metadata.yaml), y the target (divided as DATASETS says)."""
    import pandas as pd
    import pmlb
    import yaml

    frame = pmlb.fetch_data(name, local_cache_dir=data_dir)
    y = frame.pop("target").to_numpy()
    task, scale = DATASETS[name]
    metadata_path = os.path.join(data_dir, name, "metadata.yaml") if data_dir else None
    if metadata_path and os.path.exists(metadata_path):
        with open(metadata_path) as f:
            metadata = yaml.safe_load(f)
        for feature in metadata.get("features", []):
            if feature.get("type") == "categorical" and feature["name"] in frame:
                codes = {int(code): label for label, code in CODE.findall(str(feature.get("code", "")))}
                column = frame[feature["name"]]
                frame[feature["name"]] = pd.array([codes.get(int(v), str(v)) for v in column] if codes
                                                  else column.astype(str), dtype="string")
    return frame, (y / scale if task == "regression" else y), task


def splits(y, task, seed):
    """(train, validation, test) row indices: 64/16/20, stratified for classification."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    stratify = None if task == "regression" else y
    rest, test = train_test_split(rows, test_size=0.2, random_state=seed, stratify=stratify)
    train, val = train_test_split(rest, test_size=0.2, random_state=seed,
                                  stratify=None if stratify is None else y[rest])
    return train, val, test


def preprocessing(X):
    """The MLPs' preprocessing: numeric columns imputed with the median and quantile-normalized, categorical ones
    one-hot encoded (a category never seen in training: all zeros)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    categorical = [name for name in X.columns if X[name].dtype == "string" or X[name].dtype == object]
    numeric = [name for name in X.columns if name not in categorical]
    return ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                  QuantileTransformer(output_distribution="normal", random_state=0)), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)])


def make_system(name, task, seed, n_threads, max_epochs=None):
    """A function (X, y, X_val, y_val) -> fitted model with `predict`, for system `name` (fastbp's tabular
    estimators for at most `max_epochs` epochs when given: a smoke run's)."""
    classify = task != "regression"
    if name == "fastbp" or name in VARIANTS:
        import fastbp

        cls = fastbp.TabularClassifier if classify else fastbp.TabularRegressor
        options = {**VARIANTS.get(name, {}), **({} if max_epochs is None else {"max_epochs": max_epochs})}
        return lambda X, y, X_val, y_val: cls(random_state=seed, n_threads=n_threads, **options).fit(
            X, y, X_val=X_val, y_val=y_val)
    if name in ("fastbp-mlp", "sklearn-mlp"):
        from sklearn.pipeline import make_pipeline

        if name == "fastbp-mlp":
            import fastbp

            mlp = (fastbp.MLPClassifier if classify else fastbp.MLPRegressor)(random_state=seed, n_threads=n_threads)
        else:
            from sklearn.neural_network import MLPClassifier, MLPRegressor

            mlp = (MLPClassifier if classify else MLPRegressor)(random_state=seed)
        return lambda X, y, X_val, y_val: make_pipeline(preprocessing(X), mlp).fit(X, y)
    if name == "lightgbm":
        import lightgbm

        def fit(X, y, X_val, y_val):
            X = as_categories(X)
            X_val = as_categories(X_val, like=X)
            model = (lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor)(
                n_estimators=10_000, random_state=seed, n_jobs=n_threads or os.cpu_count(), verbose=-1)
            # Class labels as their indices: LightGBM 4.7 encodes y's labels but not eval_y's, so with labels
            # other than 0..K-1 (letter's 1..26) the early stopping scored the wrong classes and stopped at once.
            classes = np.unique(y) if classify else None
            if classify:
                y, y_val = np.searchsorted(classes, y), np.searchsorted(classes, y_val)
            # LightGBM 4.7 renamed eval_set to eval_X and eval_y
            validation = {"eval_X": (X_val,), "eval_y": (y_val,)} if "eval_X" in \
                inspect.signature(model.fit).parameters else {"eval_set": [(X_val, y_val)]}
            model.fit(X, y, **validation, callbacks=[lightgbm.early_stopping(50, verbose=False)])
            return Categorized(model, X, classes)
        return fit
    if name in PEERS:
        import pytabkit

        family = "TabM_D" if name == "pytabkit-tabm" else "RealMLP_TD"
        cls = getattr(pytabkit, f"{family}_{'Classifier' if classify else 'Regressor'}")
        return lambda X, y, X_val, y_val: cls(random_state=seed, device="cpu", n_threads=n_threads).fit(
            X, y, X_val=X_val, y_val=y_val)
    raise ValueError(f"unknown system {name!r}")


def as_categories(X, like=None):
    """X with its string columns as pandas categories (those of `like`, the training frame, when given)."""
    import pandas as pd

    X = X.copy()
    for name in X.columns:
        if X[name].dtype == "string" or X[name].dtype == object:
            values = X[name].astype(object)
            if like is None:
                X[name] = values.astype("category")
            else:  # a value the training rows never had is missing to LightGBM
                categories = like[name].cat.categories
                X[name] = values.where(values.isin(categories)).astype(pd.CategoricalDtype(categories))
    return X


class Categorized:
    """A LightGBM model that casts the frames it predicts on to its training categories (and gives a classifier's
    labels back from their indices)."""

    def __init__(self, model, X, classes=None):
        self.model, self.X, self.classes = model, X, classes

    def predict(self, X):
        predicted = self.model.predict(as_categories(X, like=self.X))
        return predicted if self.classes is None else self.classes[predicted]


def metric(task, y, y_hat):
    return float(np.sqrt(np.mean((y - y_hat) ** 2))) if task == "regression" else float(np.mean(y == y_hat))


def versions(packages=None):
    """The installed versions of `packages` (default: every system's), with fastbp's build fingerprint."""
    from importlib import metadata

    found = {}
    for package in packages or sorted(set().union(*PACKAGES.values())):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    if "fastbp" in found:
        found["fastbp build"] = fastbp_fingerprint()
    return found


@functools.cache
def fastbp_fingerprint():
    """A hash of the imported fastbp package's files (sources and compiled modules): a version number does not
    change with every commit, and a cached result of fastbp must be fitted again after any change."""
    import fastbp

    digest = hashlib.sha256()
    root = os.path.dirname(fastbp.__file__)
    for folder, subfolders, files in sorted(os.walk(root)):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".pyx", ".pxd", ".h", ".so", ".pyd")):
                digest.update(os.path.relpath(os.path.join(folder, name), root).encode())
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:16]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cache_key(dataset, system, seed, n_threads, max_epochs=None):
    cap = "" if max_epochs is None else f"|max_epochs={max_epochs}"
    return (f"{dataset}|{seed}|{system}|{json.dumps(versions(PACKAGES[system]), sort_keys=True)}|{cpu_model()}"
            f"|{n_threads}{cap}")


def run(dataset, data, system, seed, n_threads, cache, refresh, max_epochs=None):
    """One fit and test of `system` on `dataset`'s split of `seed`: a dict of the metric and the fit's seconds (and
    for fastbp's tabular estimators, the epochs trained and the best one's number), from `cache` unless `refresh`
    (and then stored there). data() gives the data set's (X, y, task), read once however many runs ask."""
    key = cache_key(dataset, system, seed, n_threads, max_epochs)
    if not refresh and key in cache:
        return {**cache[key], "cached": True}
    X, y, task = data()
    train, val, test = splits(y, task, seed)
    fit = make_system(system, task, seed, n_threads, max_epochs)
    start = time.perf_counter()
    model = fit(X.iloc[train], y[train], X.iloc[val], y[val])
    seconds = time.perf_counter() - start
    result = {"metric": metric(task, y[test], np.asarray(model.predict(X.iloc[test])).ravel()), "seconds": seconds}
    if hasattr(model, "best_epoch_"):
        result.update(n_epochs=int(model.n_epochs_), best_epoch=int(model.best_epoch_))
    cache[key] = result
    return result


def main(argv=None):
    """``python -m fastbp bench --suite tabular``: the accuracy benchmark (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m fastbp bench --suite tabular", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=["tabular"], default="tabular")
    parser.add_argument("--data", metavar="DIR", default=None, help="pmlb's local cache (default: download)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=3, help="splits per data set (default 3)")
    parser.add_argument("--systems", nargs="+", choices=[*FASTBP_SYSTEMS, *VARIANTS, *PEERS], default=None,
                        help="default: fastbp's and scikit-learn's, LightGBM, and pytabkit's where installed; "
                             f"{' and '.join(VARIANTS)} (the recipe's alternatives) only when named")
    parser.add_argument("--threads", type=int, default=None, help="threads for every system (default: all)")
    parser.add_argument("--cache", metavar="PATH", default="tabular_results.json",
                        help="the fits' cached results, read and written (default tabular_results.json)")
    parser.add_argument("--refresh", "--refresh-peers", dest="refresh", action="store_true",
                        help="fit again what the cache holds")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap fastbp's tabular estimators at this many epochs (a smoke run; default: none)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write a chart of the metric and fit time (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    systems = args.systems or [*FASTBP_SYSTEMS, *(PEERS if _has("pytabkit") else ())]
    cache = {}
    if os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)
    print(f"{cpu_model()}, {os.cpu_count()} cores, threads {args.threads or 'all'}; {versions()}", flush=True)
    results = []
    for dataset in args.datasets:
        task = DATASETS[dataset][0]
        print(f"\n{dataset} ({task}; test {'RMSE' if task == 'regression' else 'accuracy'})", flush=True)
        data = functools.cache(functools.partial(load, dataset, args.data))
        for system in systems:
            runs = []
            for seed in range(args.seeds):
                runs.append(run(dataset, data, system, seed, args.threads, cache, args.refresh, args.max_epochs))
                if not runs[-1].get("cached"):  # after every fit: a run stopped half way keeps what it did
                    with open(args.cache, "w") as f:
                        json.dump(cache, f, indent=1, sort_keys=True)
            values, seconds = [r["metric"] for r in runs], [r["seconds"] for r in runs]
            record = {"dataset": dataset, "system": system, "task": task, "metric_mean": float(np.mean(values)),
                      "metric_std": float(np.std(values)), "fit_seconds": float(np.median(seconds)),
                      "seeds": len(runs), "cached": any(r.get("cached") for r in runs)}
            epochs = [r["n_epochs"] for r in runs if "n_epochs" in r]
            if epochs:
                record["n_epochs"] = float(np.median(epochs))
            results.append(record)
            trained = f"  {record['n_epochs']:g} epochs" if epochs else ""
            print(f"  {system:<20} {record['metric_mean']:.4f} ± {record['metric_std']:.4f}   "
                  f"fit {record['fit_seconds']:8.1f} s{trained}{'  (cached)' if record['cached'] else ''}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_model(), "versions": versions(), "results": results}, f, indent=1)
    if args.plot:
        plot(results, args.plot)
    return 0


def _has(module):
    from importlib.util import find_spec

    return find_spec(module) is not None


def plot(results, path):
    """The metric (with its std) and the fit time of every system on every data set, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    systems = list(dict.fromkeys(r["system"] for r in results))
    fig, axes = plt.subplots(2, len(datasets), figsize=(3.2 * len(datasets), 6), squeeze=False)
    for j, dataset in enumerate(datasets):
        rows = {r["system"]: r for r in results if r["dataset"] == dataset}
        names = [s for s in systems if s in rows]
        axes[0][j].bar(names, [rows[s]["metric_mean"] for s in names], yerr=[rows[s]["metric_std"] for s in names])
        axes[0][j].set_title(f"{dataset}: {'RMSE' if rows[names[0]]['task'] == 'regression' else 'accuracy'}")
        axes[1][j].bar(names, [rows[s]["fit_seconds"] for s in names])
        axes[1][j].set_yscale("log")
        axes[1][j].set_title("fit seconds")
        for ax in axes[:, j]:
            ax.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
