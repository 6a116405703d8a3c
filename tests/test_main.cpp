// SPDX-License-Identifier: MIT
// tests/test_main.cpp — main() for the doctest suites without their own: the shared
// runner (skips counted, leaks failed).
#include "runner.h"

int main(int argc, char** argv) { return hotcore_test::run_suite(argc, argv); }
