#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/mutants/run.sh — the mutation check: each NAME.patch here is a one-line bug in the
# runtime. The script copies the committed tree (git archive) to a scratch folder, builds
# the test that must catch each bug, checks that test passes on the clean copy, then
# applies the bug, rebuilds, reruns with a fixed seed and reports caught / NOT caught.
# Exit status 0 when every bug is caught.
#   tests/mutants/run.sh              every mutant
#   tests/mutants/run.sh 3 5          only 3-*.patch and 5-*.patch
#   MUTANT_REF=<commit>               what to copy (default HEAD)
#   MUTANT_KEEP=1                     keep the scratch folder
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/hotcore-mutants.XXXXXX)
cleanup() { [ -n "${MUTANT_KEEP:-}" ] && echo "scratch kept: $scratch" || rm -rf "$scratch"; }
trap cleanup EXIT

# The table: mutant, build (chaos: release-ish with chaos points; tsan: ThreadSanitizer),
# test target, and the command that runs it (from the build folder).
lin_small='HOTCORE_LIN_TASKS=2000 HOTCORE_LIN_CYCLES=100'
declare -A build_of target_of run_of
build_of[1]=chaos; target_of[1]=tests/model_test
run_of[1]='HOTCORE_SEED=11 HOTCORE_MODEL_SEQUENCES=1000 tests/model_test'
build_of[2]=chaos; target_of[2]=tests/model_test
run_of[2]='HOTCORE_SEED=11 HOTCORE_MODEL_SEQUENCES=1000 tests/model_test'
build_of[3]=tsan; target_of[3]=tests/linearizability_test
run_of[3]="HOTCORE_SEED=1 $lin_small setarch $(uname -m) -R tests/linearizability_test"
build_of[4]=chaos; target_of[4]=tests/linearizability_test
run_of[4]='HOTCORE_SEED=1 tests/linearizability_test'
build_of[5]=chaos; target_of[5]=tests/linearizability_test
run_of[5]='HOTCORE_SEED=1 tests/linearizability_test'

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(1 2 3 4 5)

mkdir -p "$scratch/src"
git -C "$repo" archive "${MUTANT_REF:-HEAD}" | tar -x -C "$scratch/src"
cd "$scratch/src"

# configure DIR KIND: one build per kind, only what the tests need. No debug info, so
# ccache hits across scratch folders (the path is not hashed then).
configure() {
  local dir=$1 kind=$2
  [ -f "$dir/build.ninja" ] && return
  case $kind in
    chaos) meson setup "$dir" -Dchaos=true -Dbench=disabled -Ddebug=false >/dev/null ;;
    tsan) meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Dbench=disabled -Ddebug=false >/dev/null ;;
  esac
}

# run_test N: builds mutant N's test and runs it; returns its exit status (124: timeout).
run_test() {
  local n=$1 dir="build-${build_of[$1]}"
  configure "$dir" "${build_of[$n]}"
  ninja -C "$dir" -j2 "${target_of[$n]}" >"$scratch/build.log" 2>&1 || { tail -20 "$scratch/build.log"; return 200; }
  # The tests move cores logically and need cpu1 online: hold the lock that every test
  # taking cpu1 offline holds, so another suite's physical test cannot pull it away.
  (cd "$dir" && flock /tmp/hotcore-cpu1.lock timeout 300 env ${run_of[$n]} >"$scratch/test-$n.log" 2>&1)
}

missed=0
report=()
for n in "${wanted[@]}"; do
  patch_file=$(ls "$repo"/tests/mutants/"$n"-*.patch)
  name=$(basename "$patch_file" .patch)
  echo "== $name: ${run_of[$n]} (${build_of[$n]} build)"
  rc=0; run_test "$n" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "   the clean tree fails this test (rc $rc): no verdict"; grep -m5 -E "ERROR|LEAK|violation" "$scratch/test-$n.log"; tail -5 "$scratch/test-$n.log"
    report+=("$name: clean tree fails (rc $rc)"); missed=$((missed + 1)); continue
  fi
  patch -s -p1 --forward --fuzz=0 <"$patch_file"
  rc=0; run_test "$n" || rc=$?
  patch -s -R -p1 --fuzz=0 <"$patch_file"
  if [ $rc -eq 200 ]; then
    verdict="does not build"; missed=$((missed + 1))
  elif [ $rc -ne 0 ]; then
    verdict="caught (rc $rc)"
    grep -m3 -E "Falsifiable|violations|WARNING: ThreadSanitizer|DEADLOCK|chaos: seed" "$scratch/test-$n.log" | sed 's/^/   /' || true
  else
    verdict="NOT caught"; missed=$((missed + 1))
  fi
  echo "   $verdict"
  report+=("$name: $verdict")
done
echo "mutants: ${#wanted[@]} tried, $(( ${#wanted[@]} - missed )) caught"
printf '  %s\n' "${report[@]}"
exit $(( missed > 0 ))
