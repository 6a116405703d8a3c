#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/install_test.sh — Description: hotcore installs to a temporary prefix, and against
# that install three projects outside the tree build and run tests/install/consumer.cpp:
# one through pkg-config, one through CMake's find_package(hotcore) (hotcore::hotcore),
# and a meson project using hotcore as a subproject, which builds only the library.
# The installed examples build with their installed Makefile. Skips (77) without cmake.
# Usage: install_test.sh SOURCE_ROOT
set -u

src=$(cd "${1:?usage: install_test.sh SOURCE_ROOT}" && pwd)
command -v cmake >/dev/null || { echo "skipped: no cmake (package cmake)"; exit 77; }
command -v pkg-config >/dev/null || { echo "skipped: no pkg-config"; exit 77; }

tmp=$(mktemp -d)
prefix=$tmp/prefix
# check_lib.sh: check() reports a failed condition with the last command's $out and $err.
. "$src/tools/check_lib.sh"
. "$src/tests/install/consumers.sh"
trap 'rm -rf "$tmp"; remove_outputs' EXIT
trap 'exit 1' INT TERM

# 1. The library alone (plain buildtype: this test checks packaging, not speed), installed.
check "meson setup --prefix=$prefix (library and examples only)" \
  quietly meson setup "$tmp/build" "$src" --prefix="$prefix" --libdir=lib --buildtype=plain \
    -Dtests=disabled -Dtools=disabled -Dbench=disabled -Dexamples=enabled
check "ninja install" quietly ninja -C "$tmp/build" install
check "the headers are installed" test -f "$prefix/include/hotcore/hotcore.h" -a -f "$prefix/include/hotcore/version.h"
check "the pkg-config file is installed" test -f "$prefix/lib/pkgconfig/hotcore.pc"
check "the CMake package config is installed" test -f "$prefix/lib/cmake/hotcore/hotcoreConfig.cmake" -a -f "$prefix/lib/cmake/hotcore/hotcoreConfigVersion.cmake"
check "the examples are installed with their Makefile" test -f "$prefix/share/doc/hotcore/examples/Makefile" -a -f "$prefix/share/doc/hotcore/examples/core_timers.cpp"
check "no test or benchmark program is installed" test ! -e "$prefix/bin"

export LD_LIBRARY_PATH=$prefix/lib
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

# 2. pkg-config.
check_pkg_config_consumer "$tmp/pc"

# A consumer that forgets C++20 gets hotcore's own message first, not a cascade.
echo '#include <hotcore/hotcore.h>' >"$tmp/pc/old.cpp"
quietly c++ -std=c++17 -fsyntax-only $(pkg-config --cflags hotcore) "$tmp/pc/old.cpp"
check "without -std=c++20 the first error says hotcore needs C++20" \
  bash -c "grep -m1 'error' '$err' | grep -q 'hotcore needs C++20'"

# 3. CMake find_package.
check_cmake_consumer "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix"

# 4. The installed examples, with their installed Makefile.
cp -r "$prefix/share/doc/hotcore/examples" "$tmp/examples"
check "an installed example builds with the installed Makefile" \
  quietly make -C "$tmp/examples" dynamic_state
check "the installed example runs" quietly "$tmp/examples/dynamic_state"

# 5. A meson project with hotcore as a subproject: only the library is built, nothing of
# hotcore is installed but the library, and the parent keeps its own werror.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
parent=$tmp/parent
mkdir -p "$parent/subprojects/hotcore"
cp "$src/tests/install/meson.build" "$src/tests/install/consumer.cpp" "$parent/"
tar -C "$src" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$parent/subprojects/hotcore" -xf -
check "meson subproject consumer configures" \
  quietly meson setup "$tmp/sub" "$parent" --buildtype=plain --force-fallback-for=hotcore --prefix="$tmp/sub-prefix"
check "the subproject builds no tests, examples, benchmarks or tools" bash -c \
  "! ninja -C '$tmp/sub' -t targets all | grep -E 'subprojects/hotcore/(tests|examples|bench|tools)/'"
check "the subproject leaves werror off" bash -c \
  "meson introspect --buildoptions '$tmp/sub' | python3 -c 'import json,sys; o=[x for x in json.load(sys.stdin) if x[\"name\"].endswith(\"werror\")]; sys.exit(any(x[\"value\"] for x in o) or not o)'"
check "meson subproject consumer builds" quietly ninja -C "$tmp/sub"
check "meson subproject consumer runs" quietly "$tmp/sub/consumer"
check "meson subproject consumer ran its task with matching versions" grep -Eq "$want" "$out"

finish
