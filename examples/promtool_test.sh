#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/promtool_test.sh — Description: `promtool check metrics` (Prometheus's own
# linter, Debian package prometheus) accepts the HTTP server's GET /metrics as a scraper
# without OpenMetrics gets it (the Prometheus text format: every family with TYPE and
# HELP, counters named _total), after some requests have moved the counters; asked with
# Accept: application/openmetrics-text, the same endpoint answers OpenMetrics ("# EOF"
# last). Skips (77) without promtool. Usage: promtool_test.sh path/to/http_server
set -u
server=${1:?usage: promtool_test.sh path/to/http_server}
command -v promtool >/dev/null || { echo "promtool not installed: skipped"; exit 77; }
log=$(mktemp)
body=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$log" "$body"' EXIT
"$server" --port 0 --seconds 60 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$log" | cut -d: -f2)
[ -n "$port" ] || { echo "server did not start:"; cat "$log"; exit 1; }
python3 - "$port" "$body" <<'PY' || exit 1
import sys, urllib.request
port, out = sys.argv[1], sys.argv[2]
for _ in range(20):
    urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=10).read()
with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10) as r:
    ctype = r.headers["Content-Type"]
    open(out, "wb").write(r.read())
print("Content-Type:", ctype)
if not ctype.startswith("text/plain; version=0.0.4"):
    sys.exit("FAIL: /metrics without an Accept header is not the Prometheus text format")
req = urllib.request.Request("http://127.0.0.1:%s/metrics" % port,
                             headers={"Accept": "application/openmetrics-text; version=1.0.0"})
with urllib.request.urlopen(req, timeout=10) as r:
    om = r.read()
    if not r.headers["Content-Type"].startswith("application/openmetrics-text") or \
            not om.endswith(b"# EOF\n"):
        sys.exit("FAIL: Accept: application/openmetrics-text did not get OpenMetrics")
PY
grep -c '^# HELP' "$body" | sed 's/^/families with HELP: /'
if promtool check metrics <"$body"; then
  echo "ok   promtool check metrics passes on /metrics"
else
  echo "FAIL promtool check metrics"
  exit 1
fi
