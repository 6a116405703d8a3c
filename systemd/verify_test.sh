#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd/verify_test.sh — Description: the guard service's units (hotcore-guard.socket,
# hotcore-guard.service, hotcore-restore.service) pass `systemd-analyze verify`, with
# ExecStart pointed at the built program (the installed path does not exist before
# `meson install`). Skips with 77 without systemd-analyze.
# Usage: verify_test.sh path/to/hotcore UNIT...
set -u
hotcore=$(realpath "${1:?usage: verify_test.sh path/to/hotcore UNIT...}")
shift
command -v systemd-analyze >/dev/null || { echo "skipped: no systemd-analyze (Debian package systemd)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for unit in "$@"; do
  sed -E "s|^ExecStart=[^ ]*/hotcore |ExecStart=$hotcore |" "$unit" >"$dir/$(basename "$unit")"
done
grep -H '^ExecStart=' "$dir"/*.service
# Every unit verified together, so that Requires=/Also= between them resolve.
out=$(cd "$dir" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./*.socket ./*.service 2>&1)
rc=$?
echo "$out"
echo "systemd-analyze verify: rc $rc"
[ "$rc" -eq 0 ] || exit 1
# Any line about our own units is a finding (lines about the host's units are not ours).
if echo "$out" | grep -E 'hotcore-(guard|restore)'; then
  echo "FAIL: systemd-analyze verify reports the units above"
  exit 1
fi
echo "PASS: systemd-analyze verify accepts the three units"
