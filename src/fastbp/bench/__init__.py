"""`python -m fastbp bench`: one training epoch, timed side by side for fastbp and its peers.

For each workload and dtype the systems (fastbp, its NumPy backend, scikit-learn, PyTorch when installed,
and the GEMM floor: the epoch's matrix products alone) take turns round by round, each from the same
initial weights over the same minibatches; the first round is a warm-up and is discarded. The classic
workloads train plain SGD; "modern" trains GELU and ReLU layers with dropout, AdamW, a per-step
warmup-cosine schedule and clipping (scikit-learn cannot, and is left out there). The report
gives medians, ratios to the NumPy backend, the floor and PyTorch, samples per second, and checks that
every training system ends the epoch with the same loss. Every BLAS library (threadpoolctl), PyTorch
and fastbp's OpenMP get the same number of threads.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from fastbp.bench.systems import SYSTEMS, Problem, torch_available
from fastbp.bench.workloads import SUITES, WORKLOADS, make_data, model_of

LEARNING_RATE = 0.01
# Every training system's epoch loss must match fastbp's to this relative tolerance. Adam's float32 trajectories
# drift further apart over an epoch's steps: it divides by sqrt(v), so a gradient's last bits move its step.
LOSS_RTOL = {"float64": 1e-9, "float32": 1e-4}
ADAM_LOSS_RTOL = {"float64": 1e-9, "float32": 2e-3}
SCALING_ROWS = (10_000, 100_000, 1_000_000)
# A pause before each timed epoch: thread pools (OpenBLAS, PyTorch's OpenMP) keep spinning for a while
# after their last call and would take cores from whichever system runs next. The pause busy-waits: after
# sleeping instead, the next threaded epoch ran up to 1.5x slower on these machines (cores clocked down).
SETTLE_SECONDS = 0.2
REWARM_SECONDS = 0.1


def peak_gemm_gflops(dtype, n=2048, repeats=3):
    """The best rate of one n x n x n NumPy matrix product: what this machine's BLAS reaches at best."""
    a = np.random.RandomState(0).rand(n, n).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(_seconds(lambda: np.matmul(a, a, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _busy_wait(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def machine_info(dtypes):
    from threadpoolctl import threadpool_info

    from fastbp.config import show_config

    with open(os.devnull, "w") as devnull:
        config = show_config(file=devnull)
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "fastbp": config["fastbp"],
        "openmp": config["openmp"],
        "openmp_max_threads": config["openmp_max_threads"],
        "build_flags": config["build_flags"],
        "blas": [f"{lib['internal_api']} {lib['version']} ({lib['num_threads']} threads) {lib['filepath']}"
                 for lib in threadpool_info() if lib["user_api"] == "blas"],
        "peak_gemm_gflops": {dtype: round(peak_gemm_gflops(dtype), 1) for dtype in dtypes},
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def time_systems(problem, names, repeats):
    """{system: (median seconds, all timed seconds, epoch loss)}, the systems interleaved round by round.

    Round 0 warms every system up and is not timed. Before each timed epoch the main thread waits
    SETTLE_SECONDS; a system whose epoch is short (under REWARM_SECONDS) then runs one more untimed epoch,
    so that its data are back in cache after the other systems ran, which a long epoch amortizes.
    """
    systems = {name: SYSTEMS[name](problem) for name in names}
    times = {name: [] for name in names}
    losses, short = {}, {}
    for round_ in range(repeats + 1):
        for name, system in systems.items():
            if round_:
                _busy_wait(SETTLE_SECONDS)
                if short[name]:
                    system.reset()
                    system.epoch()
            system.reset()
            system.begin()
            start = time.perf_counter()
            losses[name] = system.epoch()
            seconds = time.perf_counter() - start
            system.end()
            if round_:
                times[name].append(seconds)
            else:
                short[name] = seconds < REWARM_SECONDS
    return {name: (statistics.median(times[name]), times[name], losses[name]) for name in names}


def compare(workloads, dtypes, names, repeats, n_threads, log):
    records = []
    peaks = {dtype: peak_gemm_gflops(dtype) for dtype in dtypes}  # at this run's thread count
    log(f"\npeak GEMM at {n_threads or 'all'} threads: " + ", ".join(f"{dtype} {gflops:.1f} GFLOP/s"
                                                                    for dtype, gflops in peaks.items()))
    for workload in workloads:
        sizes, _, batch_size = WORKLOADS[workload]
        for dtype in dtypes:
            X, Y = make_data(workload, dtype)
            model = model_of(workload)
            problem = Problem(sizes, X, Y, batch_size, LEARNING_RATE, n_threads, model)
            timed = time_systems(problem, [name for name in names if SYSTEMS[name].supports(model)], repeats)
            reference_loss = timed["fastbp"][2] if "fastbp" in timed else None
            # With dropout, only the systems that draw fastbp's masks end with its loss; torch's Adam is not
            # scikit-learn's (fastbp's).
            comparable = {name for name in timed if (not model.dropout or SYSTEMS[name].shares_masks)
                          and SYSTEMS[name].same_arithmetic(model)}
            rows = []
            for name, (median, times, loss) in timed.items():
                record = {"workload": workload, "dtype": dtype, "threads": n_threads, "system": name,
                          "median_s": median, "times_s": times, "samples_per_s": X.shape[0] / median,
                          "percent_of_peak": 100 * problem.flops / median / 1e9 / peaks[dtype],
                          "peak_gemm_gflops": peaks[dtype], "loss": None if np.isnan(loss) else loss}
                for base in ("numpy", "floor", "torch"):
                    if base in timed and base != name:
                        record[f"vs_{base}"] = median / timed[base][0]
                if record["loss"] is not None and reference_loss is not None and name in comparable:
                    rtol = (ADAM_LOSS_RTOL if model.optimizer == "adam" else LOSS_RTOL)[dtype]
                    record["same_loss"] = bool(abs(loss - reference_loss) <= rtol * abs(reference_loss))
                rows.append(record)
            records += rows
            log(_table(workload, dtype, X.shape[0], batch_size, n_threads, rows))
    return records


def _table(workload, dtype, n_rows, batch_size, n_threads, rows):
    sizes = "-".join(map(str, WORKLOADS[workload][0]))
    lines = [f"\n{workload} {sizes}, {n_rows} rows, batch {batch_size}, {dtype}, threads "
             f"{n_threads or 'all'}",
             f"  {'system':<9} {'epoch ms':>10} {'vs numpy':>9} {'vs floor':>9} {'vs torch':>9} "
             f"{'% of peak':>9} {'samples/s':>11} {'loss':>12}"]
    for r in rows:
        ratios = " ".join(f"{r[key]:9.3f}" if key in r else f"{'':>9}" for key in ("vs_numpy", "vs_floor", "vs_torch"))
        loss = "" if r["loss"] is None else f"{r['loss']:.6g}" + ("" if r.get("same_loss", True) else " (!)")
        lines.append(f"  {r['system']:<9} {r['median_s'] * 1e3:10.3f} {ratios} {r['percent_of_peak']:9.1f} "
                     f"{r['samples_per_s']:11.4g} {loss:>12}")
    return "\n".join(lines)


def scaling(dtypes, repeats, n_threads, log):
    """fastbp's epoch time on the small workload at 10^4, 10^5 and 10^6 rows: it should grow linearly."""
    sizes, _, batch_size = WORKLOADS["small"]
    records = []
    log(f"\nscaling: small {'-'.join(map(str, sizes))}, batch {batch_size}, fastbp, threads {n_threads or 'all'}")
    for dtype in dtypes:
        for n_rows in SCALING_ROWS:
            X, Y = make_data("small", dtype, n_rows=n_rows)
            median = time_systems(Problem(sizes, X, Y, batch_size, LEARNING_RATE, n_threads, model_of("small")),
                                  ["fastbp"], repeats)["fastbp"][0]
            records.append({"dtype": dtype, "rows": n_rows, "median_s": median, "us_per_row": median / n_rows * 1e6})
            log(f"  {dtype:<8} {n_rows:>9} rows {median:9.4f} s  {median / n_rows * 1e6:7.3f} us/row")
    return records


def plot(records, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SystemExit("--plot needs matplotlib: pip install 'fastbp[plot]'") from exc
    dtypes = list(dict.fromkeys(r["dtype"] for r in records))
    workloads = list(dict.fromkeys(r["workload"] for r in records))
    systems = list(dict.fromkeys(r["system"] for r in records))
    threads = records[0]["threads"]
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6 * len(dtypes), 4.5), squeeze=False)
    width = 0.8 / len(systems)
    for ax, dtype in zip(axes[0], dtypes):
        for k, system in enumerate(systems):
            values = [next((r["median_s"] * 1e3 for r in records if r["dtype"] == dtype and r["workload"] == w
                            and r["system"] == system and r["threads"] == threads), np.nan) for w in workloads]
            ax.bar(np.arange(len(workloads)) + (k - (len(systems) - 1) / 2) * width, values, width, label=system)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(workloads)), workloads)
        ax.set_ylabel("ms per epoch (log scale)")
        ax.set_title(f"one epoch of SGD, {dtype}, {threads or 'all'} threads")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    """Run the comparison benchmark: ``python -m fastbp bench`` with `argv` as its arguments.

    Parameters
    ----------
    argv : list of str or None, default=None
        The command's arguments (``python -m fastbp bench --help`` lists them); None reads ``sys.argv``.

    Returns
    -------
    int
        0 when every system ended each epoch with fastbp's loss, else 1 (the exit status of the command).
    """
    suite = argparse.ArgumentParser(add_help=False)
    suite.add_argument("--suite")
    if suite.parse_known_args(argv)[0].suite == "tabular":  # the accuracy benchmark has arguments of its own
        from fastbp.bench import tabular

        return tabular.main(argv)
    parser = argparse.ArgumentParser(prog="python -m fastbp bench", description=__doc__.splitlines()[0])
    default_systems = [name for name in SYSTEMS if name != "torch" or torch_available()]
    parser.add_argument("--suite", choices=[*SUITES, "tabular"], default="classic",
                        help="the workloads to run (default classic: plain SGD, and modern); realistic: Adam, "
                             "ReLU and softmax on five problems users train, with a predict section; tabular: "
                             "accuracy on real tables (python -m fastbp bench --suite tabular --help)")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=None,
                        help="these workloads instead of the suite's")
    parser.add_argument("--dtypes", nargs="+", choices=["float64", "float32"], default=["float64", "float32"])
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=default_systems,
                        help="default: all (torch when installed)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds after the warm-up (default 5)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts to run at (default: all cores); with 1 and 2, the speedup is reported")
    parser.add_argument("--scaling", action="store_true", help="also time the small workload at 1e4..1e6 rows")
    parser.add_argument("--no-predict", action="store_true", help="leave out the realistic suite's predict section")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--plot", metavar="PATH", help="write a chart of epoch times (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads and min(args.threads) < 1:
        parser.error("--threads must be >= 1")
    if "torch" in args.systems and not torch_available():
        parser.error("--systems torch: PyTorch is not installed")
    names = args.systems if "fastbp" in args.systems else ["fastbp", *args.systems]  # fastbp's loss is the reference

    from threadpoolctl import threadpool_limits

    def log(text):
        print(text, flush=True)

    info = machine_info(args.dtypes)
    log(f"{info['cpu']}, {info['cores']} cores; fastbp {info['fastbp']}, OpenMP "
        f"{'on' if info['openmp'] else 'off'} ({info['openmp_max_threads']} threads)")
    for lib in info["blas"]:
        log(f"  BLAS: {lib}")
    log("  peak GEMM: " + ", ".join(f"{dtype} {gflops} GFLOP/s" for dtype, gflops in info["peak_gemm_gflops"].items()))

    workloads = args.workloads or list(SUITES[args.suite])
    results = {"machine": info, "suite": args.suite, "learning_rate": LEARNING_RATE, "comparison": [],
               "scaling": [], "predict": []}
    for n_threads in args.threads or [None]:
        with threadpool_limits(limits=n_threads, user_api="blas"):
            results["comparison"] += compare(workloads, args.dtypes, names, args.repeats, n_threads, log)
            if args.scaling:
                results["scaling"] += scaling(args.dtypes, min(args.repeats, 3), n_threads, log)
            if args.suite == "realistic" and not args.no_predict:
                from fastbp.bench.predict import predict_section

                results["predict"] += predict_section(workloads, args.dtypes, lambda: _busy_wait(SETTLE_SECONDS),
                                                      log)
    if args.threads and len(args.threads) > 1:
        results["speedup"] = _speedups(results["comparison"], args.threads, log)
    mismatched = [r for r in results["comparison"] if r.get("same_loss") is False]
    mismatched += [r for r in results["predict"] if not r["agrees"]]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.plot:
        plot([r for r in results["comparison"] if r["threads"] == (args.threads or [None])[-1]], args.plot)
    if mismatched:
        log("\nERROR: these systems ended the epoch with a different loss than fastbp, or predicted otherwise: "
            + ", ".join(f"{r['system']} ({r['workload']} {r['dtype']})" for r in mismatched))
        return 1
    log("\nevery system ended each epoch with fastbp's loss")
    return 0


def _speedups(records, threads, log):
    low, high = threads[0], threads[-1]
    log(f"\nspeedup from {low} to {high} threads (epoch time at {low} / at {high})")
    speedups = []
    for r in records:
        if r["threads"] != low:
            continue
        other = next(o for o in records if o["threads"] == high and all(
            o[k] == r[k] for k in ("workload", "dtype", "system")))
        speedups.append({"workload": r["workload"], "dtype": r["dtype"], "system": r["system"],
                         "speedup": r["median_s"] / other["median_s"]})
        log(f"  {r['workload']:<7} {r['dtype']:<8} {r['system']:<8} {speedups[-1]['speedup']:6.2f}")
    return speedups


if __name__ == "__main__":
    sys.exit(main())
