#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/deb_test.sh — Description: the Debian packages build from a copy of the source tree
# (dpkg-buildpackage -us -uc -b), lintian reports no error (E:) on them, and once installed
# in /usr the pkg-config, CMake and meson consumers of tests/install/ build and run against
# them, <hotcore/asio.h> compiles, and the hotcore program, its man page and bash completion
# are there; the packages are purged at the end, whatever the outcome. Skips (77) when not
# root, without the Debian tools (debhelper, dpkg-dev, lintian; ./run installs them) or the
# build dependencies, outside a git checkout, or when hotcore packages are installed already.
# Usage: deb_test.sh SOURCE_ROOT
set -u

src=$(cd "${1:?usage: deb_test.sh SOURCE_ROOT}" && pwd)
skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root (installs and purges packages)"
for tool in dpkg-buildpackage dh lintian dpkg-checkbuilddeps cmake pkg-config meson git; do
  command -v "$tool" >/dev/null || skip "no $tool (packages debhelper, dpkg-dev, lintian, cmake, meson)"
done
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || skip "$src is not a git checkout (the file list comes from git ls-files)"
(cd "$src" && dpkg-checkbuilddeps) || skip "build dependencies missing (above)"
packages=(hotcore libhotcore-dev libhotcore0)
if dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -q 'install ok installed'; then
  skip "hotcore packages are installed already: this test does not touch them"
fi

tmp=$(mktemp -d)
. "$src/tools/check_lib.sh"
. "$src/tests/install/consumers.sh"
installed=false
cleanup() {
  $installed && dpkg --purge "${packages[@]}" >/dev/null
  rm -rf "$tmp"
  remove_outputs
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. The packages, built from the files git knows (tracked, and new ones not ignored).
tree=$tmp/hotcore
mkdir -p "$tree"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$src" && tar --null -T - -cf -) | tar -C "$tree" -xf -
check "dpkg-buildpackage -us -uc -b" quietly bash -c "cd '$tree' && dpkg-buildpackage -us -uc -b"
[ "$rc" -eq 0 ] || { tail -n 40 "$out"; finish; }
debs=("$tmp"/hotcore_*.deb "$tmp"/libhotcore-dev_*.deb "$tmp"/libhotcore0_*.deb)
check "the three packages are built" test -f "${debs[0]}" -a -f "${debs[1]}" -a -f "${debs[2]}"

# 2. lintian: warnings are reported, errors fail.
quietly lintian --tag-display-limit 0 "$tmp"/hotcore_*.changes
sed 's/^/  lintian: /' "$out"
check "lintian reports no error" bash -c "! grep -q '^E:' '$out'"
check "libhotcore0 ships a symbols file" bash -c \
  "dpkg-deb -I '${debs[2]}' symbols | grep -q '^libhotcore.so.0 libhotcore0'"

# 3. Installed in /usr.
check "dpkg -i the three packages" quietly dpkg -i "${debs[@]}"
installed=true
check "hotcore --version" quietly hotcore --version
check "hotcore --version says the packaged version" grep -q "^hotcore $(dpkg-query -W -f='${Version}' hotcore)\$" "$out"
check "the man page is installed" quietly man -w hotcore
check "the bash completion is installed" test -f /usr/share/bash-completion/completions/hotcore

# 4. The consumers, against /usr only.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH CMAKE_PREFIX_PATH
check_pkg_config_consumer "$tmp/pc"
check_cmake_consumer "$tmp/cmake"
mkdir -p "$tmp/meson"
cp "$src/tests/install/meson.build" "$src/tests/install/consumer.cpp" "$tmp/meson/"
check "meson consumer configures with dependency('hotcore') from /usr (no fallback)" \
  quietly meson setup "$tmp/meson/build" "$tmp/meson" --wrap-mode=nofallback
check "meson consumer builds" quietly ninja -C "$tmp/meson/build"
check "meson consumer runs" quietly "$tmp/meson/build/consumer"
check "meson consumer ran its task with matching versions" grep -Eq "$want" "$out"
printf '#include <hotcore/asio.h>\nint main() { return 0; }\n' >"$tmp/asio.cpp"
check "<hotcore/asio.h> from libhotcore-dev compiles with libasio-dev" quietly bash -c \
  "c++ -std=c++20 -fsyntax-only \$(pkg-config --cflags hotcore) '$tmp/asio.cpp'"

finish
