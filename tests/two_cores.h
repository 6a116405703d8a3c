// SPDX-License-Identifier: MIT
// tests/two_cores.h — a runtime on the first two allowed CPUs (TWO_CPUS) and the event-log
// lines expected of it, written with "coreA" and "coreB" for those two CPUs.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"

namespace hotcore_test {

// two_core_runtime() is a runtime whose worker cores are the two CPUs given (TWO_CPUS),
// both ONLINE.
inline std::unique_ptr<runtime> two_core_runtime(const cpu_pair& cpu) {
  return make_runtime(runtime_options{.cores = {cpu.a, cpu.b}});
}

// line_on() writes an expected log line for the cores a test runs on: "coreA" and "coreB"
// stand for the pair's first and second CPU (core0 and core1 where cpu0 and cpu1 are
// allowed). on() does it for each line.
inline std::string line_on(const cpu_pair& cpu, std::string line) {
  for (const auto& [from, to] : {std::pair{"coreA", cpu.a}, std::pair{"coreB", cpu.b}})
    for (auto at = line.find(from); at != std::string::npos; at = line.find(from, at))
      line.replace(at, 5, "core" + std::to_string(to));
  return line;
}
inline std::vector<std::string> on(const cpu_pair& cpu, std::vector<std::string> lines) {
  for (auto& line : lines) line = line_on(cpu, std::move(line));
  return lines;
}

}  // namespace hotcore_test
