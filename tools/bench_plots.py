#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tools/bench_plots.py — draws the pictures of docs/benchmarks.md from Google Benchmark
# JSON (--benchmark_format=json, or --benchmark_out=FILE --benchmark_out_format=json):
#   sched_ratio.png  hotcore's time / oneTBB's per sched_bench workload against the core
#                    count (medians when the run had repetitions)
#   core_cost.png    what a core costs to take away and give back (core_cost_bench): p50
#                    and p99 per layer against the core count, and the physical cycle split
#                    into the kernel's part and hotcore's
# Usage: python3 tools/plots.py bench SCHED_JSON CORE_COST_JSON [OUT_DIR]
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


def rows(run):
    """(workload, pool, cores) -> the benchmark's row: the median aggregate if the run
    had repetitions, else the single run."""
    out = {}
    for b in run["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
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
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("worker cores (hotcore runtime / oneTBB arena of that many threads)")
    ax.set_ylabel("hotcore time / oneTBB time (log scale)")
    ax.set_title("sched_bench: hotcore against oneTBB, same binary, same run\n"
                 "below the dashed line hotcore is faster; wake_latency: p50")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.text(0.01, 0.005, stamp(run, command), fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = os.path.join(out_dir, "sched_ratio.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def core_cost(run, out_dir, command):
    bench = [b for b in run["benchmarks"] if not b.get("error_occurred") and
             b.get("run_type", "iteration") == "iteration"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    labels = {"hotcore_logical": "hotcore logical down+up (8 empty states)",
              "tbb_arena_reinit": "oneTBB arena re-initialised at N-1 and N\n"
                                  "(no pinning, no vacating, no callbacks)"}
    for key, label in labels.items():
        pts = sorted((int(re.search(r"cores:(\d+)", b["name"])[1]), b) for b in bench
                     if f"/{key}/" in b["name"])
        if not pts:
            continue
        xs = [c for c, _ in pts]
        line, = left.plot(xs, [b["p50_us"] for _, b in pts], "o-", label=label + ", p50")
        left.plot(xs, [b["p99_us"] for _, b in pts], "s:", color=line.get_color(),
                  label=label.split("\n")[0] + ", p99")
        left.set_xticks(xs, [str(x) for x in xs])
    left.set_yscale("log")
    left.set_xlabel("worker cores")
    left.set_ylabel("one core away and back (µs, log scale)")
    left.set_title("cost of one core against the core count")
    left.legend(fontsize=7)
    left.grid(True, which="both", alpha=0.3)
    phys = [b for b in bench if "/hotcore_physical_cpu1/" in b["name"]]
    if phys:
        b = phys[0]
        for i, q in enumerate(["p50", "p99"]):
            k, o = b[f"kernel_{q}_us"] / 1e3, b[f"runtime_{q}_us"] / 1e3
            right.bar(i, k, color="tab:red", width=0.6, label="kernel (write to cpu1/online)" if i == 0 else None)
            right.bar(i, o, bottom=k, color="tab:blue", width=0.6, label="hotcore (everything else)" if i == 0 else None)
            right.text(i, k + o, f"kernel {k:.1f} ms\nhotcore {o * 1e3:.0f} µs", ha="center",
                       va="bottom", fontsize=8)
        right.set_xticks(range(2), ["p50", "p99"])
        right.set_ylabel("cpu1 down+up (ms)")
        right.set_title(f"physical down+up of cpu1 (root), {b['iterations']} cycles\n"
                        "kernel and hotcore parts are the percentiles of each part")
        right.legend(fontsize=8)
        right.margins(y=0.2)
    else:
        right.text(0.5, 0.5, "no physical run in this JSON\n(needs root and cpu1/online)",
                   ha="center", va="center")
        right.set_axis_off()
    fig.text(0.01, 0.005, stamp(run, command), fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = os.path.join(out_dir, "core_cost.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(args):
    if len(args) < 2:
        print("usage: plots.py bench SCHED_JSON CORE_COST_JSON [OUT_DIR]", file=sys.stderr)
        return 2
    out_dir = args[2] if len(args) > 2 else os.path.join(os.path.dirname(__file__), "..", "docs")
    os.makedirs(out_dir, exist_ok=True)
    wrote = []
    if args[0] != "-":
        wrote.append(sched_ratio(load(args[0]), out_dir, "build/bench/sched_bench"))
    if args[1] != "-":
        wrote.append(core_cost(load(args[1]), out_dir, "build/bench/core_cost_bench"))
    print("wrote", ", ".join(wrote))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
