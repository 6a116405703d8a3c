#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/record.py — runs one benchmark command and keeps its JSON output as
# bench/results/NAME.json, with the command, machine, date, load average and source commit
# in bench/results/index.json: the figures bench/report.py writes into the docs.
# Usage: bench/record.py NAME COMMAND [ARGS...]
#   A Google Benchmark program gets --benchmark_format=json added; a command that prints
#   JSON itself (`hotcore cycle --json`) is run as given. Its stdout must be one JSON value.
import datetime
import json
import os
import platform
import subprocess
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
INDEX = os.path.join(RESULTS, "index.json")


def machine():
    """'2-vCPU Firecracker VM, Debian 12.11, Linux 6.18.44-fc-v1300' on the VM the docs use."""
    release = platform.release()
    kind = "Firecracker VM" if "-fc-" in release else "machine"
    try:
        with open("/etc/debian_version") as f:
            distro = "Debian " + f.read().strip()
    except OSError:
        distro = platform.system()
    return f"{os.cpu_count()}-vCPU {kind}, {distro}, Linux {release}"


def commit():
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else "unknown"


def load_index():
    try:
        with open(INDEX) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main():
    if len(sys.argv) < 3:
        print("usage: bench/record.py NAME COMMAND [ARGS...]", file=sys.stderr)
        return 2
    name, cmd = sys.argv[1], sys.argv[2:]
    if "--json" not in cmd:
        cmd = cmd + ["--benchmark_format=json"]
    load = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    run = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if run.returncode != 0:
        print(f"bench/record.py: {' '.join(cmd)} exited {run.returncode}", file=sys.stderr)
        return 1
    try:
        result = json.loads(run.stdout)
    except ValueError as e:
        print(f"bench/record.py: the output of {cmd[0]} is not JSON: {e}", file=sys.stderr)
        return 1
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    index = load_index()
    index[name] = {
        "command": " ".join(cmd),
        "machine": machine(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": round(load, 1),
        "commit": commit(),
    }
    with open(INDEX, "w") as f:
        json.dump(dict(sorted(index.items())), f, indent=1)
        f.write("\n")
    print(f"bench/results/{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
