#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/latency_driver.py — the latency benchmark (docs/latency.md): servers in a CPU-limited
# cgroup, bench/loadgen outside it, a matrix of limits x offered loads x servers (throughput,
# p50/p99/p99.9/max, CPU per request, throttling), a cross-check with `hey`, a resize under
# load (1 -> 2 -> 1.5 -> 1 CPU, through the cgroup or `runc update`), JSON then PNGs.
#   latency_driver.py [--build DIR] [--out DIR] [--servers a,b] [--limits none,1.0,1.5]
#                     [--loads 0.3,0.6] [--seconds S] [--hey] [--resize] [--runc] [--no-matrix]
#   latency_driver.py --plots-only OUT/latency_results.json
# `latency_driver.py --all --out docs` makes every figure and table of docs/latency.md.
import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import latency_cgroup  # noqa: E402
import latency_runc  # noqa: E402
import latency_summary  # noqa: E402
from latency_servers import SERVERS, Server, free_port, wait_listening  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MACHINE_CPUS = os.cpu_count() or 2


def parse_args(argv):
    ap = argparse.ArgumentParser(description="hotcore latency benchmark driver")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--out", default=os.path.join(REPO, "build", "latency"))
    ap.add_argument("--log", default=os.path.join(REPO, "build", "latency_servers.log"),
                    help="the servers' output (appended)")
    ap.add_argument("--servers", default="hotcore-follow,hotcore-fixed,tbb,nginx")
    ap.add_argument("--limits", default="none,1.0,1.5")
    ap.add_argument("--loads", default="0.3,0.45,0.6,0.75,0.9,0.95")
    ap.add_argument("--seconds", type=float, default=6.0, help="measured seconds per point")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--work-us", type=float, default=300.0)
    ap.add_argument("--ways", type=int, default=4)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--arrival", choices=["poisson", "constant"], default="poisson")
    ap.add_argument("--slo-ms", type=float, default=5.0)
    ap.add_argument("--no-matrix", action="store_true", help="skip the matrix")
    ap.add_argument("--hey", action="store_true", help="cross-check one point with hey")
    ap.add_argument("--resize", action="store_true", help="the resize under load, by cgroup writes")
    ap.add_argument("--runc", action="store_true", help="the resize under load in a runc container")
    ap.add_argument("--resize-servers", default="hotcore-follow,hotcore-poll1s,hotcore-fixed")
    ap.add_argument("--resize-load", type=float, default=0.6, help="share of 1 CPU")
    ap.add_argument("--step-s", type=float, default=5.0)
    ap.add_argument("--all", action="store_true",
                    help="the matrix, --hey, --resize and --runc: every figure of docs/latency.md")
    ap.add_argument("--lock-wait", type=float, default=900.0,
                    help="seconds to wait for %s (cpu1 kept online during the run)" % CPU1_LOCK)
    ap.add_argument("--plots-only", metavar="JSON")
    a = ap.parse_args(argv)
    if a.all:
        a.hey = a.resize = a.runc = True
    bad = [s for s in a.servers.split(",") + a.resize_servers.split(",") if s not in SERVERS]
    if bad:
        ap.error("unknown server %s (known: %s)" % (bad[0], ", ".join(SERVERS)))
    try:
        a.limit_list = [None if x == "none" else float(x) for x in a.limits.split(",")]
        a.load_list = [float(x) for x in a.loads.split(",")]
    except ValueError as e:
        ap.error("--limits/--loads: %s" % e)
    if any(x is not None and not 0.01 <= x <= 64 for x in a.limit_list):
        ap.error("--limits: each limit is 'none' or in [0.01, 64] CPUs")
    if any(not 0 < x <= 2 for x in a.load_list) or not 0 < a.resize_load <= 2:
        ap.error("--loads/--resize-load: each load is a share of the limit in (0, 2]")
    if not 0.1 <= a.seconds <= 600 or not 0 <= a.warmup <= 60 or not 0.5 <= a.step_s <= 60:
        ap.error("--seconds in [0.1, 600], --warmup in [0, 60], --step-s in [0.5, 60]")
    if not 1 <= a.connections <= 1024 or not 1 <= a.ways <= 256 or not 0 < a.work_us <= 1e5:
        ap.error("--connections in [1, 1024], --ways in [1, 256], --work-us in (0, 1e5]")
    return a


CPU1_LOCK = "/tmp/hotcore-cpu1.lock"  # held by whoever takes cpu1 offline (tests, `hotcore cycle`)


LOCK_WAIT_S = [900.0]  # --lock-wait


@contextlib.contextmanager
def cpus_online():
    """Holds CPU1_LOCK around one measurement (a point, a resize run), so that no cooperating
    process takes a CPU offline under it; between measurements others may."""
    f = lock_cpu1(LOCK_WAIT_S[0])
    try:
        yield
    finally:
        f.close()


def lock_cpu1(wait_s):
    f = open(CPU1_LOCK, "a")
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise RuntimeError("%s still held after %.0f s: another process takes cpu1 "
                                   "offline" % (CPU1_LOCK, wait_s))
            if not told:
                print("waiting for %s (another process takes cpu1 offline)" % CPU1_LOCK, flush=True)
                told = True
            time.sleep(1)
    with open("/sys/devices/system/cpu/online") as on, open("/sys/devices/system/cpu/present") as pr:
        online, present = on.read().strip(), pr.read().strip()
    if online != present:
        f.close()
        raise RuntimeError("CPUs %s online of %s present: bring them online first" % (online, present))
    return f


def stop_on_signals():
    """SIGTERM/SIGHUP end the run like Ctrl-C: every finally block runs."""
    def handler(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def ahead():
    """A client's preexec_fn: nice -10, like the server's group weight (latency_cgroup)."""
    os.nice(-10)


def rate_of(a, limit, load):
    cpus = MACHINE_CPUS if limit is None else limit
    return load * cpus * 1e6 / (a.ways * a.work_us)


def loadgen(a, port, rate, seconds, warmup, arrival=None):
    cmd = [os.path.join(a.build, "bench", "loadgen"), "--port", str(port), "--rate", "%.3f" % rate,
           "--duration", str(seconds), "--warmup", str(warmup), "--connections", str(a.connections),
           "--arrival", arrival or a.arrival, "--drain", "5"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, preexec_fn=ahead,
                         timeout=seconds + warmup + 30)
    return json.loads(out.stdout)


def server_args(a, iters):
    return ["--work-us", str(a.work_us), "--ways", str(a.ways), "--iters-per-us", "%.3f" % iters]


def measure_point(a, iters, server, limit, load):
    """One point: a fresh group and server, a warm-up run, then the measured run with
    cpu.stat and CPU usage read just before and after it."""
    rate = rate_of(a, limit, load)
    group = latency_cgroup.CpuGroup(server)
    try:
        group.set_limit(limit)
        log = a.log
        with Server(server, group, a.build, server_args(a, iters), a.seconds + a.warmup + 60, log) as s:
            if a.warmup > 0:
                loadgen(a, s.port, rate, a.warmup, 0)
            before = group.snapshot()
            r = loadgen(a, s.port, rate, a.seconds, 0)
            d = latency_cgroup.delta(before, group.snapshot())
    finally:
        group.remove()
    done = max(1, r["completed"])
    lat = r["latency_us"]
    point = {"server": server, "limit": limit, "load": load, "rate": rate,
             "throughput_rps": r["throughput_rps"], "sent": r["sent"], "completed": r["completed"],
             "errors": r["errors"] + r["connect_errors"], "p50_us": lat["p50"], "p99_us": lat["p99"],
             "p999_us": lat["p999"], "max_us": lat["max"],
             "cpu_us_per_request": d["usage_us"] / done, "proc_cpu_us_per_request": d["proc_us"] / done,
             "nr_periods": d["nr_periods"], "nr_throttled": d["nr_throttled"],
             "throttled_ms": d["throttled_us"] / 1000, "interval_s": d["t"],
             "loadavg_1m": os.getloadavg()[0]}  # the machine's business besides the run
    print("%-15s limit %-4s load %3.0f%% %6.0f/s: p50 %6.2f p99 %7.2f p99.9 %7.2f max %7.2f ms, "
          "%5.0f us CPU/req, throttled %d/%d, errors %d" %
          (server, limit or "none", 100 * load, rate, lat["p50"] / 1e3, lat["p99"] / 1e3,
           lat["p999"] / 1e3, lat["max"] / 1e3, point["cpu_us_per_request"], d["nr_throttled"],
           d["nr_periods"], point["errors"]), flush=True)
    return point


def hey_percentiles(text):
    out = {}
    for pct, secs in re.findall(r"^\s*(\d+)%% in ([0-9.]+) secs".replace("%%", "%"), text, re.M):
        out["p" + pct] = float(secs) * 1e6
    m = re.search(r"Slowest:\s*([0-9.]+) secs", text)
    if m:
        out["max"] = float(m.group(1)) * 1e6
    m = re.search(r"Requests/sec:\s*([0-9.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    return out


def cross_check_hey(a, iters, server="tbb", limit=None, load=0.45):
    """The same point with loadgen (constant arrivals) and with hey (-q per worker: a
    closed loop of c workers, each at rate/c)."""
    rate, seconds, workers = rate_of(a, limit, load), max(2, int(a.seconds)), 8
    group = latency_cgroup.CpuGroup("hey")
    try:
        group.set_limit(limit)
        with Server(server, group, a.build, server_args(a, iters), 3 * seconds + 60,
                    a.log) as s:
            loadgen(a, s.port, rate, a.warmup or 1, 0)
            ours = loadgen(a, s.port, rate, seconds, 0, arrival="constant")
            text = subprocess.run(["hey", "-z", "%ds" % seconds, "-c", str(workers), "-q",
                                   "%.2f" % (rate / workers), "http://127.0.0.1:%d/" % s.port],
                                  capture_output=True, text=True, check=True, preexec_fn=ahead,
                                  timeout=seconds + 60).stdout
    finally:
        group.remove()
    theirs = hey_percentiles(text)
    res = {"server": server, "limit": limit, "load": load, "rate": rate, "seconds": seconds,
           "hey_workers": workers, "loadgen": ours["latency_us"], "loadgen_rps": ours["throughput_rps"],
           "hey": theirs}
    print("hey cross-check %s at %.0f/s: loadgen p50 %.2f p99 %.2f ms; hey p50 %.2f p99 %.2f ms" %
          (server, rate, ours["latency_us"]["p50"] / 1e3, ours["latency_us"]["p99"] / 1e3,
           theirs.get("p50", 0) / 1e3, theirs.get("p99", 0) / 1e3), flush=True)
    return res


STEPS = [1.0, 2.0, 1.5, 1.0]  # CPUs, one every --step-s


def pool_cores(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=1) as r:
            return json.loads(r.read())["cores"]
    except (OSError, ValueError, KeyError):
        return None


def step_limits(a, port, group, set_limit, t0):
    """Steps the limit through STEPS at t0 + i * step_s, sampling the pool's cores and the
    group's throttling every 250 ms; returns (steps, samples)."""
    steps, samples, end = [], [], t0 + len(STEPS) * a.step_s
    first = group.snapshot()
    while time.monotonic() < end:
        now = time.monotonic() - t0
        i = int(now // a.step_s)
        if i >= len(steps) and i < len(STEPS):
            if i > 0:
                set_limit(STEPS[i])
            steps.append({"t": i * a.step_s, "cpus": STEPS[i], "set_at": now})
        snap = group.snapshot()
        samples.append({"t": now, "cores": pool_cores(port),
                        "nr_throttled": snap["nr_throttled"] - first["nr_throttled"]})
        next_step = t0 + len(steps) * a.step_s  # wake for the next step on time
        time.sleep(max(0.0, min(time.monotonic() + 0.25, next_step, end) - time.monotonic()))
    return steps, samples


def resize_run(a, iters, server, via):
    """One configuration through the steps, by cgroup writes or by `runc update`."""
    rate, seconds = a.resize_load * 1e6 / (a.ways * a.work_us), len(STEPS) * a.step_s
    log = a.log
    tmp = tempfile.mkdtemp(prefix="hotcore-bench-")
    group, container, srv = None, None, None
    try:
        if via == "cgroup":
            group = latency_cgroup.CpuGroup(server)
            group.set_limit(STEPS[0])
            srv = Server(server, group, a.build, server_args(a, iters), seconds + 60, log).__enter__()
            port, set_limit = srv.port, group.set_limit
        else:
            port, leaf = free_port(), "hotcore-bench-runc-%d" % os.getpid()
            cmd = [os.path.join(os.path.realpath(a.build), "bench", "pool_server"), *SERVERS[server],
                   *server_args(a, iters), "--port", str(port), "--seconds", str(int(seconds + 60))]
            latency_runc.write_bundle(tmp, a.build, leaf, int(STEPS[0] * latency_runc.PERIOD_US), cmd)
            container = latency_runc.Container(tmp, leaf, log)
            wait_listening(port, None)
            group, set_limit = latency_cgroup.CpuGroup(server, leaf=leaf), container.update
        gen = subprocess.Popen([os.path.join(a.build, "bench", "loadgen"), "--port", str(port),
                                "--rate", "%.3f" % rate, "--duration", str(seconds), "--warmup", "0",
                                "--connections", str(a.connections), "--arrival", a.arrival],
                               stdout=subprocess.PIPE, text=True, preexec_fn=ahead)
        try:
            steps, samples = step_limits(a, port, group, set_limit, time.monotonic())
            out, _ = gen.communicate(timeout=seconds + 30)
        finally:
            if gen.poll() is None:
                gen.kill()
                gen.wait()
    finally:
        if srv:
            srv.stop()
        if container:
            container.delete()
        if group:
            group.remove()
        subprocess.run(["rm", "-rf", tmp], check=False)
    r = json.loads(out)
    print("resize %-15s via %s: p99 %.2f ms, max %.2f ms, p99 per second (ms): %s" %
          (server, via, r["latency_us"]["p99"] / 1e3, r["latency_us"]["max"] / 1e3,
           " ".join("%.1f" % (s["p99_us"] / 1e3) for s in r["per_second"])), flush=True)
    return {"server": server, "latency_us": r["latency_us"], "errors": r["errors"],
            "per_second": r["per_second"], "steps": steps, "samples": samples}


def resize(a, iters, via, servers):
    runs = []
    for s in servers:
        with cpus_online():
            runs.append(resize_run(a, iters, s, via))
    return {"via": via, "rate": a.resize_load * 1e6 / (a.ways * a.work_us), "step_s": a.step_s,
            "steps": [{"t": i * a.step_s, "cpus": c} for i, c in enumerate(STEPS)], "runs": runs}


def calibrate(a):
    out = subprocess.run([os.path.join(a.build, "bench", "pool_server"), "--calibrate"],
                         capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout)


def outputs(result, out_dir):
    """OUT/latency_tables.md and the PNGs from the result."""
    with open(os.path.join(out_dir, "latency_tables.md"), "w") as f:
        f.write(latency_summary.markdown(result) + "\n")
    try:
        import latency_plots  # matplotlib (python3-matplotlib): only for the PNGs
    except ImportError as e:
        print("no PNGs: %s" % e)
        return
    made = []
    if result.get("points"):
        latency_plots.plot_latency(result, os.path.join(out_dir, "latency_p99.png"))
        latency_plots.plot_capacity(result, os.path.join(out_dir, "latency_capacity.png"))
        made += ["latency_p99.png", "latency_capacity.png"]
    for key, name in (("resize", "latency_resize.png"), ("resize_runc", "latency_resize_runc.png")):
        if result.get(key):
            latency_plots.plot_resize(result[key], os.path.join(out_dir, name), result["stamp"])
            made.append(name)
    print("wrote %s in %s" % (", ".join(made) or "no PNG", out_dir))


def machine():
    try:
        with open("/etc/debian_version") as f:
            distro = "Debian " + f.read().strip()
    except OSError:
        distro = platform.system()
    return "%s, %d CPUs, %s, Linux %s" % (platform.node(), MACHINE_CPUS, distro, platform.release())


def git_commit():
    """The source the servers were built from (the runtime's scheduler changes their figures)."""
    try:
        return subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run(a):
    result = {"command": " ".join(["bench/latency_driver.py"] + sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(),
              "commit": git_commit(), "slo_ms": a.slo_ms, "work_us": a.work_us, "ways": a.ways, "arrival": a.arrival,
              "connections": a.connections, "seconds": a.seconds,
              "cgroup": "v2" if latency_cgroup.cgroup_v2() else "v1",
              "servers": a.servers.split(","), "points": []}
    result["stamp"] = "%s — %s — %s — source %s" % (result["command"], result["machine"], result["date"],
                                                      result["commit"])
    result["iters_per_us"] = iters = calibrate(a)
    path = os.path.join(a.out, "latency_results.json")
    try:
        if not a.no_matrix:
            for limit in a.limit_list:
                for load in a.load_list:
                    for server in result["servers"]:
                        with cpus_online():
                            result["points"].append(measure_point(a, iters, server, limit, load))
        if a.hey:
            with cpus_online():
                result["hey"] = cross_check_hey(a, iters)
        if a.resize:
            result["resize"] = resize(a, iters, "cgroup", a.resize_servers.split(","))
        if a.runc:
            result["resize_runc"] = resize(a, iters, "runc update", ["hotcore-follow"])
    finally:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        print("wrote %s" % path)
    outputs(result, a.out)


def main(argv):
    a = parse_args(argv)
    if a.plots_only:
        with open(a.plots_only) as f:
            outputs(json.load(f), os.path.dirname(os.path.abspath(a.plots_only)))
        return 0
    if os.geteuid() != 0:
        sys.exit("latency_driver.py: needs root (it makes hotcore-bench-* cgroups)")
    os.makedirs(a.out, exist_ok=True)
    stop_on_signals()
    LOCK_WAIT_S[0] = a.lock_wait
    try:
        run(a)
    except KeyboardInterrupt as e:
        sys.exit("latency_driver.py: stopped (%s); servers stopped, cgroups removed" % (e or "Ctrl-C"))
    except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
        sys.exit("latency_driver.py: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
