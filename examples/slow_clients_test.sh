#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/slow_clients_test.sh — Description: the HTTP server's deadlines and answers to
# odd requests, on loopback: flags out of their bounds (tools/flag_limits.h) are refused
# on one line naming the flag; with --header-timeout-ms 400 a head that stops half way
# gets 408 and the connection is closed; with --idle-timeout-ms 400 a keep-alive
# connection with no next request is closed; a 9000-byte target gets 414, a head over
# 8 KiB 413, 10 KB of CRLF then a half-close 400, each read in full up to the server's
# FIN (no reset); SIGHUP stops the server like SIGTERM, with its summary printed.
# Usage: slow_clients_test.sh path/to/http_server
set -u
server=${1:?usage: slow_clients_test.sh path/to/http_server}
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
failures=0
check() {  # check WHAT COMMAND...: prints ok/FAIL
  if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
}
refused() {  # refused FLAG VALUE: exit 2 at once with one error line naming the flag
  local err rc
  err=$(timeout 10 "$server" --port 0 "$1" "$2" 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -eq 2 ] && printf '%s\n' "$err" | head -n 1 | grep -q -- "^http_server: $1: "
}
check "--seconds 9223372036854775807 is refused (rc 2, one line naming it)" \
  refused --seconds 9223372036854775807
check "--seconds 86401 (over a day) is refused" refused --seconds 86401
check "--header-timeout-ms 0 is refused" refused --header-timeout-ms 0
check "--idle-timeout-ms 3600001 is refused" refused --idle-timeout-ms 3600001
check "--port 65536 is refused" refused --port 65536
check "--churn-ms -1 is refused" refused --churn-ms -1

"$server" --port 0 --seconds 60 --header-timeout-ms 400 --idle-timeout-ms 400 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
[ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
python3 - "$port" <<'EOF' || failures=$((failures + 1))
import socket, sys
port = int(sys.argv[1])
failures = 0
def check(what, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1
def read_to_fin(s):
    """Everything the server sends up to its FIN (b"" on a reset or after 10 s: a failure)."""
    s.settimeout(10.0)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except OSError as e:
        print("  read failed after %d bytes: %s" % (len(data), e))
        return b""
def first_line(data):
    return data.split(b"\r\n")[0].decode(errors="replace")

s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
r = read_to_fin(s)
print("  a head that stops half way:", first_line(r) or "nothing")
check("a head that stops half way gets 408 and is closed at the header deadline",
      r.startswith(b"HTTP/1.1 408 "))

s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
r = read_to_fin(s)
check("a keep-alive connection is answered, then closed at the idle deadline",
      r.startswith(b"HTTP/1.1 200 ") and r.endswith(b"Hello from hotcore\n"))

s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
r = read_to_fin(s)
print("  a 9000-byte target:", first_line(r) or "nothing")
check("a 9000-byte target gets 414, then the server's FIN (no reset)", r.startswith(b"HTTP/1.1 414 "))

s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nX-Pad: " + b"p" * 9000 + b"\r\n\r\n")
r = read_to_fin(s)
print("  a head over 8 KiB:", first_line(r) or "nothing")
check("a head over 8 KiB gets 413, then the server's FIN", r.startswith(b"HTTP/1.1 413 "))

s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"\r\n" * 5120)
s.shutdown(socket.SHUT_WR)
r = read_to_fin(s)
print("  10 KB of CRLF, then a half-close:", first_line(r) or "nothing")
check("10 KB of CRLF then a half-close gets 400, then the server's FIN",
      r.startswith(b"HTTP/1.1 400 "))
sys.exit(1 if failures else 0)
EOF

kill -HUP "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "SIGHUP stops the server" bash -c "! kill -0 $pid 2>/dev/null"
wait "$pid"
rc=$?
pid=
check "it exits 0 after SIGHUP" [ "$rc" -eq 0 ]
check "it prints its summary, counting the connections closed at their deadline" \
  grep -Eq 'connections closed at the fd limit, [1-9][0-9]* at their deadline' "$log"
cat "$log"
exit $((failures > 0))
