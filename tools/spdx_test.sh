#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/spdx_test.sh — Description: tools/spdx.sh puts the SPDX line where it belongs (first
# line, or second after a shebang, in the file's comment syntax) and only once; then every
# tracked source file of this checkout carries it. Skips (77) outside a git checkout.
# Usage: spdx_test.sh SOURCE_ROOT
set -u

root=${1:?usage: spdx_test.sh SOURCE_ROOT}
spdx=$root/tools/spdx.sh
command -v git >/dev/null || { echo "skipped: no git"; exit 77; }
git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || { echo "skipped: $root is not a git checkout (the file list comes from git ls-files)"; exit 77; }

failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

# A scratch repository with one file of each kind.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$tmp" init -q
mkdir -p "$tmp/src" "$tmp/docs"
printf '// src/a.cpp — a file\nint a;\n' >"$tmp/src/a.cpp"
printf '#pragma once\n' >"$tmp/src/a.h"
printf '#!/usr/bin/env bash\necho hi\n' >"$tmp/script.sh"
printf '#!/usr/bin/env bash\necho run\n' >"$tmp/run"
chmod +x "$tmp/script.sh" "$tmp/run"
printf "project('x', 'cpp')\n" >"$tmp/meson.build"
printf '# docs\n' >"$tmp/docs/a.md"
printf 'a(1)\n\n# NAME\n' >"$tmp/docs/a.1.scd"
git -C "$tmp" add -A

check "--check finds the files without the line" bash -c "! '$spdx' --check '$tmp' >/dev/null"
"$spdx" "$tmp" >/dev/null
check "C++ source: first line" test "$(head -n 1 "$tmp/src/a.cpp")" = '// SPDX-License-Identifier: MIT'
check "C++ source: the rest follows unchanged" test "$(sed -n 2p "$tmp/src/a.cpp")" = '// src/a.cpp — a file'
check "header: first line" test "$(head -n 1 "$tmp/src/a.h")" = '// SPDX-License-Identifier: MIT'
check "shell script: after the shebang" test "$(sed -n 2p "$tmp/script.sh")" = '# SPDX-License-Identifier: MIT'
check "shell script: shebang stays first" test "$(head -n 1 "$tmp/script.sh")" = '#!/usr/bin/env bash'
check "extensionless script: after the shebang" test "$(sed -n 2p "$tmp/run")" = '# SPDX-License-Identifier: MIT'
check "scripts stay executable" test -x "$tmp/run"
check "meson.build: # comment" test "$(head -n 1 "$tmp/meson.build")" = '# SPDX-License-Identifier: MIT'
check "scdoc page: after its title line, as a ; comment" test "$(sed -n 2p "$tmp/docs/a.1.scd")" = '; SPDX-License-Identifier: MIT'
check "markdown is not touched" test "$(cat "$tmp/docs/a.md")" = '# docs'
before=$(cat "$tmp"/src/a.cpp "$tmp"/script.sh | md5sum)
"$spdx" "$tmp" >/dev/null
check "a second run adds nothing" test "$(cat "$tmp"/src/a.cpp "$tmp"/script.sh | md5sum)" = "$before"
check "--check passes once every file has it" "$spdx" --check "$tmp"

# This checkout.
if ! "$spdx" --check "$root"; then
  echo "FAIL every tracked source file carries the SPDX line"
  failures=$((failures + 1))
else
  echo "ok   every tracked source file carries the SPDX line"
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
