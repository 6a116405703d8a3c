#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# examples/metrics_test.py — GET /metrics of examples/http_server while a core leaves and
# comes back every 100 ms: every scrape must parse as OpenMetrics text (families with TYPE
# and HELP, well-formed samples, cumulative histogram buckets, "# EOF" last) and the walk
# counters and parked time must move between scrapes. Skips (77) with a single core.
# Usage: metrics_test.py HTTP_SERVER
import re
import subprocess
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def parse(text):
    """Parses OpenMetrics text; returns {(name, frozenset(labels)): value}. Fails on any
    line it does not accept."""
    lines = text.split("\n")
    if lines[-1] != "" or lines[-2] != "# EOF":
        fail("the exposition does not end with '# EOF\\n'")
    types, helps, samples = {}, set(), {}
    for line in lines[:-2]:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in types:
                fail(f"family {name} declared twice")
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            helps.add(line.split(" ", 3)[2])
            continue
        if line.startswith("# UNIT "):
            _, _, name, unit = line.split(" ", 3)
            if not name.endswith("_" + unit):
                fail(f"family {name} has unit {unit} but its name does not end in it")
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(f"not a sample line: {line!r}")
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = next((f for f in types for s in SUFFIXES.get(types[f], [""])
                       if name == f + s), None)
        if family is None:
            fail(f"sample {name} belongs to no declared family")
        pairs = LABEL.findall(labels)
        if labels and ",".join(f'{k}="{v}"' for k, v in pairs) != labels:
            fail(f"bad labels in {line!r}")
        v = float(value)
        if types[family] == "counter" and v < 0:
            fail(f"negative counter {line!r}")
        samples[(name, frozenset(pairs))] = v
    for f in types:
        if f not in helps:
            fail(f"family {f} has no HELP")
    # Histogram buckets are cumulative and end with +Inf == _count.
    buckets = {}
    for (name, labels), v in samples.items():
        if name.endswith("_bucket"):
            le = dict(labels)["le"]
            rest = frozenset(p for p in labels if p[0] != "le")
            buckets.setdefault((name[:-7], rest), []).append((float(le), v))
    if not buckets:
        fail("no histogram buckets")
    for (base, rest), bs in buckets.items():
        bs.sort()
        if any(later[1] < earlier[1] for earlier, later in zip(bs, bs[1:])):
            fail(f"{base} buckets are not cumulative")
        if bs[-1][0] != float("inf") or bs[-1][1] != samples[(base + "_count", rest)]:
            fail(f"{base}: the +Inf bucket is not the count")
    return samples


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def scrape(port):
    # What Prometheus sends: OpenMetrics preferred (without it the server answers the
    # Prometheus text format, see promtool_test.sh).
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    with urllib.request.urlopen(req, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("application/openmetrics-text"):
            fail(f"Content-Type {ctype!r}")
        return parse(r.read().decode())


def main():
    server = subprocess.Popen([sys.argv[1], "--port", "0", "--churn-ms", "100", "--seconds", "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+), (\d+) cores", line)
        if not m:
            fail(f"the server did not start: {line!r}")
        if int(m.group(2)) < 2:
            print("the runtime has one core: nothing to churn, skipped")
            sys.exit(77)
        port = int(m.group(1))
        first = scrape(port)
        walks0 = total(first, "hotcore_walk_seconds_count")
        parked0 = total(first, "hotcore_core_parked_seconds_total")
        # Wait on the counters, not on time: at most the server's life.
        deadline = time.monotonic() + 25
        while True:
            now = scrape(port)
            walks = total(now, "hotcore_walk_seconds_count")
            parked = total(now, "hotcore_core_parked_seconds_total")
            if walks >= walks0 + 10 and parked > parked0:
                break
            if time.monotonic() > deadline:
                fail(f"counters did not move: walks {walks0} -> {walks}, parked {parked0} -> {parked}")
            time.sleep(0.05)
        down = total({k: v for k, v in now.items() if ("dir", "down") in k[1]},
                     "hotcore_walk_seconds_count")
        if down == 0:
            fail("no walk down counted under churn")
        print(f"OK: {len(now)} samples; walks {walks0:.0f} -> {walks:.0f} ({down:.0f} down), "
              f"parked {parked0:.3f} -> {parked:.3f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)


main()
