#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/usdt_test.sh — a real tracer on the USDT probes: bpftrace attaches to hotcore's
# probes in libhotcore.so while `hotcore cycle` runs, and the events it counts must equal
# the cycles times the states. Root only; skips (77) without bpftrace, BTF or uprobes.
# Usage: usdt_test.sh HOTCORE LIBHOTCORE
set -u
hotcore=$1
lib=$(readlink -f "$2")

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (bpftrace)"
command -v bpftrace >/dev/null || skip "bpftrace is not installed"
[ -r /sys/kernel/btf/vmlinux ] || skip "the kernel has no BTF"
[ -d /sys/bus/event_source/devices/uprobe ] || skip "the kernel has no uprobes"
readelf -n "$lib" | grep -q 'Name: cpuhp_enter' || skip "$lib was built without <sys/sdt.h>"

# cpu1 must stay online while the cycles run: other tests take it offline only while they
# hold /tmp/hotcore-cpu1.lock, so hold it too; and run on every online CPU (a CPU that
# went offline earlier may have left this process's affinity mask).
exec 9>/tmp/hotcore-cpu1.lock
flock -w 150 9 || fail "another test held /tmp/hotcore-cpu1.lock for 150 s"
online=$(cat /sys/devices/system/cpu/online)
hotcore_cmd() { taskset -c "$online" "$hotcore" "$@"; }
workers=$(hotcore_cmd topology --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["worker_cores"]))')
[ "$workers" -ge 2 ] || skip "the runtime would have $workers worker core(s): cycle needs two"

# Every probe is in the library, with a semaphore.
for p in cpuhp_enter cpuhp_multi_enter cpuhp_exit core_active core_inactive task_moved \
         quota_change machine_event; do
  readelf -n "$lib" | grep -q "Name: $p\$" || fail "readelf -n: no probe $p"
done
readelf -n "$lib" | grep -q 'Semaphore: 0x0*[1-9a-f]' || fail "readelf -n: the probes have no semaphores"

# bpftrace reads tracefs for some probe types: mount it if nobody did, and only then
# unmount it again.
mounted=0
tmp=$(mktemp -d)
bt=
cleanup() {
  [ -n "$bt" ] && kill -INT "$bt" 2>/dev/null && wait "$bt" 2>/dev/null
  [ "$mounted" -eq 1 ] && umount /sys/kernel/tracing
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP  # meson's timeout sends SIGTERM: clean up on it too
if ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing || skip "cannot mount tracefs"
  mounted=1
fi

env -u MALLOC_PERTURB_ timeout 60 bpftrace -l "usdt:$lib:*" >"$tmp/list" 2>&1 || skip "bpftrace -l cannot list USDT probes: $(head -n 1 "$tmp/list")"
grep -q 'hotcore:cpuhp_exit' "$tmp/list" || fail "bpftrace -l does not list hotcore:cpuhp_exit"

count=10 states=4 warmup=50
# cycle runs warmup + count timed + count traced + count split cycles of the last core;
# registering each empty state runs its startup once on the core and removing it its
# teardown once.
cycles=$((warmup + 3 * count))
expect=$((states * (2 * cycles + 2)))

# Probes on the library file: the kernel raises their semaphores in every process that
# maps it (bpftrace -c would look for the library in the child before it is loaded).
# Maps are keyed by pid; the check reads the cycle's own. Each probe also says once that
# it fired: bpftrace prints "Attaching N probes" before it attaches them, so only an
# event seen on every probe shows the tracer is ready.
cat >"$tmp/count.bt" <<BT
usdt:$lib:hotcore:cpuhp_enter /strncmp(str(arg3), "cycle:empty", 11) == 0/ {
  @enter[pid, arg0] = count();
  if (@ready_enter == 0) { @ready_enter = 1; printf("ready:enter\\n"); }
}
usdt:$lib:hotcore:cpuhp_exit /strncmp(str(arg4), "cycle:empty", 11) == 0 && arg3 == 0/ {
  @exit_ok[pid, arg0] = count();
  if (@ready_exit == 0) { @ready_exit = 1; printf("ready:exit\\n"); }
}
usdt:$lib:hotcore:core_inactive {
  @inactive[pid, arg0] = count();
  if (@ready_inactive == 0) { @ready_inactive = 1; printf("ready:inactive\\n"); }
}
usdt:$lib:hotcore:core_active {
  @active[pid, arg0] = count();
  if (@ready_active == 0) { @ready_active = 1; printf("ready:active\\n"); }
}
BT
# meson sets MALLOC_PERTURB_ for tests; bpftrace 0.17 under it counts nothing, or hangs
# at SIGINT. The perturbation is meant for hotcore, not for the tracer. timeout forwards
# SIGINT to bpftrace, and ends it itself after 120 s.
timeout -s INT 120 env -u MALLOC_PERTURB_ bpftrace -f json "$tmp/count.bt" >"$tmp/out" 2>"$tmp/err" &
bt=$!
ready() { [ "$(grep -c '"ready:' "$tmp/out" 2>/dev/null)" -eq 4 ]; }
# Short warm-up cycles (other pids, left out of the check) until every probe has fired.
for _ in $(seq 300); do
  ready && break
  kill -0 "$bt" 2>/dev/null || fail "bpftrace failed: $(tail -n 3 "$tmp/err")"
  hotcore_cmd cycle --count 1 --states 1 >/dev/null 2>&1 || fail "warm-up hotcore cycle failed"
done
ready || fail "bpftrace saw no event on some probe after 300 warm-up cycles: $(tail -n 3 "$tmp/err")"

taskset -c "$online" "$hotcore" cycle --count $count --states $states >"$tmp/cycle" 2>&1 &  # taskset execs it: $! is its pid
cycle_pid=$!
timeout 60 tail --pid="$cycle_pid" -f /dev/null || { kill -KILL "$cycle_pid"; fail "hotcore cycle ran over 60 s"; }
wait "$cycle_pid" || fail "hotcore cycle failed: $(cat "$tmp/cycle")"
kill -INT "$bt"
wait "$bt"
bt=
python3 - "$tmp/out" "$expect" "$cycles" "$cycle_pid" <<'PY' || exit 1
import json, sys
maps = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("type") == "map":
        maps.update(r["data"])
expect, cycles, pid = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("bpftrace maps:", maps)
def per_core(name):
    # keys "pid,core": the cycle's own events only
    m = maps.get("@" + name, {})
    return {int(k.split(",")[1]): v for k, v in m.items() if int(k.split(",")[0]) == pid}
enter, exit_ok = per_core("enter"), per_core("exit_ok")
inactive, active = per_core("inactive"), per_core("active")
if not enter:
    sys.exit("FAIL: no hotcore:cpuhp_enter event counted")
core = max(enter)  # cycle takes the last core
ok = True
def check(what, got, want):
    global ok
    print(f"{what}: {got} (expected {want})")
    ok &= got == want
check("cpuhp_enter on cycle:empty states, core %d" % core, enter.get(core, 0), expect)
check("cpuhp_exit with result 0 on cycle:empty states, core %d" % core, exit_ok.get(core, 0), expect)
# the core became inactive in every cycle and at the end
check("core_inactive on core %d" % core, inactive.get(core, 0), cycles + 1)
# the core became active at start and after every cycle (the tracer is attached before the
# cycle starts, so the first one inside create() is counted too)
check("core_active on core %d" % core, active.get(core, 0), cycles + 1)
sys.exit(0 if ok else "FAIL: counts differ")
PY
echo "PASS"
