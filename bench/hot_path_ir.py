#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/hot_path_ir.py — the scheduler benchmark without the noise: runs sched_bench's
# hotcore task workloads once each under valgrind's callgrind in two or more builds and
# prints the instructions per task executed in the task path: the functions that submit,
# spawn, allocate, free, hand out and run a task (TASK_PATH; the idle and waiting loops
# are left out, since how long they spin depends on the thread interleaving). Instruction
# counts do not depend on the machine's load, so a difference between builds is a
# difference in code.
# Usage: hot_path_ir.py BUILD_DIR... (each holds bench/sched_bench and runtime/libhotcore.so)
import json
import os
import re
import subprocess
import sys
import tempfile

WORKLOADS = ["spawn", "fib_fine", "submit_external"]  # the ones that count their tasks
CORES = [1, 2]
TASK_PATH = re.compile(r"hotcore::detail::(\(anonymous namespace\)::)?"
                       r"(task_alloc|task_free|refill|register_release|depot_take|depot_put|"
                       r"spawn|scheduler::(submit|spawn|push_external|push_to_active|"
                       r"run_task|take_pinned|notify|steal|steal_from_others))\(")
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def measure(build, workload, cores, scratch):
    """Instructions in the task path, and tasks, of one iteration of one benchmark."""
    out = os.path.join(scratch, "cg.out")
    name = f"^{workload}/hotcore/cores:{cores}/real_time$"
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         os.path.join(build, "bench", "sched_bench"), f"--benchmark_filter={name}",
         "--benchmark_min_time=0", "--benchmark_format=json"],
        capture_output=True, text=True, check=True)
    bench = json.loads(run.stdout)["benchmarks"][0]
    tasks = bench["items_per_second"] * bench["real_time"] * UNIT[bench["time_unit"]]
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    inside = 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\?\?\?|[^\s:]+):(.*)\[(.*)\]\s*$", line)
        if m and "libhotcore.so" in m.group(3) and TASK_PATH.search(m.group(2)):
            inside += int(m.group(1).replace(",", ""))
    return inside, round(tasks)


def main():
    builds = sys.argv[1:]
    if not builds:
        sys.exit("usage: hot_path_ir.py BUILD_DIR...")
    with tempfile.TemporaryDirectory() as scratch:
        print(f"{'workload':<28}" + "".join(f"{os.path.basename(os.path.normpath(b)):>22}" for b in builds))
        for workload in WORKLOADS:
            for cores in CORES:
                row = f"{workload + '/cores:' + str(cores):<28}"
                for b in builds:
                    inside, tasks = measure(b, workload, cores, scratch)
                    row += f"{inside / max(tasks, 1):>14.1f} ins/task"
                print(row, flush=True)


if __name__ == "__main__":
    main()
