#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/hot_path_diff.py — shows that a change leaves the task hot path as it was: compares
# the machine code of the scheduler's submit/run functions in two builds of libhotcore.so
# (same compiler and options), with addresses normalized away, and counts the locked
# (atomic read-modify-write) instructions and fences in each.
# Usage: hot_path_diff.py BEFORE/libhotcore.so AFTER/libhotcore.so
import re
import subprocess
import sys

FUNCTIONS = [
    "submit(hotcore::detail::task_node*, bool, unsigned int)",
    "spawn(hotcore::detail::task_node*)",
    "push_external(hotcore::detail::task_node*)",
    "push_to_active(hotcore::detail::task_node*, hotcore::detail::worker const*)",
    "find_work(hotcore::detail::thread_ctx&, bool)",
    "take_pinned(hotcore::detail::worker&)",
    "run_task(hotcore::detail::counter_slot&, hotcore::detail::task_node*)",
    "worker_main(hotcore::detail::worker&)",
    "steal(hotcore::detail::thread_ctx&, bool)",
    "steal_from_others(hotcore::detail::thread_ctx&, unsigned int)",
]


def functions(lib):
    text = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", lib], check=True,
                          capture_output=True, text=True).stdout
    out = {}
    for m in re.finditer(r"^[0-9a-f]+ <(hotcore::detail::scheduler::[^>]*)>:\n(.*?)\n\n", text,
                         re.S | re.M):
        ins = []
        for line in m.group(2).splitlines():
            parts = line.split("\t", 1)
            if len(parts) == 2:
                ins.append(re.sub(r"0x[0-9a-f]+|\b[0-9a-f]{4,}\b", "ADDR", parts[1].strip()))
        out[m.group(1)[len("hotcore::detail::scheduler::"):]] = ins
    return out


def atomics(ins):
    # lock-prefixed read-modify-writes, xchg with memory (always locked) and fences
    return sum(1 for i in ins if i.startswith("lock ") or re.match(r"xchg\s+\S+,\s*\(|xchg.*\(", i)
               or i in ("mfence", "sfence", "lfence"))


def main():
    before, after = functions(sys.argv[1]), functions(sys.argv[2])
    print(f"{'function':44s} {'before':>16s} {'after':>16s}  same code")
    for f in FUNCTIONS:
        a, b = before.get(f), after.get(f)
        if a is None or b is None:
            print(f"{f.split('(')[0]:44s} missing in {'before' if a is None else 'after'}")
            continue
        print(f"{f.split('(')[0]:44s} {len(a):5d} ins {atomics(a):2d} atom {len(b):5d} ins "
              f"{atomics(b):2d} atom  {'yes' if a == b else 'no'}")


main()
