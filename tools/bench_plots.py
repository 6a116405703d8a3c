#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tools/bench_plots.py — draws the pictures of docs/benchmarks.md from Google Benchmark
# JSON (--benchmark_format=json, or --benchmark_out=FILE --benchmark_out_format=json):
#   sched_ratio.png  hotcore's time / oneTBB's per sched_bench workload against the core
#                    count (medians when the run had repetitions)
#   core_cost.png    what a core costs to take away and give back (core_cost_bench): p50
#                    and p99 per layer against the core count (and add+remove_instance),
#                    and every layer side by side, the physical cycle split into the
#                    kernel's part and hotcore's
#   scale.png        cost per core (or per operation) against 2, 4, ... 256 simulated
#                    cores (scale_bench), and the same over its value at 2 cores
# Usage: python3 tools/plots.py bench SCHED_JSON CORE_COST_JSON [OUT_DIR] [--scale SCALE_JSON]
#        (OUT_DIR defaults to docs/; either JSON may be "-" to leave its picture out)
import json
import os
import re
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAME = re.compile(r"^(?P<workload>[^/]+)/(?P<pool>[^/]+)/(?:cores:)?(?P<cores>\d+)")


def load(path):
    with open(path) as f:
        return json.load(f)


def stamp(run, command):
    c = run["context"]
    return "{} - {} CPUs, load {} - {}".format(
        c["date"][:10], c["num_cpus"], "/".join(f"{x:.1f}" for x in c.get("load_avg", [])),
        command)


def save(fig, run, command, out_dir, name, bottom=0.03):
    """Stamps the figure with its run and command, writes out_dir/name, returns the path.
    bottom: the share of the figure's height kept below the axes (the stamp, a legend)."""
    fig.text(0.01, 0.005, stamp(run, command), fontsize=7, color="gray")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def median_or_single(run):
    """The run's benchmarks that carry a figure: the median aggregates and the single
    runs (a run with repetitions has both; callers prefer the aggregate)."""
    for b in run["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        yield b


def rows(run):
    """(workload, pool, cores) -> the benchmark's row: the median aggregate if the run
    had repetitions, else the single run."""
    out = {}
    for b in median_or_single(run):
        m = NAME.match(b["name"])
        if m:
            key = (m["workload"], m["pool"], int(m["cores"]))
            if b.get("run_type") == "aggregate" or key not in out:
                out[key] = b
    return out


def value(workload, b):
    # wake_latency's Time column excludes nothing useful: its p50 counter is the figure.
    return b["p50_us"] if workload == "wake_latency" else b["real_time"]


def sched_ratio(run, out_dir, command):
    r = rows(run)
    workloads = sorted({w for (w, p, _) in r if p == "hotcore" and (w, "tbb") in
                        {(w2, p2) for (w2, p2, _) in r}})
    fig, ax = plt.subplots(figsize=(9, 5))
    all_cores = set()
    for i, w in enumerate(workloads):
        cores = sorted(c for (w2, p, c) in r if w2 == w and p == "hotcore" and (w, "tbb", c) in r)
        ratios = [value(w, r[(w, "hotcore", c)]) / value(w, r[(w, "tbb", c)]) for c in cores]
        all_cores.update(cores)
        ax.plot(cores, ratios, marker="os^vD<>ph*"[i % 10], label=w)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.text(min(all_cores or {1}), 1.0, " goal: ≤ 1.0 (hotcore no slower)", va="bottom", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(all_cores), [str(c) for c in sorted(all_cores)])
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(
        [0.125, 0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 4, 8]))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("worker cores (hotcore runtime / oneTBB arena of that many threads)")
    ax.set_ylabel("hotcore time / oneTBB time (log scale)")
    ax.set_title("sched_bench: hotcore against oneTBB, same binary, same run\n"
                 "below the dashed line hotcore is faster; wake_latency: p50")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save(fig, run, command, out_dir, "sched_ratio.png")


def core_cost(run, out_dir, command):
    r = rows(run)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    labels = {"hotcore_logical": "hotcore logical down+up (8 empty states)",
              "hotcore_add_remove_instance": "hotcore add+remove_instance on every core",
              "tbb_arena_reinit": "oneTBB arena re-initialised at N-1 and N\n"
                                  "(no pinning, no vacating, no callbacks)"}
    ticks = set()
    for key, label in labels.items():
        pts = sorted((c, b) for (_, pool, c), b in r.items() if pool == key)
        if not pts:
            continue
        xs = [c for c, _ in pts]
        line, = left.plot(xs, [b["p50_us"] for _, b in pts], "o-", label=label + ", p50")
        left.plot(xs, [b["p99_us"] for _, b in pts], "s:", color=line.get_color(),
                  label=label.split("\n")[0] + ", p99")
        ticks.update(xs)
    left.set_xticks(sorted(ticks), [str(x) for x in sorted(ticks)])
    left.set_yscale("log")
    left.set_xlabel("worker cores")
    left.set_ylabel("time per operation (µs, log scale)")
    left.set_title("against the core count: one core away and back,\nand an instance added and removed on every core")
    left.grid(True, which="both", alpha=0.3)
    left.legend(loc="upper left", fontsize=7)
    # Right: every layer at the largest core count, p50 and p99 bars on one log axis; the
    # physical run (no core count) as its kernel part and hotcore's part.
    bars = []
    for key, label in (("tbb_arena_reinit", "oneTBB arena\nre-initialised"),
                       ("hotcore_logical", "hotcore\nlogical")):
        pts = sorted((c, b) for (_, pool, c), b in r.items() if pool == key)
        if pts:
            c, b = pts[-1]
            bars.append((f"{label}\n({c} cores)", b["p50_us"], b["p99_us"]))
    phys = sorted((b.get("aggregate_name") != "median", i, b) for i, b in
                  enumerate(run["benchmarks"]) if "/hotcore_physical_cpu1/" in b["name"] and
                  not b.get("error_occurred") and b.get("aggregate_name", "median") == "median")
    if phys:
        b = phys[0][2]
        bars.append(("physical cpu1:\nhotcore's part", b["runtime_p50_us"], b["runtime_p99_us"]))
        bars.append(("physical cpu1:\nkernel's part", b["kernel_p50_us"], b["kernel_p99_us"]))
    for i, (label, p50, p99) in enumerate(bars):
        for j, (q, v) in enumerate((("p50", p50), ("p99", p99))):
            right.bar(i + (j - 0.5) * 0.38, v, width=0.36, color=("tab:blue", "tab:orange")[j],
                      label=q if i == 0 else None)
            right.text(i + (j - 0.5) * 0.38, v, f"{v:,.0f}" if v >= 100 else f"{v:.3g}", ha="center",
                       va="bottom", fontsize=7)
    right.set_xticks(range(len(bars)), [x[0] for x in bars], fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("one core away and back (µs, log scale)")
    right.set_title("every layer" + ("" if phys else " (no physical run: needs root)") +
                    "\noneTBB's arena does not pin, vacate a CPU or run callbacks")
    right.legend(fontsize=8, loc="upper left")
    right.margins(y=0.15)
    return save(fig, run, command, out_dir, "core_cost.png")


SCALE_NAME = re.compile(r"^scale_(?P<op>[a-z_]+)/cores:(?P<cores>\d+)")
SCALE_LABELS = {
    "walk": "one core down+up (8 empty states), per walk",
    "add_remove_instance": "add+remove_instance on every core, per core",
    "add_remove_instance_parallel": "add+remove_instance, parallel_calls, per core",
    "quota_step": "set_core_limit(16) and back, per core moved",
    "quota_step_parallel": "set_core_limit(16) and back, parallel_calls, per core moved",
    "cpus_read_lock": "cpus_read_lock+unlock, per pair",
    "submit": "submit from outside, per task",
    "steal": "fork-join tree (stealing), per task",
}


def scale_rows(run):
    """op -> [(cores, ns)], the per-core or per-operation figure (median aggregate if
    the run had repetitions)."""
    out = {}
    for b in median_or_single(run):
        m = SCALE_NAME.match(b["name"])
        figure = b.get("per_core_ns", b.get("per_op_ns"))
        if m and figure is not None:
            out.setdefault(m["op"], {})[int(m["cores"])] = figure
    return {op: sorted(pts.items()) for op, pts in out.items()}


def scale(run, out_dir, command):
    r = scale_rows(run)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6))
    ticks = set()
    for i, op in enumerate(o for o in SCALE_LABELS if o in r):
        xs = [c for c, _ in r[op]]
        ys = [v for _, v in r[op]]
        marker = "os^vD<>p"[i % 8]
        # A parallel_calls variant: dashed, beside its one-core-after-another line.
        style = "--" if op.endswith("_parallel") else "-"
        left.plot(xs, [y / 1e3 for y in ys], marker=marker, linestyle=style, label=SCALE_LABELS[op])
        right.plot(xs, [y / ys[0] for y in ys], marker=marker, linestyle=style)
        ticks.update(xs)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.set_xlabel("worker cores (simulated: mapped round-robin onto the machine's CPUs)")
        ax.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("cost per core, or per operation (µs, log scale)")
    left.set_title("scale_bench: what one core or one operation costs\nas the core count grows")
    right.set_yscale("log", base=2)
    right.axhline(2.0, color="black", linewidth=1, linestyle="--")
    right.axhline(0.5, color="black", linewidth=1, linestyle="--")
    right.text(min(ticks or {2}), 2.0, " goal: within 2x of 2 cores", va="bottom", fontsize=8)
    right.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    right.set_ylabel("the same over its value at 2 cores (log scale)")
    right.set_title("flat means per-core cost does not grow with the core count\n"
                    "(medians; one run, one binary)")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, bbox_to_anchor=(0.5, 0.03))
    return save(fig, run, command, out_dir, "scale.png", bottom=0.17)


def main(args):
    scale_json = None
    if "--scale" in args:
        i = args.index("--scale")
        if i + 1 >= len(args):
            print("--scale needs a JSON file", file=sys.stderr)
            return 2
        scale_json = args[i + 1]
        args = args[:i] + args[i + 2:]
    if len(args) < 2:
        if scale_json is None:
            print("usage: plots.py bench SCHED_JSON CORE_COST_JSON [OUT_DIR] [--scale SCALE_JSON]",
                  file=sys.stderr)
            return 2
        args = ["-", "-"] + args
    out_dir = args[2] if len(args) > 2 else os.path.join(os.path.dirname(__file__), "..", "docs")
    os.makedirs(out_dir, exist_ok=True)
    wrote = []
    if args[0] != "-":
        wrote.append(sched_ratio(load(args[0]), out_dir, "build/bench/sched_bench"))
    if args[1] != "-":
        wrote.append(core_cost(load(args[1]), out_dir, "build/bench/core_cost_bench"))
    if scale_json is not None:
        wrote.append(scale(load(scale_json), out_dir, "build/bench/scale_bench"))
    print("wrote", ", ".join(wrote))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
