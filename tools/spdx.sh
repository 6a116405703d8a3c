#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/spdx.sh — puts "SPDX-License-Identifier: MIT" on the first line (after a shebang)
# of every tracked source file that lacks it: `//` for C++, `#` for shell, meson, python
# and cmake, `;` for scdoc (after its title line, which scdoc wants first). Usage: tools/spdx.sh [--check] [DIR]; --check changes nothing, lists the
# files without the line and exits 1 if there is one. DIR defaults to the repository root.
set -euo pipefail

check=false
if [ "${1:-}" = --check ]; then check=true; shift; fi
cd "${1:-$(dirname "$0")/..}"

spdx='SPDX-License-Identifier: MIT'

# comment_for FILE: the comment leader of a source file, or nothing for a file that is
# not source (docs, data, the license itself).
comment_for() {
  case "$1" in
    *.cpp | *.h | *.cpp.in | *.h.in) echo '//' ;;
    *.sh | *.py | *.cmake | *.cmake.in | */meson.build | meson.build | meson_options.txt \
      | *.bash-completion | Makefile* | */Makefile* | CMakeLists.txt | */CMakeLists.txt) echo '#' ;;
    *.scd) echo ';' ;;
    *)
      # Extensionless scripts (./run, .ci/run) carry a shebang.
      [ -f "$1" ] && head -c 2 "$1" | grep -q '^#!' && echo '#'
      ;;
  esac
}

# has_spdx FILE: the line is the first one, or the second after a shebang.
has_spdx() { head -n 2 "$1" | grep -q "$spdx"; }

missing=0
while IFS= read -r f; do
  leader=$(comment_for "$f") || true
  [ -n "$leader" ] || continue
  has_spdx "$f" && continue
  if $check; then
    echo "no SPDX line: $f"
    missing=$((missing + 1))
    continue
  fi
  tmp=$(mktemp)
  if head -c 2 "$f" | grep -q '^#!' || [[ $f == *.scd ]]; then
    { head -n 1 "$f"; echo "$leader $spdx"; tail -n +2 "$f"; } >"$tmp"
  else
    { echo "$leader $spdx"; cat "$f"; } >"$tmp"
  fi
  cat "$tmp" >"$f"  # keeps the file's mode (scripts stay executable)
  rm -f "$tmp"
  echo "added: $f"
done < <(git ls-files)

if $check && [ "$missing" -gt 0 ]; then
  echo "$missing file(s) without '$spdx': run tools/spdx.sh"
  exit 1
fi
exit 0
