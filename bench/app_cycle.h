// SPDX-License-Identifier: MIT
// bench/app_cycle.h — the core cycle as an application sees it: core_down() + core_up()
// called in a loop from a thread of its own (outside the pool), optionally with the
// per-core subsystems up; shared by hotplug_bench and core_cost_bench.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "hotcore/arena.h"
#include "hotcore/io_context.h"
#include "hotcore/runtime.h"
#include "hotcore/timers.h"
#include "timed_steps.h"
#include "../tools/control_cpu.h"

namespace hotcore::bench {

// subsystems are an io_uring state with one io_context, an arena and a timer service, on
// every online core while they live (the newest goes first).
struct subsystems {
  std::unique_ptr<io_uring_state> io_state;
  std::unique_ptr<io_context> io;
  std::unique_ptr<arena> memory;
  std::unique_ptr<timer_service> timers;
  ~subsystems() {
    timers.reset();
    memory.reset();
    io.reset();  // the instance before its state
  }
};

// bring_up() starts them through the public API: "" or what failed.
inline std::string bring_up(runtime& rt, subsystems& s) {
  std::error_code ec;
  if (!(s.io_state = io_uring_state::install(rt, ec)) || !(s.io = io_context::create(*s.io_state, ec)))
    return "io_uring: " + ec.message();
  if (!(s.memory = arena::create(rt, ec))) return "arena: " + ec.message();
  if (!(s.timers = timer_service::create(rt, ec))) return "timers: " + ec.message();
  return "";
}

// app_cycle_result is each cycle's duration in ns, or the call that failed and its errno.
struct app_cycle_result {
  std::vector<std::int64_t> ns;
  const char* failed = nullptr;  // "core_down" or "core_up"
  int error = 0;                 // its negative errno
};

// app_cycles() runs `count` cycles of core_down(core) + core_up(core) on a new thread,
// which runs where `where` says (tools/control_cpu.h), and times each one there.
inline app_cycle_result app_cycles(runtime& rt, unsigned core, long count,
                                   tools::caller_place where) {
  app_cycle_result r;
  r.ns.reserve(static_cast<std::size_t>(count));
  std::thread app([&] {
    const tools::caller_pin pin(rt, core, where);
    using clock = std::chrono::steady_clock;
    for (long i = 0; i < count; ++i) {
      const auto t0 = clock::now();
      if ((r.error = rt.core_down(core)) < 0) return void(r.failed = "core_down");
      if ((r.error = rt.core_up(core)) < 0) return void(r.failed = "core_up");
      r.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count());
    }
  });
  app.join();
  return r;
}

// run_app_cycles() is one benchmark of app_cycles(): each iteration is `cycles` cycles of
// the runtime's last core, with the subsystems up when `with_subsystems`, called from a
// control CPU or from the core's own CPU (`where`). The Time column is the mean cycle
// (manual time); counters `<prefix>mean`, `<prefix>p50`, `<prefix>p99` are in ns, or in us
// when `in_us`.
inline void run_app_cycles(benchmark::State& state, runtime& rt, long cycles, bool with_subsystems,
                           bool in_us, tools::caller_place where = tools::caller_place::control_cpu) {
  subsystems subs;
  if (with_subsystems)
    if (const std::string why = bring_up(rt, subs); !why.empty())
      return state.SkipWithError(("subsystems: " + why).c_str());
  const unsigned core = rt.cores().back();
  std::vector<std::int64_t> all;
  for (auto _ : state) {
    app_cycle_result r = app_cycles(rt, core, cycles, where);
    if (r.failed != nullptr)
      return state.SkipWithError((std::string(r.failed) + ": " + std::strerror(-r.error)).c_str());
    const double sum = static_cast<double>(std::accumulate(r.ns.begin(), r.ns.end(), std::int64_t{0}));
    state.SetIterationTime(sum / static_cast<double>(cycles) / 1e9);
    all.insert(all.end(), r.ns.begin(), r.ns.end());
  }
  const double scale = in_us ? 1e3 : 1.0;
  const char* unit = in_us ? "_us" : "_ns";
  const double sum = static_cast<double>(std::accumulate(all.begin(), all.end(), std::int64_t{0}));
  const std::size_t count = all.size();
  if (count == 0) return;
  const percentiles p = percentiles_of(std::move(all));
  state.counters[std::string("mean") + unit] = sum / static_cast<double>(count) / scale;
  state.counters[std::string("p50") + unit] = static_cast<double>(p.p50) / scale;
  state.counters[std::string("p99") + unit] = static_cast<double>(p.p99) / scale;
  state.counters["cycles"] = static_cast<double>(count);
}

}  // namespace hotcore::bench
