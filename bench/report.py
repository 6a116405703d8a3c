#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/report.py — the one source of the figures in docs/benchmarks.md and README.md: it
# reads the recorded benchmark outputs (bench/results/*.json with index.json, made by
# bench/record.py; docs/latency_results.json from the latency driver) and rewrites every
# block between `<!-- table:NAME -->` and `<!-- /table -->` in those pages.
# Usage: python3 bench/report.py [--check]
#   --check writes nothing: exit 1 and a diff when a page differs from what the JSON gives.
import difflib
import os
import re
import sys

import report_tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["docs/benchmarks.md", "README.md"]
OPEN = re.compile(r"^<!-- table:([\w-]+) -->$", re.M)
CLOSE = re.compile(r"^<!-- /table -->$", re.M)


def render(text, tables, page):
    """text with every marked block replaced by tables[NAME]. A marker is a line of its
    own; an unknown name or an open block is an error."""
    out, pos = [], 0
    for m in OPEN.finditer(text):
        if m.start() < pos:
            raise SystemExit(f"bench/report.py: {page}: table:{m[1]} inside another block")
        end = CLOSE.search(text, m.end())
        if not end:
            raise SystemExit(f"bench/report.py: {page}: table:{m[1]} has no <!-- /table -->")
        if m[1] not in tables:
            raise SystemExit(f"bench/report.py: {page}: no table named {m[1]!r}")
        out += [text[pos:m.end()], "\n", tables[m[1]], "\n"]
        pos = end.start()
    out.append(text[pos:])
    return "".join(out)


def main(argv):
    check = "--check" in argv
    if set(argv) - {"--check"}:
        print("usage: bench/report.py [--check]", file=sys.stderr)
        return 2
    try:
        tables = report_tables.all_tables(ROOT)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        print(f"bench/report.py: a recorded run is missing or lacks a figure: {e!r}",
              file=sys.stderr)
        return 1
    stale = 0
    for page in PAGES:
        path = os.path.join(ROOT, page)
        with open(path) as f:
            old = f.read()
        new = render(old, tables, page)
        if new == old:
            continue
        if check:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), page, page + " (from the JSON)"))
        else:
            with open(path, "w") as f:
                f.write(new)
            print(f"rewrote {page}")
    if stale:
        print(f"{stale} page(s) differ from bench/results: run `python3 bench/report.py`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
