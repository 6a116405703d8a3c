#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/mutants/apply_test.sh — every mutation patch still applies, exactly (no fuzz), to
# the source tree, and reverts cleanly: a refactor that moves a mutated line must move
# its patch too, or run.sh would have nothing to inject.
# Usage: apply_test.sh SOURCE_ROOT
set -u
root=$1
n=0
for p in "$root"/tests/mutants/*.patch; do
  out=$(patch -d "$root" --dry-run -s -p1 --forward --fuzz=0 <"$p" 2>&1) || {
    echo "FAIL: $(basename "$p") no longer applies: $out"; exit 1; }
  n=$((n + 1))
done
[ "$n" -ge 5 ] || { echo "FAIL: $n mutation patches under tests/mutants (want 5)"; exit 1; }
echo "PASS: $n mutation patches apply"
