#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/cli_test.sh — Description: runs the built `hotcore` binary and checks each
# subcommand's output and exit status. Usage: cli_test.sh path/to/hotcore
set -u

hotcore=${1:?usage: cli_test.sh path/to/hotcore}
# cycle and demo take a core down and up, which needs a second core to stay up.
[ "$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')" -ge 2 ] ||
  { echo "skipped: one allowed CPU (taskset): no core can go down for cycle and demo"; exit 77; }
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

run cycle --count 20 --states 0 --subsystems
check "cycle --subsystems exits 0" test "$rc" -eq 0
check "cycle --subsystems says they are up" grep -q 'an io_uring ring, an arena and a timer service up' "$out"
for state in io/uring:online mm/arena:prepare mm/arena:online timers:prepare timers:online; do
  check "cycle --subsystems cost table has $state" grep -q " $state " "$out"
done

run cycle --core 99
check "cycle --core 99 exits 2" test "$rc" -eq 2
check "cycle --core 99 prints one line" test "$(lines)" -eq 1

run cycle --count 0
check "cycle --count 0 exits 2" test "$rc" -eq 2
check "cycle --count 0 prints one line" test "$(lines)" -eq 1

run cycle --count 10000001
check "cycle --count above its bound (10^7) exits 2" test "$rc" -eq 2
check "cycle --count above its bound names the range" grep -q 'want 1\.\.10000000)' "$err"

run cycle --physical --count 100001
check "cycle --physical --count above its bound (10^5) exits 2" test "$rc" -eq 2

# cycle keeps its statistics in fixed memory: ten times the cycles, the same peak RSS
# (within 1 MiB; the peak of a child, in KiB, from getrusage).
max_rss_kib() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$hotcore" "$@"
}
# Under ASan the peak is ASan's: its quarantine holds freed memory back (up to 256 MiB),
# so the check runs on builds without it and says so when it does not.
if ldd "$hotcore" | grep -q 'libasan'; then
  echo "skip cycle's peak RSS check: an ASan build (its quarantine keeps freed memory)"
else
  small=$(max_rss_kib cycle --count 2000 --states 2)
  large=$(max_rss_kib cycle --count 20000 --states 2)
  echo "cycle peak RSS: $small KiB at --count 2000, $large KiB at --count 20000"
  check "cycle's peak RSS does not grow with --count" test "$large" -le "$((small + 1024))"
fi

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

# Every command of `hotcore --help` has its own --help: exit 0, usage and exit statuses on
# stdout, nothing on stderr.
run --help
commands=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$out")
check "--help lists the commands" test -n "$commands"
for cmd in $commands; do
  run "$cmd" --help
  check "$cmd --help exits 0" test "$rc" -eq 0
  check "$cmd --help prints its usage" grep -q "^usage: hotcore $cmd" "$out"
  check "$cmd --help documents the exit statuses" grep -q '^exit status: 0 success, 1 an operation failed, 2 usage error$' "$out"
  check "$cmd --help prints nothing on stderr" test ! -s "$err"
  run "$cmd" --bogus
  check "$cmd --bogus exits 2 with one line" test "$rc" -eq 2 -a "$(lines)" -eq 1
done

run --version
check "--version exits 0" test "$rc" -eq 0
check "--version prints the version" grep -Eq '^hotcore [0-9]+\.[0-9]+\.[0-9]+$' "$out"
run --version extra
check "--version extra exits 2" test "$rc" -eq 2
run --help extra
check "--help extra exits 2" test "$rc" -eq 2
run states extra
check "states extra exits 2" test "$rc" -eq 2

# Options take --name=value everywhere.
run follow-quota --seconds=1
check "follow-quota --seconds=1 exits 0" test "$rc" -eq 0
run cycle --count=3 --states=0
check "cycle --count=3 --states=0 exits 0" test "$rc" -eq 0

# CPU lists, as taskset and chcpu take them.
if [ "$(nproc)" -ge 2 ]; then
  run cycle --core 0-1 --count 3 --states 0
  check "cycle --core 0-1 exits 0" test "$rc" -eq 0
  check "cycle --core 0-1 cycles core 0 and core 1" \
    bash -c "grep -q '^core 0: 3 down+up' '$out' && grep -q '^core 1: 3 down+up' '$out'"
  run cycle --core 1,0,1 --count 3 --states 0
  check "cycle --core 1,0,1 cycles each core once" test "$(grep -c '^core [01]: ' "$out")" -eq 2
fi
run cycle --core 1-0
check "cycle --core 1-0 (backwards) exits 2 with one line" test "$rc" -eq 2 -a "$(lines)" -eq 1
run cycle --core 0,
check "cycle --core '0,' exits 2" test "$rc" -eq 2
run cycle --core 0-99 --count 3
check "cycle --core 0-99 (not all worker cores) exits 2 with one line" test "$rc" -eq 2 -a "$(lines)" -eq 1

# Echoed input: cut at 200 bytes, control characters escaped, on one line.
long=$(head -c 131000 /dev/zero | tr '\0' 7)
run cycle --core "$long"
check "a 131000-byte argument exits 2" test "$rc" -eq 2
check "a 131000-byte argument is echoed in one line under 1000 bytes" \
  test "$(lines)" -eq 1 -a "$(wc -c <"$err")" -lt 1000
check "the cut echo says how long the argument was" grep -q '(131000 bytes)' "$err"
run "$(printf 'st\033[31mates\nx')"
check "an unknown command with control characters exits 2" test "$rc" -eq 2
check "its echo has no raw escape or newline, one line" test "$(lines)" -eq 1
check "its escape is shown as \\e" grep -qF 'st\e[31mates\nx' "$err"
check "no raw ESC byte reaches the terminal" bash -c "! grep -q \$'\\033' '$err'"

# Write errors are failures: a full disk is not a success.
"$hotcore" states >/dev/full 2>"$err"
rc=$?
check "states > /dev/full exits 1" test "$rc" -eq 1
check "states > /dev/full says it cannot write" grep -q 'cannot write the output: No space left on device' "$err"
"$hotcore" --help >/dev/full 2>"$err"
rc=$?
check "--help > /dev/full exits 1" test "$rc" -eq 1

# A core whose CPU the kernel cannot offline is a usage error in physical mode. Physical
# mode writes cpuN/online: only as root, holding the cpu1 lock.
if [ "$(id -u)" -eq 0 ] && [ -w /sys/devices/system/cpu/cpu1/online ] && [ ! -e /sys/devices/system/cpu/cpu0/online ]; then
  flock /tmp/hotcore-cpu1.lock "$hotcore" cycle --physical --core 0 --count 1 >"$out" 2>"$err"
  rc=$?
  check "cycle --physical --core 0 (no cpu0/online) exits 2 with one line" test "$rc" -eq 2 -a "$(lines)" -eq 1
fi

# Bash completion offers the commands of --help, and each command's options.
completion=$(dirname "$0")/hotcore.bash-completion
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hotcore; echo "${COMPREPLY[*]}"' \
    _ "$completion" "$hotcore" "$@"
}
check "bash completion: 'hotcore cy' completes to cycle" test "$(complete_words cy)" = cycle
check "bash completion: 'hotcore cycle --co' offers --core and --count" \
  test "$(complete_words cycle --co)" = "--core --count"

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
check "soak with a bad --seconds prints one line" test "$(lines)" -eq 1

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
  # SIGHUP (a closed terminal) ends --drive as SIGTERM does: its group goes with it.
  "$hotcore" follow-quota --drive --seconds 60 >"$out" 2>"$err" &
  fq=$!
  own="/sys/fs/cgroup/cpu${cpu_v1%/}/hotcore-follow-$fq"
  for _ in $(seq 500); do [ -d "$own" ] && break; sleep 0.01; done
  check "follow-quota --drive makes its group" test -d "$own"
  kill -HUP "$fq"
  wait "$fq"
  rc=$?
  check "follow-quota --drive ended by SIGHUP exits (not killed by the signal)" test "$rc" -lt 128
  check "follow-quota --drive ended by SIGHUP removes its group" test ! -d "$own"
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
