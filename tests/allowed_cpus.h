// SPDX-License-Identifier: MIT
// tests/allowed_cpus.h — the CPUs a test may use: the first two this process is allowed on
// (sched_getaffinity), instead of cpu0 and cpu1, and a skip where there are fewer.
#pragma once

#include <sched.h>

#include <optional>
#include <vector>

#include "runner.h"

namespace hotcore_test {

// allowed_cpus() lists the CPUs in this process's affinity mask, in order.
inline std::vector<unsigned> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<unsigned> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

// cpu_pair is the first two allowed CPUs: `a` plays cpu0's part in a test, `b` cpu1's.
struct cpu_pair {
  unsigned a;
  unsigned b;
};

// first_two_cpus() is the pair, or nothing when fewer than two CPUs are allowed.
inline std::optional<cpu_pair> first_two_cpus() {
  const std::vector<unsigned> cpus = allowed_cpus();
  if (cpus.size() < 2) return std::nullopt;
  return cpu_pair{cpus[0], cpus[1]};
}

}  // namespace hotcore_test

// TWO_CPUS(name) declares `const cpu_pair name`, or skips the test case when this process
// may run on fewer than two CPUs (taskset -c 0).
#define TWO_CPUS(name)                                                               \
  const auto name##_or = ::hotcore_test::first_two_cpus();                           \
  if (!name##_or) SKIP_CASE("needs two allowed CPUs; this process may use only one"); \
  const ::hotcore_test::cpu_pair name = *name##_or

// CPUS_0_AND_1() skips the test case unless cpu0 and cpu1 are the first two allowed CPUs:
// for a case that still names them (core numbers, "core1" in its expected logs).
#define CPUS_0_AND_1()                                                                 \
  do {                                                                                 \
    const auto pair_ = ::hotcore_test::first_two_cpus();                               \
    if (!pair_ || pair_->a != 0 || pair_->b != 1)                                      \
      SKIP_CASE("it names cpu0 and cpu1; this process may not use both"); \
  } while (0)

// NEEDS_TWO_CPUS() skips the test case when this process may run on fewer than two CPUs
// (a runtime created with the default cores then has one worker core).
#define NEEDS_TWO_CPUS()                                                   \
  do {                                                                     \
    if (!::hotcore_test::first_two_cpus())                                 \
      SKIP_CASE("needs two allowed CPUs; this process may use only one");  \
  } while (0)
