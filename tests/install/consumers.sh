# SPDX-License-Identifier: MIT
# tests/install/consumers.sh — what tests/install_test.sh and tests/deb_test.sh share,
# sourced after tools/check_lib.sh: quietly(), and the pkg-config and CMake consumers of an
# installed hotcore, built from tests/install/ and run. $src is the source root.

# want is what consumer.cpp prints when headers and library agree and its task ran.
want='^hotcore headers ([0-9.]+) library \1 ran 1 task$'

# quietly CMD...: runs CMD with its output in $out and $err, its status in $rc.
quietly() {
  "$@" >"$out" 2>"$err"
  rc=$?
  return $rc
}

# check_pkg_config_consumer DIR: consumer.cpp builds in DIR with the flags pkg-config gives
# (PKG_CONFIG_PATH as the caller set it), runs and prints $want.
check_pkg_config_consumer() {
  mkdir -p "$1"
  check "pkg-config consumer builds" quietly bash -c \
    "c++ -std=c++20 '$src/tests/install/consumer.cpp' \$(pkg-config --cflags --libs hotcore) -o '$1/consumer'"
  check "pkg-config consumer runs" quietly "$1/consumer"
  check "pkg-config consumer ran its task with matching versions" grep -Eq "$want" "$out"
}

# check_cmake_consumer DIR [CMAKE ARGS...]: tests/install/CMakeLists.txt configures in DIR
# with find_package(hotcore), builds against hotcore::hotcore, runs and prints $want.
check_cmake_consumer() {
  local dir=$1
  shift
  mkdir -p "$dir/src"
  cp "$src/tests/install/CMakeLists.txt" "$src/tests/install/consumer.cpp" "$dir/src/"
  check "CMake consumer configures with find_package(hotcore)" \
    quietly cmake -S "$dir/src" -B "$dir/build" -G Ninja "$@"
  check "CMake consumer builds against hotcore::hotcore" quietly cmake --build "$dir/build"
  check "CMake consumer runs" quietly "$dir/build/consumer"
  check "CMake consumer ran its task with matching versions" grep -Eq "$want" "$out"
}
