#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tools/plots.py — draws the pictures of docs/observability.md from the JSON outputs of
# the hotcore tool and examples/http_server (Debian: python3-matplotlib, wrk; root for
# the physical cycle and the quota writes):
#   docs/cycle_cost.png      per-state cost of a logical and a physical core down+up,
#                            stacked, kernel part and runtime part
#   docs/server_latency.png  http_server latency per second under wrk, with the moments
#                            a core went down and came back
#   docs/quota_reaction.png  CDF of quota-follow reaction times
# Usage: python3 tools/plots.py BUILD_DIR [OUT_DIR]   (OUT_DIR defaults to docs/)
#        python3 tools/plots.py bench SCHED_JSON CORE_COST_JSON [OUT_DIR]: the benchmark
#        pictures from saved Google Benchmark JSON (tools/bench_plots.py)
import fcntl
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "docs")
HOTCORE = os.path.join(BUILD, "tools", "hotcore")
SERVER = os.path.join(BUILD, "examples", "http_server")
STAMP = "{} - 2-vCPU Firecracker VM, Debian 12, Linux {} - {}".format(
    time.strftime("%Y-%m-%d"), platform.release().split("-")[0], "python3 tools/plots.py")


def run_json(args):
    out = subprocess.run([HOTCORE] + args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def footer(fig):
    fig.text(0.01, 0.005, STAMP, fontsize=7, color="gray", ha="left", va="bottom")


# ---- (a) per-state cost of a logical and a physical cycle

KERNEL_COLOUR = "tab:red"
_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
            "tab:olive", "tab:cyan"]
_by_name = {}


def state_colour(name):
    # One colour per state across both panels and halves; red is the kernel's.
    return _by_name.setdefault(name, _COLOURS[len(_by_name) % len(_COLOURS)])


def cycle_cost():
    logical = run_json(["cycle", "--count", "200", "--json"])[0]
    physical = None
    if os.geteuid() == 0 and os.path.exists("/sys/devices/system/cpu/cpu1/online"):
        # main() holds /tmp/hotcore-cpu1.lock: only one process takes cpu1 offline.
        try:
            physical = run_json(["cycle", "--physical", "--core", "1", "--count", "20",
                                 "--json"])[0]
        finally:
            with open("/sys/devices/system/cpu/cpu1/online", "w") as f:
                f.write("1")
    runs = [("logical", logical)] + ([("physical (root)", physical)] if physical else [])
    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 5.2), squeeze=False)
    for ax, (title, run) in zip(axes[0], runs):
        rows = run["per_state"]
        halves = ["down", "up"]
        # Stack per half: the kernel's part (cpu:physical) at the bottom, then the runtime's
        # states, largest first; states under 2% of the half are summed into "other".
        for i, half in enumerate(halves):
            hrows = [r for r in rows if r["dir"] == half]
            total = sum(r["median_ns"] for r in hrows) or 1
            kernel = [r for r in hrows if r["part"] == "kernel"]
            runtime = sorted((r for r in hrows if r["part"] == "runtime"),
                             key=lambda r: -r["median_ns"])
            big = [r for r in runtime if r["median_ns"] >= 0.02 * total]
            other = sum(r["median_ns"] for r in runtime if r["median_ns"] < 0.02 * total)
            unit = 1e6 if physical and run is physical else 1e3
            bottom = 0.0
            for r in kernel + big:
                h = r["median_ns"] / unit
                ax.bar(i, h, bottom=bottom, color=KERNEL_COLOUR if r["part"] == "kernel"
                       else state_colour(r["name"]), edgecolor="white", width=0.6)
                if h > 0.04 * (total / unit):
                    label = ("kernel: " if r["part"] == "kernel" else "") + r["name"]
                    ax.text(i, bottom + h / 2, f"{label} {h:.1f}", ha="center", va="center",
                            fontsize=7)
                bottom += h
            if other:
                ax.bar(i, other / unit, bottom=bottom, color="lightgray", edgecolor="white",
                       width=0.6)
                bottom += other / unit
            runtime_us = sum(r["median_ns"] for r in runtime) / 1e3
            ax.text(i, bottom, f"{bottom:.1f}" + (f"\n(runtime part {runtime_us:.0f} µs)"
                                                  if kernel else ""),
                    ha="center", va="bottom", fontsize=8, fontweight="bold")
        unit_name = "ms" if physical and run is physical else "µs"
        ax.set_xticks(range(2), [f"core {run['core']} down", f"core {run['core']} up"])
        ax.set_ylabel(f"median callback time per state ({unit_name}), stacked")
        ax.set_title(f"hotcore cycle, {title}: {run['count']} cycles, {run['states']} empty "
                     "states\nred: the kernel's part (cpu:physical); grey: states < 2 % summed",
                     fontsize=10)
        ax.margins(y=0.12)
    footer(fig)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(os.path.join(OUT, "cycle_cost.png"), dpi=110)
    plt.close(fig)
    return {"logical": logical, "physical": physical}


# ---- (b) http_server latency over time under wrk, core moves marked

WRK_LUA = """
done = function(summary, latency, requests)
  io.write(string.format('{"p50_us":%d,"p99_us":%d,"max_us":%d,"requests":%d}\\n',
    latency:percentile(50), latency:percentile(99), latency.max, summary.requests))
end
"""


def server_latency():
    seconds = 16
    server = subprocess.Popen([SERVER, "--port", "0", "--churn-ms", "4000", "--seconds",
                               str(seconds + 6)], stdout=subprocess.PIPE, text=True)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline()).group(1))
    t0 = time.monotonic()
    moves, stop = [], threading.Event()

    def watch():  # the moments a core stopped or started taking tasks, from /metrics
        last = None
        while not stop.is_set():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            active = tuple(sorted(re.findall(r'^hotcore_core_active\{core="(\d+)"\} (\d)', text,
                                             re.M)))
            if last is not None and active != last:
                for (c, a), (_, b) in zip(last, active):
                    if a != b:
                        moves.append((time.monotonic() - t0, int(c), b == "1"))
            last = active
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(WRK_LUA)
    points = []
    try:
        for _ in range(seconds):
            start = time.monotonic() - t0
            out = subprocess.run(["wrk", "-c", "32", "-t", "2", "-d", "1s", "-s", lua.name,
                                  f"http://127.0.0.1:{port}/"], check=True, capture_output=True,
                                 text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            points.append((start, time.monotonic() - t0, r))
    finally:
        stop.set()
        watcher.join()
        os.unlink(lua.name)
        server.terminate()
        server.wait()
    plot_server_latency(points, moves)
    return {"points": points, "moves": moves}


def plot_server_latency(points, moves):
    """server_latency.png: p50, p99 and max of each wrk second, and the core moves."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    mids = [(a + b) / 2 for a, b, _ in points]
    ax.plot(mids, [r["p50_us"] / 1e3 for _, _, r in points], "o-", label="p50")
    ax.plot(mids, [r["p99_us"] / 1e3 for _, _, r in points], "s-", label="p99")
    ax.plot(mids, [r["max_us"] / 1e3 for _, _, r in points], "^:", label="max", alpha=0.6)
    for i, (t, core, up) in enumerate(moves):
        ax.axvline(t, color="tab:green" if up else "tab:red", linestyle="--", linewidth=1,
                   label=("core up" if up else "core down") if i < 2 else None)
    ax.set_xlabel("time since the server started (s)")
    ax.set_ylabel("request latency (ms)")
    ax.set_yscale("log")
    ax.set_title("examples/http_server under wrk (32 connections, loopback), one wrk run per "
                 "second;\na core leaves and comes back every 4 s (red: down, green: up)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(True, alpha=0.3)
    footer(fig)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(os.path.join(OUT, "server_latency.png"), dpi=110)
    plt.close(fig)


# ---- (c) quota-follow reaction time CDF

def quota_reaction():
    drive = os.geteuid() == 0 and os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    if not drive:
        print("quota_reaction.png: needs root and the cgroup v1 cpu controller, skipped")
        return None
    run = run_json(["follow-quota", "--drive", "--seconds", "20", "--json"])
    samples = sorted(c["reaction_ns"] / 1e6 for c in run["changes"] if c["counted"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = len(samples)
    ax.step(samples, [(i + 1) / n for i in range(n)], where="post")
    ax.set_xscale("log")
    ax.set_xlabel("reaction: quota written to cores moved (ms, log scale)")
    ax.set_ylabel("fraction of quota changes")
    ax.set_title(f"hotcore follow-quota --drive: {n} quota writes\n(cgroup v1, inotify and a "
                 f"40 ms poll), median {run['reaction_ns']['median'] / 1e6:.2f} ms, "
                 f"p99 {run['reaction_ns']['p99'] / 1e6:.2f} ms")
    ax.grid(True, which="both", alpha=0.3)
    footer(fig)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(os.path.join(OUT, "quota_reaction.png"), dpi=110)
    plt.close(fig)
    return run


def parse_cpus(text):
    cpus = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return cpus


def main():
    os.makedirs(OUT, exist_ok=True)
    # cpu1 stays online for the logical runs and the server, and is taken offline only
    # by the physical cycle: hold the lock every test that offlines cpu1 holds, and run
    # on every online CPU.
    lock = open("/tmp/hotcore-cpu1.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    with open("/sys/devices/system/cpu/online") as f:
        online = f.read().strip()
    os.sched_setaffinity(0, parse_cpus(online))
    cycle_cost()
    server_latency()
    quota_reaction()
    print("wrote", ", ".join(os.path.join(OUT, n) for n in
                             ("cycle_cost.png", "server_latency.png", "quota_reaction.png")))


if len(sys.argv) > 1 and sys.argv[1] == "bench":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_plots  # noqa: E402

    sys.exit(bench_plots.main(sys.argv[2:]))
main()
