#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/fd_limit_test.sh — Description: the HTTP server at its fd limit (`ulimit -n 64`)
# with 100 idle connections open: it pauses accepting instead of spinning in accept (its
# CPU time stays small while the connections sit there), a good client is still served
# within 1 s (the oldest idle connection is closed to make room), a POST whose body
# cannot fit the 8 KiB buffer gets 413, and under slowloris (100 connections each sending a
# head a byte at a time) GET /metrics is answered within 3 s, well inside the 10 s header
# deadline: the connection that has waited longest is closed to make room for it.
# Usage: fd_limit_test.sh path/to/http_server
set -u
server=${1:?usage: fd_limit_test.sh path/to/http_server}
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
(ulimit -n 64 && exec "$server" --port 0 --seconds 20) >"$log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
[ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
python3 - "$port" "$pid" <<'EOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def cpu_seconds():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
failures = 0
def check(what, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1
def read_reply(sock, timeout, until=None):
    """What the server sends until `until` is in it, its FIN, or the timeout."""
    sock.settimeout(timeout)
    data = b""
    try:
        while until is None or until not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
c0, t0 = cpu_seconds(), time.monotonic()
time.sleep(1.0)  # 100 connections against 64 fds: accept hits EMFILE
spent = cpu_seconds() - c0
print("server CPU time over %.1f s with 100 idle connections: %.2f s" % (time.monotonic() - t0, spent))
check("the server does not spin at its fd limit (under 0.3 s of CPU in 1 s)", spent < 0.3)
t0 = time.monotonic()
g = socket.create_connection(("127.0.0.1", port))
g.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
data = read_reply(g, 1.0, b"Hello from hotcore")
took = time.monotonic() - t0
print("good client answered %s after %.3f s" % (data.split(b"\r\n")[0].decode() or "nothing", took))
check("a good client is served within 1 s", b"200 OK" in data and took < 1.0)
for s in idle:
    s.close()
p = socket.create_connection(("127.0.0.1", port))
p.sendall(b"POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n" + b"x" * 8000)
resp = read_reply(p, 2.0)
check("a POST whose body cannot fit the buffer gets 413", resp.startswith(b"HTTP/1.1 413 "))
slow = []
for _ in range(100):  # the connections beyond the fd limit wait in the listen backlog
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nX-a: ")
    slow.append(s)
for byte in range(3):  # a byte each, as slowloris does, to keep the heads going
    for s in slow:
        try:
            s.send(b"b")
        except OSError:
            pass  # shed by the server
    time.sleep(0.2)
t0 = time.monotonic()
m = socket.create_connection(("127.0.0.1", port))
m.sendall(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
resp = read_reply(m, 3.0)
took = time.monotonic() - t0
print("/metrics under slowloris: %s after %.3f s" % (resp.split(b"\r\n")[0].decode() or "nothing", took))
check("/metrics is answered within 3 s under slowloris at the fd limit",
      resp.startswith(b"HTTP/1.1 200 ") and b"hotcore_tasks_run_total" in resp and took < 3.0)
for s in slow:
    s.close()
sys.exit(1 if failures else 0)
EOF
