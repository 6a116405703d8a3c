#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/topology_test.sh — Description: `hotcore topology` agrees with hwloc's own tools on
# this machine: its PU, core, package and NUMA node counts equal `hwloc-calc --number-of
# <type> all`, it prints one line per PU, the per-core policy gives one worker core per
# physical core, and a narrower affinity mask (taskset) gives fewer worker cores.
# Usage: topology_test.sh path/to/hotcore. Skips (77) without hwloc-calc.
set -u

hotcore=${1:?usage: topology_test.sh path/to/hotcore}
command -v hwloc-calc >/dev/null || { echo "skipped: no hwloc-calc (package hwloc)"; exit 77; }
failures=0

# check DESCRIPTION CONDITION... : counts and reports a failed condition.
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

# count FIELD TEXT : the number before "FIELD" on the summary line ("2 core(s)" -> 2).
count() { sed -n "1s/.* \([0-9][0-9]*\) $1.*/\1/p" <<<"$2"; }

out=$("$hotcore" topology)
rc=$?
check "topology exits 0" test "$rc" -eq 0
echo "$out" | head -n 1

pus=$(hwloc-calc --number-of pu all)
cores=$(hwloc-calc --number-of core all)
packages=$(hwloc-calc --number-of package all)
numa=$(hwloc-calc --number-of numanode all)
check "PU count equals hwloc-calc --number-of pu all ($pus)" test "$(count 'PU(s)' "$out")" = "$pus"
check "core count equals hwloc-calc --number-of core all ($cores)" test "$(count 'core(s),' "$out")" = "$cores"
check "package count equals hwloc-calc --number-of package all ($packages)" test "$(count 'package(s)' "$out")" = "$packages"
check "NUMA node count equals hwloc-calc --number-of numanode all ($numa)" test "$(count 'NUMA' "$out")" = "$numa"
check "one line per PU" test "$(grep -c '^  PU ' <<<"$out")" -eq "$pus"
check "caches are listed" grep -q '^  L[0-9]' <<<"$out"

# With every PU allowed, one worker core per PU, and per core with --per-core.
allowed=$(grep -c ' worker$' <<<"$out")
check "worker cores are the online, allowed PUs" test "$(count 'worker' "$out")" -eq "$allowed"
if [ "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status)" = "$(cat /sys/devices/system/cpu/online)" ]; then
  check "one worker core per PU when every PU is allowed" test "$allowed" -eq "$pus"
  per_core=$("$hotcore" topology --per-core)
  check "--per-core: one worker core per physical core ($cores)" test "$(count 'worker' "$per_core")" -eq "$cores"
fi

# A narrower affinity mask: only cpu0 is allowed.
narrow=$(taskset -c 0 "$hotcore" topology)
check "taskset -c 0: one worker core" test "$(count 'worker' "$narrow")" -eq 1
check "taskset -c 0: hwloc still counts every PU" test "$(count 'PU(s)' "$narrow")" = "$pus"

"$hotcore" topology --bogus >/dev/null 2>&1
check "topology --bogus exits 2" test "$?" -eq 2

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
