#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/json_test.sh — every --json output of the built `hotcore` parses with python3's
# json module and holds what its text twin holds; every command takes --json and, given a
# bad option, prints one JSON error object (errno, message) on stdout and the same one
# line on stderr; demo and restore wrap their lines; cycle --trace-out writes a
# trace-event file Perfetto can open, and a path it cannot write (or stdout under --json)
# is refused before the run. Usage: json_test.sh path/to/hotcore
set -u

hotcore=${1:?usage: json_test.sh path/to/hotcore}
. "$(dirname "$0")/check_lib.sh"
trace=$(mktemp)
trap 'remove_outputs; rm -f "$trace"' EXIT

# cpu1 must stay online while the cycles run: other tests take it offline only while they
# hold /tmp/hotcore-cpu1.lock, so hold it too; and run on every online CPU (a CPU that
# went offline earlier may have left this process's affinity mask).
exec 9>/tmp/hotcore-cpu1.lock
flock 9
online=$(cat /sys/devices/system/cpu/online)
# run ARGS...: as check_lib.sh's run(), on every online CPU.
run() {
  taskset -c "$online" "$hotcore" "$@" >"$out" 2>"$err"
  rc=$?
}

# json EXPR: python3 parses $out as JSON (as `d`) and EXPR must hold for it.
json() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$out" "$1"
}

run states --json
check "states --json exits 0" test "$rc" -eq 0
check "states --json parses and lists sched:active" \
  json 'any(r["name"] == "sched:active" and isinstance(r["state"], int) for r in d)'
check "states --json has one row per line of states" \
  test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out")" \
       -eq "$("$hotcore" states | wc -l)"

run topology --json
check "topology --json exits 0" test "$rc" -eq 0
check "topology --json parses: PUs, worker cores among them" \
  json 'd["pus"] and set(d["worker_cores"]) <= {p["os_index"] for p in d["pus"] if p["worker"]}'

run cycle --count 20 --states 2 --json --trace-out "$trace"
check "cycle --json exits 0" test "$rc" -eq 0
check "cycle --json parses: one core, latency, both empty states up and down" \
  json 'len(d) == 1 and d[0]["count"] == 20 and d[0]["latency_ns"]["down+up"]["median"] > 0 and
        {(r["name"], r["dir"]) for r in d[0]["per_state"]} >= {("cycle:empty0", "up"),
        ("cycle:empty0", "down"), ("cycle:empty1", "up"), ("cycle:empty1", "down")}'
check "cycle --json splits each half: the walk, what lies outside it, its callbacks" \
  json 'all(d[0]["split_ns"][h]["walk"] > 0 and d[0]["split_ns"][h]["outside_walk"] > 0 and
            0 < d[0]["split_ns"][h]["callbacks"] for h in ("down", "up"))'
check "cycle --json rows count the traced cycles" \
  json 'all(r["count"] == 20 for r in d[0]["per_state"] if r["name"].startswith("cycle:empty"))'
check "cycle --trace-out: 20 slices per empty state and direction, worker and hotplug tracks" \
  python3 -c 'import json, sys, collections
t = json.load(open(sys.argv[1]))["traceEvents"]
x = collections.Counter((e["name"], e["args"]["dir"]) for e in t if e["ph"] == "X")
names = {e["args"]["name"] for e in t if e["ph"] == "M"}
ok = all(x[("cycle:empty%d" % i, d)] == 20 for i in (0, 1) for d in ("up", "down"))
ok &= x[("taking tasks", "-")] == 21  # 20 cycles cut the active time into 21 slices
ok &= any(n.endswith("hotplug thread") for n in names) and any(n.endswith("worker") for n in names)
ok &= all(e["dur"] >= 0 for e in t if e["ph"] == "X")
sys.exit(0 if ok else 1)' "$trace"

if [ "$(nproc --all)" -ge 2 ] && [ "$online" != 0 ]; then
  run cycle --count 5 --core 0,1 --json
  check "cycle --json with two cores is an array of two objects" json 'len(d) == 2'
fi

run cycle --count 5 --trace-out /nonexistent/dir/trace.json
check "cycle --trace-out into a missing directory exits 1" test "$rc" -eq 1
check "... before the run: nothing printed on stdout" test ! -s "$out"
run cycle --count 5 --json --trace-out /nonexistent/dir/trace.json
check "cycle --json --trace-out into a missing directory: a JSON error, ENOENT, exit 1" \
  json 'd["error"]["errno"] == 2 and d["error"]["name"] == "ENOENT" and "output" not in d'
check "... exit 1" test "$rc" -eq 1
run cycle --count 5 --json --trace-out /dev/stdout
check "cycle --json --trace-out /dev/stdout is refused: a JSON error naming it, exit 2" \
  json 'd["error"]["errno"] == 22 and "standard output" in d["error"]["message"]'
check "... exit 2" test "$rc" -eq 2

# Every command takes --json; a bad option is one JSON error object on stdout (EINVAL) and
# the same message as the one line on stderr.
for cmd in states topology cycle demo soak follow-quota restore; do
  run "$cmd" --json --no-such-option
  check "$cmd --json --no-such-option: exit 2, one JSON error (EINVAL) with stderr's one line" \
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["error"]
err = open(sys.argv[2]).read().splitlines()
sys.exit(0 if d["errno"] == 22 and d["name"] == "EINVAL" and d["command"] == sys.argv[3] and
         err == [d["message"]] and "--no-such-option" in d["message"] else 1)' "$out" "$err" "$cmd"
  check "... exit 2" test "$rc" -eq 2
done

run demo --json
check "demo --json exits 0" test "$rc" -eq 0
check "demo --json parses: its text lines, the state table among them" \
  json 'd["command"] == "demo" and any("sched:active" in l for l in d["lines"])'
run restore --json
if [ "$(id -u)" -eq 0 ]; then
  check "restore --json as root parses: its report lines" \
    json 'd["command"] == "restore" and len(d["lines"]) >= 1'
else
  check "restore --json without root: a JSON error saying it needs root" \
    json '"needs root" in d["error"]["message"]'
fi

run soak --seconds 1 --json
check "soak --json exits 0" test "$rc" -eq 0
check "soak --json parses: nothing lost or run twice" \
  json 'd["submitted"] > 0 and d["ran"] == d["submitted"] and d["lost"] == 0 and d["duplicated"] == 0'

run follow-quota --seconds 1 --json
check "follow-quota --json exits 0" test "$rc" -eq 0
check "follow-quota --json parses: counters and a change list" \
  json 'd["checks"] > 0 and isinstance(d["changes"], list) and "median" in d["reaction_ns"]'

finish
