# SPDX-License-Identifier: MIT
# tools/check_lib.sh — what the shell tests of the hotcore program share, sourced once
# $hotcore is set: the files $out and $err, run(), check() and finish(). The sourcing
# script sets its own EXIT trap, calling remove_outputs.

out=$(mktemp)
err=$(mktemp)
rc=0
failures=0

remove_outputs() { rm -f "$out" "$err"; }

# run ARGS... : runs hotcore, leaving stdout in $out, stderr in $err and the status in $rc.
run() {
  "$hotcore" "$@" >"$out" 2>"$err"
  rc=$?
}

# check DESCRIPTION CONDITION... : counts and reports a failed condition, with the last
# run's status and output.
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
  else
    echo "FAIL $what (exit $rc)"
    sed 's/^/  stdout: /' "$out"
    sed 's/^/  stderr: /' "$err"
    failures=$((failures + 1))
  fi
}

# finish: exits 1 if a check failed.
finish() {
  [ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
}
