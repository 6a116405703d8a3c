// SPDX-License-Identifier: MIT
// tests/runner.h — what a test sees of the shared doctest runner (doctest_runner.cpp):
// skipping a test case that cannot run here, and the main for suites with their own.
#pragma once

#include <string>

namespace hotcore_test {

// The exit status meson counts as a skipped test program.
inline constexpr int skip_exit = 77;

// skip_case() marks the running test case as skipped, with the reason printed. The case
// then returns (SKIP_CASE does both); it counts as skipped, never as passed.
void skip_case(const std::string& why);

// run_suite() runs the doctest cases: exit 77 when every selected case skipped, and a
// failure for any case that left a thread or an fd behind.
int run_suite(int argc, char** argv);

}  // namespace hotcore_test

// SKIP_CASE(why) skips the rest of the test case (only in the test case's own body).
#define SKIP_CASE(why)                  \
  do {                                  \
    ::hotcore_test::skip_case(why);     \
    return;                             \
  } while (0)
