#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/server_test.sh — an example HTTP server (http_server on io_uring, asio_server on
# Asio) under wrk while a core leaves and comes back every second: wrk must report no
# socket error and no non-2xx response, and the server must have served them all and
# churned its cores. Skips (77) without wrk or with a single core.
set -euo pipefail
server=$1
name=$(basename "$server")  # it prints "NAME: listening on ..." and "NAME: R requests, ..."
command -v wrk >/dev/null || { echo "wrk not installed: skipped"; exit 77; }
log=$(mktemp)
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log" "$out"' EXIT

"$server" --port 0 --churn-ms 1000 --seconds 10 >"$log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
[ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
if grep -q 'listening on .*, 1 cores' "$log"; then  # e.g. cpu1 offline in the kernel now
  echo "the runtime has one core: nothing to churn, skipped"
  exit 77
fi

wrk -c 64 -t 2 -d 8s --latency "http://127.0.0.1:$port/" | tee "$out"
wait "$pid"
cat "$log"

fail() { echo "FAIL: $*"; exit 1; }
grep -q 'Requests/sec' "$out" || fail "wrk printed no result"
! grep -q 'Socket errors' "$out" || fail "wrk saw socket errors"
! grep -q 'Non-2xx' "$out" || fail "wrk saw non-2xx responses"
sent=$(awk '/requests in/ {print $1}' "$out")
served=$(sed -n "s/^$name: \([0-9]*\) requests.*/\1/p" "$log")
cycles=$(sed -n 's/.* \([0-9]*\) core down+up cycles.*/\1/p' "$log")
[ "$sent" -gt 0 ] || fail "no request completed"
# wrk counts the responses it read; the server may have answered a few more as wrk stopped.
[ "$served" -ge "$sent" ] || fail "server served $served < $sent requests wrk completed"
[ "$cycles" -ge 3 ] || fail "only $cycles core down+up cycles while serving"
echo "OK: $sent requests, no errors, $cycles core down+up cycles"
