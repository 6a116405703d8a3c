// SPDX-License-Identifier: MIT
// tests/test_main.cpp — the doctest main, built once as a static library that every test
// executable links.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
