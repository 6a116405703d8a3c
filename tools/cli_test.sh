#!/usr/bin/env bash
# tools/cli_test.sh — Description: runs the built `hotcore` binary and checks each
# subcommand's output and exit status. Usage: cli_test.sh path/to/hotcore
set -u

hotcore=${1:?usage: cli_test.sh path/to/hotcore}
. "$(dirname "$0")/check_lib.sh"
trap remove_outputs EXIT

lines() { cat "$out" "$err" | wc -l; }

run states
check "states exits 0" test "$rc" -eq 0
check "states lists '%3d: name' lines" grep -Eq '^ *[0-9]+: ' "$out"
check "states lists sched:active" grep -Eq '^ *[0-9]+: sched:active$' "$out"
check "states lists only '%3d: name' lines" bash -c "! grep -Evq '^ *[0-9]+: .' '$out'"

run cycle --count 20 --states 2
check "cycle --count 20 --states 2 exits 0" test "$rc" -eq 0
check "cycle prints median" grep -q median "$out"
check "cycle cost table has the empty states" grep -q 'cycle:empty1' "$out"

run cycle --core 99
check "cycle --core 99 exits 2" test "$rc" -eq 2
check "cycle --core 99 prints one line" test "$(lines)" -eq 1

run cycle --count 0
check "cycle --count 0 exits 2" test "$rc" -eq 2
check "cycle --count 0 prints one line" test "$(lines)" -eq 1

run cycle --count 10000001
check "cycle --count above its bound (10^7) exits 2" test "$rc" -eq 2
check "cycle --count above its bound names the range" grep -q '1\.\.10000000 cycles' "$err"

run cycle --physical --count 100001
check "cycle --physical --count above its bound (10^5) exits 2" test "$rc" -eq 2

# cycle keeps its statistics in fixed memory: ten times the cycles, the same peak RSS
# (within 1 MiB; the peak of a child, in KiB, from getrusage).
max_rss_kib() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$hotcore" "$@"
}
small=$(max_rss_kib cycle --count 2000 --states 2)
large=$(max_rss_kib cycle --count 20000 --states 2)
echo "cycle peak RSS: $small KiB at --count 2000, $large KiB at --count 20000"
check "cycle's peak RSS does not grow with --count" test "$large" -le "$((small + 1024))"

run cycle --states 41
check "cycle --states 41 exits 2" test "$rc" -eq 2

run cycle --count
check "cycle --count without a value exits 2" test "$rc" -eq 2

run cycle --bogus
check "cycle --bogus exits 2" test "$rc" -eq 2

# With the process confined to one CPU the runtime has one core, the last active one.
if command -v taskset >/dev/null; then
  taskset -c 0 "$hotcore" cycle --count 5 >"$out" 2>"$err"
  rc=$?
  check "cycle of the only core exits 1" test "$rc" -eq 1
  check "cycle of the only core names the error" grep -q 'core_down(0): Device or resource busy' "$err"
fi

run bogus
check "unknown command exits 2" test "$rc" -eq 2
check "unknown command prints one line" test "$(lines)" -eq 1

run
check "no arguments exits 2 with usage" test "$rc" -eq 2 -a -s "$err"

run --help
check "--help exits 0 with usage on stdout" test "$rc" -eq 0 -a -s "$out"

run demo
check "demo exits 0" test "$rc" -eq 0
check "demo prints the state table" grep -q 'sched:active' "$out"
check "demo prints the cost table" grep -q 'cycle:empty7' "$out"
check "demo starts the io_uring subsystem and prints its state's cost" grep -Eq 'io/uring:online +down' "$out"

run soak --seconds 3 --churn-ms 1
check "soak exits 0" test "$rc" -eq 0
check "soak counts every task: none lost, none run twice" grep -Eq '^submitted ([0-9]+) ran \1 lost 0 duplicated 0$' "$out"

run soak --seconds 0
check "soak with a bad --seconds exits 2" test "$rc" -eq 2

run follow-quota --seconds 1
check "follow-quota --seconds 1 exits 0" test "$rc" -eq 0
check "follow-quota names the cgroup it follows" grep -q '^following ' "$out"
check "follow-quota reports the follower's CPU use" grep -Eq '^follower: [0-9]+ checks .* CPU [0-9.]+ ms' "$out"

check "follow-quota prints no reaction time for its initial reading" \
  sh -c "! grep -q 'initial reading.*reaction' '$out' && ! grep -Eq '^quota max -> max' '$out'"

# --drive (root, cgroup v1 cpu): a group left by a follower that died (SIGKILL) is removed.
cpu_v1=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/self/cgroup)
if [ "$(id -u)" -eq 0 ] && [ -n "$cpu_v1" ] && [ -d "/sys/fs/cgroup/cpu$cpu_v1" ]; then
  sleep 0 & dead=$!
  wait "$dead"
  stale="/sys/fs/cgroup/cpu${cpu_v1%/}/hotcore-follow-$dead"
  mkdir "$stale"
  run follow-quota --drive --seconds 1
  check "follow-quota --drive exits 0" test "$rc" -eq 0
  check "follow-quota --drive removes the group of a dead follower" test ! -d "$stale"
  check "follow-quota --drive says which group it removed" grep -q "removed $stale" "$err"
  check "follow-quota --drive leaves no group of its own" \
    sh -c "! ls -d /sys/fs/cgroup/cpu${cpu_v1%/}/hotcore-follow-* 2>/dev/null"
  rmdir "$stale" 2>/dev/null
else
  echo "skip follow-quota --drive checks (not root or no cgroup v1 cpu controller)"
fi

run follow-quota --seconds 0
check "follow-quota --seconds 0 exits 2" test "$rc" -eq 2
check "follow-quota --seconds 0 prints one line" test "$(lines)" -eq 1

run follow-quota --bogus
check "follow-quota --bogus exits 2" test "$rc" -eq 2

run follow-quota --rounding sideways
check "follow-quota --rounding sideways exits 2" test "$rc" -eq 2

run follow-quota --poll-ms 0 --no-inotify
check "follow-quota that would never look exits 2" test "$rc" -eq 2

# --drive needs root and the cgroup v1 cpu controller: it writes quotas into its own group.
if [ "$(id -u)" -eq 0 ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  run follow-quota --seconds 2 --drive
  check "follow-quota --drive exits 0" test "$rc" -eq 0
  check "follow-quota --drive prints a line per change with old and new quota and cores" \
    grep -Eq '^quota .* -> .*  cores [0-9]+ -> [0-9]+  reaction [0-9.]+ ms' "$out"
  check "follow-quota --drive prints the reaction median and p99" \
    grep -Eq '^reaction over [1-9][0-9]* changes .*median [0-9.]+ ms, p99 [0-9.]+ ms' "$out"
  check "follow-quota --drive removed its group" \
    bash -c "! ls -d /sys/fs/cgroup/cpu/hotcore-follow-* 2>/dev/null"
fi

finish
