#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/runc_resize_test.sh — bench/pool_server (hotcore pool, following the quota) in a runc
# container, resized with `runc update --cpu-quota/--cpu-period`: its pool goes 2 -> 1 -> 2
# cores as the quota goes 2 -> 1 -> 2 CPUs, read from GET /status, and it answers GET / at
# each step. The container is deleted whatever the outcome. Skips (77) without root, runc,
# a cpu cgroup controller or pool_server (bench disabled), or where runc cannot run a
# container at all.
#   runc_resize_test.sh POOL_SERVER|none LATENCY_RUNC_PY
set -euo pipefail
server=$1 runc_py=$2

skip() { echo "SKIP: $*"; exit 77; }
[ "$server" != none ] || skip "bench is disabled: no pool_server"
[ "$(id -u)" -eq 0 ] || skip "not root"
command -v runc >/dev/null || skip "runc is not installed (Debian package runc)"
[ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
  skip "no cpu cgroup controller"

server=$(realpath "$server")
build=$(dirname "$(dirname "$server")")
name=hotcore-runc-test-$$
dir=$(mktemp -d /tmp/hotcore-runc-test.XXXXXX)
cleanup() {
  runc delete --force "$name" >/dev/null 2>&1 || true
  runc delete --force "$name-probe" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Whoever takes cpu1 offline holds this lock: hold it so that both CPUs stay online.
exec 9>>/tmp/hotcore-cpu1.lock
flock -w 150 9 || skip "cpu1 is being taken offline by another process (lock held for 150 s)"

# Can runc run a container here at all (nested sandboxes, no seccomp, ...)?
python3 "$runc_py" bundle "$dir/probe" "$build" "$name-probe" 100000 -- /bin/true
if ! timeout 30 runc run --bundle "$dir/probe" "$name-probe" </dev/null >"$dir/probe.log" 2>&1; then
  skip "runc cannot run a container here: $(tail -n 1 "$dir/probe.log")"
fi

fail() {
  echo "FAIL: $*"
  echo "--- server log"
  cat "$dir/server.log" || true
  exit 1
}

python3 "$runc_py" bundle "$dir/server" "$build" "$name" 200000 -- \
  "$server" --pool hotcore --port 0 --seconds 120 --work-us 100
runc run -d --bundle "$dir/server" "$name" </dev/null >"$dir/server.log" 2>&1 || fail "runc run -d"

port=
for _ in $(seq 200); do  # its first line names the port (up to 20 s)
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$dir/server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line"

# get PATH: the body of GET PATH (HTTP/1.1, Connection: close) over bash's /dev/tcp.
get() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
  reply=$(timeout 10 cat <&3) || true
  exec 3>&-
  case $reply in "HTTP/1.1 200 "*) printf '%s\n' "${reply#*$'\r\n\r\n'}" ;; *) return 1 ;; esac
}

cores() { get /status | sed -n 's/.*"cores":\([0-9]*\).*/\1/p'; }

# expect_cores N: the pool reaches N cores within 10 s, and GET / is answered there.
expect_cores() {
  local n=
  for _ in $(seq 100); do
    n=$(cores) || true
    [ "$n" = "$1" ] && break
    sleep 0.1
  done
  [ "$n" = "$1" ] || fail "pool at '$n' cores, want $1"
  [ "$(get /)" = "Hello from hotcore" ] || fail "GET / not answered at $1 cores"
  echo "quota $2 CPUs: pool at $1 cores, GET / answered"
}

expect_cores 2 2
runc update --cpu-period 100000 --cpu-quota 100000 "$name" || fail "runc update to 1 CPU"
expect_cores 1 1
runc update --cpu-period 100000 --cpu-quota 200000 "$name" || fail "runc update to 2 CPUs"
expect_cores 2 2
grep -q '2 -> 1 cores' "$dir/server.log" || fail "no '2 -> 1 cores' line"
grep -q '1 -> 2 cores' "$dir/server.log" || fail "no '1 -> 2 cores' line"
echo ok
