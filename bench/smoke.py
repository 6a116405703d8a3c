#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/smoke.py — runs a Google Benchmark program for a few iterations as a test: it
# passes when the program exits 0, prints JSON (--benchmark_format=json) that parses, ran
# at least one benchmark, and no benchmark ended with an error (a workload whose result
# was wrong, a pool that could not be made). An error whose message starts with
# "skipped: " is what the machine lacks (e.g. a second core) and is printed, not failed.
# Timings are printed for the log, never compared.
# Usage: smoke.py BENCH_PROGRAM [BENCHMARK_ARGS...]
import json
import subprocess
import sys


def main():
    if len(sys.argv) < 2:
        print("usage: smoke.py BENCH_PROGRAM [BENCHMARK_ARGS...]", file=sys.stderr)
        return 2
    cmd = sys.argv[1:] + ["--benchmark_format=json"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {run.returncode}")
        return 1
    try:
        benchmarks = json.loads(run.stdout)["benchmarks"]
    except (ValueError, KeyError) as e:
        print(f"FAIL: the JSON output does not parse or has no benchmarks list: {e}")
        return 1
    failed = 0
    for b in benchmarks:
        message = b.get("error_message", "")
        if b.get("error_occurred") and not message.startswith("skipped: "):
            print(f"FAIL: {b['name']}: {message}")
            failed += 1
        elif b.get("error_occurred"):
            print(f"{b['name']}: {message}")
        else:
            print(f"{b['name']}: {b['iterations']} iterations, {b['real_time']:.1f} {b['time_unit']}")
    if not benchmarks:
        print("FAIL: no benchmark ran (check the filter)")
        return 1
    print(f"{len(benchmarks)} benchmarks ran, {failed} failed")
    return 1 if failed else 0


sys.exit(main())
