# SPDX-License-Identifier: MIT
# bench/latency_smoke.py — the latency benchmark's programs work together (suite bench):
# pool_server with each pool answers bench/loadgen for a second and a half at a low rate;
# loadgen's JSON parses, sent == completed + errors, no error, percentiles in order; bad
# flags give one line and exit 2.
#   latency_smoke.py LOADGEN POOL_SERVER
import json
import re
import signal
import subprocess
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def start_server(pool_server, pool):
    proc = subprocess.Popen([pool_server, "--pool", pool, "--port", "0", "--seconds", "60",
                             "--work-us", "100"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "pool_server: listening on 127.0.0.1:PORT, ..."
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        proc.wait()
        fail("%s: no listening line, got %r" % (pool, line))
    return proc, int(m.group(1))


def check_report(pool, r):
    lat = r["latency_us"]
    if r["sent"] != r["completed"] + r["errors"]:
        fail("%s: sent %d != completed %d + errors %d" % (pool, r["sent"], r["completed"], r["errors"]))
    if r["errors"] != 0 or r["connect_errors"] != 0:
        fail("%s: errors %d, connect errors %d" % (pool, r["errors"], r["connect_errors"]))
    if r["completed"] < 50:  # 60/s for 1.5 s: about 90 due
        fail("%s: only %d requests completed" % (pool, r["completed"]))
    order = [lat["p50"], lat["p90"], lat["p99"], lat["p999"], lat["max"]]
    if order != sorted(order) or lat["p50"] <= 0:
        fail("%s: percentiles out of order or zero: %s" % (pool, order))
    if sum(s["count"] for s in r["per_second"]) != r["completed"]:
        fail("%s: the per-second counts do not add up to completed" % pool)


def run_pool(loadgen, pool_server, pool):
    proc, port = start_server(pool_server, pool)
    try:
        out = subprocess.run([loadgen, "--port", str(port), "--rate", "60", "--duration", "1.5",
                              "--warmup", "0.3", "--connections", "4", "--arrival", "poisson"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            fail("%s: loadgen exited %d: %s" % (pool, out.returncode, out.stderr.strip()))
        r = json.loads(out.stdout)
        check_report(pool, r)
        print("%s: %d requests, p50 %d us, p99 %d us" % (pool, r["completed"], r["latency_us"]["p50"],
                                                           r["latency_us"]["p99"]))
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    if rc != 0:
        fail("%s: pool_server exited %d after SIGTERM" % (pool, rc))


def check_bad_flags(loadgen, pool_server):
    for cmd in ([loadgen, "--port", "1", "--rate", "-1"], [loadgen, "--port", "1", "--rate", "1", "--host", "10.0.0.1"],
                [pool_server, "--pool", "gpu"], [pool_server, "--pool", "hotcore", "--cores", "0"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = out.stderr.strip().splitlines()
        if out.returncode != 2 or len(lines) != 1:
            fail("%s: exit %d with %r, want exit 2 and one line" % (" ".join(cmd[1:]), out.returncode, out.stderr))


def main(loadgen, pool_server):
    check_bad_flags(loadgen, pool_server)
    for pool in ("hotcore", "tbb"):
        run_pool(loadgen, pool_server, pool)
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:3])
