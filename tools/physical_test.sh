#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/physical_test.sh — Description: the hotcore program while cpu1 is offlined and
# onlined by someone else: `hotcore soak --follow` keeps "lost 0 duplicated 0" while this
# script echoes 0 and 1 into cpu1/online; `hotcore cycle --physical` and `hotcore demo
# --physical` report the kernel's part and state; `hotcore restore` leaves an operator's
# offline CPU alone. As root only (skips with 77), holding
# /tmp/hotcore-cpu1.lock throughout, and cpu1 is always left online (trap).
# Usage: physical_test.sh path/to/hotcore
set -u

hotcore=${1:?usage: physical_test.sh path/to/hotcore}
online=/sys/devices/system/cpu/cpu1/online
[ "$(id -u)" -eq 0 ] || { echo "skipped: not root"; exit 77; }
[ -w "$online" ] || { echo "skipped: no writable $online"; exit 77; }
python3 -c 'import os, sys; sys.exit(0 if {0, 1} <= os.sched_getaffinity(0) else 1)' ||
  { echo "skipped: this process may not run on both cpu0 and cpu1 (taskset)"; exit 77; }

exec 9>/tmp/hotcore-cpu1.lock
flock 9
. "$(dirname "$0")/check_lib.sh"
trap 'echo 1 > "$online"; remove_outputs' EXIT
trap 'exit 1' INT TERM
echo 1 >"$online"

# Someone else offlines and onlines cpu1 while soak runs: offline 0.2 s at a time, at
# least twice, for about 4 s. (Under soak's load the kernel's first offline can take
# seconds: the loop counts cycles, not time alone.)
"$hotcore" soak --seconds 8 --churn-ms 0 --follow >"$out" 2>"$err" &
soak=$!
sleep 0.5
cycles=0
end=$((SECONDS + 4))
while [ "$cycles" -lt 2 ] || { [ "$SECONDS" -lt "$end" ] && [ "$cycles" -lt 6 ]; }; do
  echo 0 >"$online"
  sleep 0.2
  echo 1 >"$online"
  sleep 0.2
  cycles=$((cycles + 1))
done
wait "$soak"
rc=$?
echo "cpu1 offlined and onlined $cycles times under soak"
check "soak --follow exits 0 while cpu1 comes and goes" test "$rc" -eq 0
check "soak --follow: every task ran exactly once" grep -Eq '^submitted ([0-9]+) ran \1 lost 0 duplicated 0$' "$out"
check "cpu1 came and went at least twice" test "$cycles" -ge 2

# The kernel's own storm: stress-ng offlines and onlines cpu1 as fast as it can while soak
# churns cores every millisecond; nothing is lost, and core_up() of the offline CPU
# (-EHOSTDOWN) is the machine's state, not a failure.
if command -v stress-ng >/dev/null; then
  stress-ng --cpu-online 1 --pathological --timeout 10 >/dev/null 2>&1 &
  storm=$!
  run soak --seconds 10 --churn-ms 1 --follow
  wait "$storm"
  echo 1 >"$online"
  check "soak --follow beside stress-ng --cpu-online exits 0" test "$rc" -eq 0
  check "soak --follow beside stress-ng: lost 0 duplicated 0" grep -Eq '^submitted ([0-9]+) ran \1 lost 0 duplicated 0$' "$out"
  check "soak --follow beside stress-ng says how often the kernel took the CPU away" \
    grep -Eq 'the kernel took a CPU away [1-9][0-9]* times' "$err"
  check "soak --follow beside stress-ng prints no core_up failure" sh -c "! grep -Eq 'core_up\([0-9]' '$err'"
else
  echo "skip the stress-ng storm (stress-ng not installed)"
fi

run cycle --physical --count 5
check "cycle --physical exits 0" test "$rc" -eq 0
check "cycle --physical reports the kernel's part beside the runtime's" grep -Eq '^ +down +[0-9.]+ +[0-9.]+$' "$out"
check "cycle --physical has the cpu:physical row, marked kernel" grep -Eq 'cpu:physical +down .* kernel$' "$out"
check "cycle --physical splits the kernel's part by kernel state: sched:active down on cpuhp/1" \
  grep -Eq '^ +[0-9]+ +sched:active +down +cpuhp/1 +[0-9.]+ +[0-9.]+$' "$out"
check "cycle --physical: the kernel's cpu:bringup row on the way up" grep -Eq '^ +[0-9]+ +cpu:bringup +up ' "$out"
check "cycle --physical leaves no tracefs instance behind" \
  sh -c '! ls -d /sys/kernel/tracing/instances/hotcore-* 2>/dev/null'
check "cpu1 is online after cycle --physical" test "$(cat "$online")" -eq 1

run demo --physical
check "demo --physical exits 0" test "$rc" -eq 0
check "demo --physical: core 1 down shows the kernel's cpu1 offline" grep -q 'core_down(1) = 0: state 0 offline   kernel: cpu1/hotplug/state 0$' "$out"
check "demo --physical: core 1 up shows the kernel's cpu1 online" grep -Eq 'core_up\(1\) = 0: state 74 online   kernel: cpu1/hotplug/state [1-9][0-9]*$' "$out"
check "cpu1 is online after demo --physical" test "$(cat "$online")" -eq 1
check "demo --physical does one physical down/up: its cycles section is logical" \
  sh -c "! grep -q 'physical: the kernel takes the CPU offline' '$out'"

# hotcore restore: a CPU offlined by hand (no record under /run/hotcore) stays offline.
echo 0 >"$online"
run restore
check "restore exits 0 with an operator's offline CPU" test "$rc" -eq 0
check "restore says it leaves cpu1 alone" grep -q '^cpu1: offline without a record' "$out"
check "restore leaves cpu1 offline" test "$(cat "$online")" -eq 0
echo 1 >"$online"

finish
