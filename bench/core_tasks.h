// SPDX-License-Identifier: MIT
// bench/core_tasks.h — a benchmark's shared runtime with one subsystem on it, and running
// work as tasks on chosen cores of it and waiting: the one "run fn on a core" of bench/.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include "hotcore/runtime.h"

namespace hotcore::bench {

// on_cores() runs fn(i) as a task on cores[i] for every i and waits until the accepted
// ones have run. Returns 0, or the negative errno of the first submit_on() the runtime
// refused (no task is sent after it; the ones accepted before it still ran).
template <class F>
[[nodiscard]] int on_cores(runtime& rt, std::span<const unsigned> cores, F fn) {
  // acq_rel on the count: each task's writes happen before the waiter's acquire load.
  std::atomic<std::size_t> left{cores.size()};
  int refused = 0;
  for (std::size_t i = 0; i < cores.size() && refused == 0; ++i) {
    refused = rt.submit_on(cores[i], [&, i] {
      fn(i);
      if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) left.notify_one();
    });
    if (refused != 0) left.fetch_sub(cores.size() - i, std::memory_order_acq_rel);
  }
  for (std::size_t v; (v = left.load(std::memory_order_acquire)) != 0;) left.wait(v);
  return refused;
}

// on_core() runs fn() as a task on `core` and waits for it; 0 or submit_on()'s error.
template <class F>
[[nodiscard]] int on_core(runtime& rt, unsigned core, F fn) {
  return on_cores(rt, std::span<const unsigned>(&core, 1), [&](std::size_t) { fn(); });
}

// with_subsystem is a runtime with every core online and one subsystem S on it.
template <class S>
struct with_subsystem {
  std::unique_ptr<runtime> rt;
  std::unique_ptr<S> sub;
};

// shared_pool() is the program's one with_subsystem<S>, made by S::create(rt, ec) on the
// first call; nullptr, after SkipWithError naming why, when it could not be made.
template <class S>
with_subsystem<S>* shared_pool(benchmark::State& state) {
  static with_subsystem<S> p;
  static std::string error;
  if (!p.rt && error.empty()) {
    std::error_code ec;
    p.rt = runtime::create({}, ec);
    if (p.rt) p.sub = S::create(*p.rt, ec);
    if (!p.sub) error = "create: " + ec.message();
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return nullptr;
  }
  return &p;
}

}  // namespace hotcore::bench
