#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/cgroup_metrics_test.sh — Description: the HTTP server in a cgroup v1 cpu group
# of its own (hotcore-http-<pid>, quota 0.5 CPU per 100 ms, removed at the end) follows the
# quota by default (1 core up of its 2) and not with --no-follow (both up), and GET
# /metrics reports the group's cpu.stat: hotcore_cgroup_periods_total and
# hotcore_cgroup_throttled_periods_total lie between the file's values read before and
# after the scrape, with HELP lines. A cpu.stat it cannot read (an empty directory bound
# over the cpu hierarchy in a mount namespace of the server's own) leaves the three
# families out of every scrape, with one line on stderr, and the server keeps serving.
# Root only; skips (77) without root, the v1 cpu
# controller, CFS bandwidth, or a second core. Usage: cgroup_metrics_test.sh path/to/http_server
set -u
server=${1:?usage: cgroup_metrics_test.sh path/to/http_server}
[ "$(id -u)" -eq 0 ] || { echo "not root: skipped"; exit 77; }
base=/sys/fs/cgroup/cpu
[ -f "$base/cpu.cfs_quota_us" ] || { echo "no cgroup v1 cpu controller with CFS bandwidth: skipped"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "one CPU: nothing to follow: skipped"; exit 77; }
group=$base/hotcore-http-$$
log=$(mktemp)
pid=
empty=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  [ -d "$group" ] && rmdir "$group"
  [ -n "$empty" ] && rmdir "$empty" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT
mkdir "$group" && echo 100000 >"$group/cpu.cfs_period_us" && echo 50000 >"$group/cpu.cfs_quota_us" || exit 1
failures=0

# start [FLAGS...]: the server inside the group; sets pid and port.
start() {
  : >"$log"
  bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$group" \
    "$server" --port 0 --seconds 60 "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
  [ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
  cat "$log"
}
stop() { kill "$pid"; wait "$pid"; pid=; }

start
grep -q ', 2 cores (1 up), .*following the CPU quota' "$log" || { echo "FAIL the server does not follow the 0.5 CPU quota to 1 core"; failures=$((failures + 1)); }
python3 - "$port" "$group/cpu.stat" <<'PY' || failures=$((failures + 1))
import sys, urllib.request
port, stat = sys.argv[1], sys.argv[2]
def kernel():
    return dict((k, int(v)) for k, v in (l.split() for l in open(stat)))
for _ in range(50):  # activity in the group: periods go by
    urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=10).read()
before = kernel()
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read().decode()
after = kernel()
metric = dict(l.rsplit(" ", 1) for l in text.splitlines() if l.startswith("hotcore_cgroup_"))
print("cpu.stat before", before, "after", after)
print("/metrics:", metric)
failures = 0
for name, key in (("hotcore_cgroup_periods_total", "nr_periods"),
                  ("hotcore_cgroup_throttled_periods_total", "nr_throttled")):
    v = int(metric.get(name, "-1"))
    ok = before[key] <= v <= after[key] and ("# HELP %s " % name) in text
    print(("ok   " if ok else "FAIL ") + "%s = %d lies within cpu.stat's %s, with HELP" % (name, v, key))
    failures += not ok
secs = float(metric.get("hotcore_cgroup_throttled_seconds_total", "-1"))
ok = before["throttled_time"] / 1e9 <= secs <= after["throttled_time"] / 1e9
print(("ok   " if ok else "FAIL ") + "hotcore_cgroup_throttled_seconds_total = %g is throttled_time in seconds" % secs)
failures += not ok
ok = after["nr_periods"] > 0
print(("ok   " if ok else "FAIL ") + "the group's periods counted (%d)" % after["nr_periods"])
failures += not ok
sys.exit(1 if failures else 0)
PY
stop

start --no-follow
grep -q ', 2 cores (2 up), .*not following the CPU quota' "$log" || { echo "FAIL --no-follow still follows"; failures=$((failures + 1)); }
stop

if command -v unshare >/dev/null; then
  empty=$(mktemp -d)
  : >"$log"
  # The bind mount lives in the server's own mount namespace and goes with it.
  unshare -m --propagation private bash -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ \
    "$empty" "$base" "$server" --port 0 --seconds 60 --no-follow >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
  if [ -z "$port" ]; then
    echo "FAIL the server did not start in its mount namespace:"; cat "$log"; failures=$((failures + 1))
  else
    python3 - "$port" <<'PY' || failures=$((failures + 1))
import sys, urllib.request
port = sys.argv[1]
texts = [urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read().decode()
         for _ in range(3)]
ok = all("hotcore_tasks_run_total" in t and "hotcore_cgroup_" not in t for t in texts)
print(("ok   " if ok else "FAIL ") + "cpu.stat unreadable: 3 scrapes answered without the cgroup families")
sys.exit(0 if ok else 1)
PY
    stop
    n=$(grep -c "leaves out the cgroup's throttling" "$log")
    grep "leaves out the cgroup's throttling" "$log"
    [ "$n" -eq 1 ] && echo "ok   the error is reported once" || { echo "FAIL the error was reported $n times"; failures=$((failures + 1)); }
  fi
  rmdir "$empty"
  empty=
fi
echo "failures: $failures"
exit $((failures > 0))
