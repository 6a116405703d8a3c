// SPDX-License-Identifier: MIT
// bench/timed_steps.h — how bench/ times hotplug operations: a pair of calls timed once
// per benchmark iteration (a core cycle, an instance added and removed), the error that
// ends the loop, and the median and p99 of the samples.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "../tools/control_cpu.h"

namespace hotcore::bench {

using clock_type = std::chrono::steady_clock;

inline std::int64_t ns_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
}

// skip_failed() ends the benchmark with "op: <strerror(-ret)>"; false, for `return`.
inline bool skip_failed(benchmark::State& state, std::string_view op, int ret) {
  state.SkipWithError((std::string(op) + ": " + std::strerror(-ret)).c_str());
  return false;
}

// timed_calls() calls fn() once per benchmark iteration and returns each call's wall time
// in ns; a false from fn (which reported its error itself) ends the loop.
template <class F>
std::vector<std::int64_t> timed_calls(benchmark::State& state, F fn) {
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    if (!fn()) break;
    ns.push_back(ns_since(t0));
  }
  return ns;
}

// timed_pair() calls first() then second() once per benchmark iteration and returns each
// iteration's wall time in ns. Both return 0 or a negative errno; the first error ends
// the loop through skip_failed() with the failing call's name.
template <class First, class Second>
std::vector<std::int64_t> timed_pair(benchmark::State& state, const char* first_name,
                                     First first, const char* second_name, Second second) {
  std::vector<std::int64_t> ns;
  ns.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    if (const int ret = first(); ret < 0) return skip_failed(state, first_name, ret), ns;
    if (const int ret = second(); ret < 0) return skip_failed(state, second_name, ret), ns;
    ns.push_back(ns_since(t0));
  }
  return ns;
}

// timed_core_cycles() times core_down(core) + core_up(core) per iteration, from a control
// CPU (the calling thread leaves the core's CPU meanwhile: tools/control_cpu.h).
inline std::vector<std::int64_t> timed_core_cycles(benchmark::State& state, runtime& rt,
                                                   unsigned core) {
  const tools::caller_pin control(rt, core, tools::caller_place::control_cpu);
  return timed_pair(state, "core_down", [&] { return rt.core_down(core); },  //
                    "core_up", [&] { return rt.core_up(core); });
}

// timed_instance_cycles() times add_instance + remove_instance of `node` on the
// multi-instance state `st` per iteration.
inline std::vector<std::int64_t> timed_instance_cycles(benchmark::State& state, runtime& rt,
                                                       int st, instance_node& node) {
  return timed_pair(state, "add_instance", [&] { return rt.add_instance(st, &node); },
                    "remove_instance", [&] { return rt.remove_instance(st, &node); });
}

// percentiles holds the nearest-rank median and 99th percentile of ns samples.
struct percentiles {
  std::int64_t p50 = 0;
  std::int64_t p99 = 0;
};

// percentiles_of() reads both off the samples (zeros for none).
inline percentiles percentiles_of(std::vector<std::int64_t> ns) {
  const auto rank = [&](double p) {
    const auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(ns.size())));
    const auto at = ns.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(r, 1) - 1);
    std::nth_element(ns.begin(), at, ns.end());
    return *at;
  };
  if (ns.empty()) return {};
  return {rank(0.50), rank(0.99)};
}

}  // namespace hotcore::bench
