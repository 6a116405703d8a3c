// SPDX-License-Identifier: MIT
// bench/timer_bench.cpp — the per-core timers (hotcore::timer_service): what arming and
// firing a timer cost, and how late timers fire (fire time - deadline, CLOCK_MONOTONIC).
//   arm_fire/local      a task arms 1000 timers on its core, all due at once, and the
//                       benchmark waits until all fired: arm + fire per timer
//   arm_fire/remote     the same, armed from the benchmark thread (outside the pool): each
//                       goes through a core's inbox and kicks its worker
//   arm_cancel/local    a task arms 1000 timers 10 ms away and cancels each at once
//   lateness/sleeping   one timer at a time, 1-3 ms ahead (past the worker's 500 us idle
//                       spin), armed from a task; the worker sleeps in ppoll() until it is
//                       due: counters p50_ns and p99_ns of fire time - deadline
//   lateness/spinning   the same 20-300 us ahead: the worker is still in its idle spin
//   lateness/busy       200-700 us ahead while the core's worker runs a stream of 5 us
//                       tasks (it polls between tasks, at least every 64)
// Time is real time; items are timers.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <system_error>
#include <vector>

#include "core_tasks.h"
#include "hotcore/runtime.h"
#include "hotcore/timers.h"

namespace {

using hotcore::runtime;
using hotcore::timer_service;
using hotcore::bench::on_core;

using pool = hotcore::bench::with_subsystem<timer_service>;
pool* the_pool(benchmark::State& state) { return hotcore::bench::shared_pool<timer_service>(state); }

// ran_on() runs fn as a task on `core` and waits; false, after SkipWithError, when the
// core refused the task.
template <class F>
bool ran_on(benchmark::State& state, runtime& rt, unsigned core, F fn) {
  if (on_core(rt, core, fn) == 0) return true;
  state.SkipWithError("submit_on refused the task");
  return false;
}

void wait_for(const std::atomic<std::uint32_t>& count, std::uint32_t n) {
  for (std::uint32_t v; (v = count.load(std::memory_order_acquire)) < n;) count.wait(v);
}

constexpr std::uint32_t batch = 1000;

// arm_batch() arms `batch` timers due at once; the last to fire wakes `fired`'s waiter.
void arm_batch(timer_service& timers, std::atomic<std::uint32_t>& fired) {
  const std::int64_t now = timer_service::now_ns();
  for (std::uint32_t i = 0; i < batch; ++i)
    (void)timers.arm_at(now, [&] {
      if (fired.fetch_add(1, std::memory_order_acq_rel) + 1 == batch) fired.notify_one();
    });
}

void arm_fire_local(benchmark::State& state) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  const unsigned core = p->rt->cores().back();
  std::atomic<std::uint32_t> fired{0};
  for (auto _ : state) {
    fired.store(0);
    if (!ran_on(state, *p->rt, core, [&] { arm_batch(*p->sub, fired); })) break;
    wait_for(fired, batch);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void arm_fire_remote(benchmark::State& state) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  std::atomic<std::uint32_t> fired{0};
  for (auto _ : state) {
    fired.store(0);
    arm_batch(*p->sub, fired);
    wait_for(fired, batch);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void arm_cancel_local(benchmark::State& state) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  const unsigned core = p->rt->cores().back();
  std::uint64_t not_cancelled = 0;
  for (auto _ : state)
    if (!ran_on(state, *p->rt, core, [&] {
          const std::int64_t at = timer_service::now_ns() + 10'000'000;
          for (std::uint32_t i = 0; i < batch; ++i) {
            auto h = p->sub->arm_at(at, [] {});
            not_cancelled += p->sub->cancel(h) ? 0 : 1;
          }
        }))
      break;
  if (not_cancelled != 0) state.SkipWithError("a timer could not be cancelled");
  state.SetItemsProcessed(state.iterations() * batch);
}

// busy_loop resubmits itself to its core until *stop: a stream of ~5 us tasks; *left
// drops to 0 when the stream has ended.
struct busy_loop {
  runtime* rt;
  unsigned core;
  std::atomic<bool>* stop;
  std::atomic<int>* left;
  void operator()() const {
    const std::int64_t until = timer_service::now_ns() + 5'000;
    while (timer_service::now_ns() < until) {
    }
    if (!stop->load(std::memory_order_relaxed) && rt->submit_on(core, *this) == 0) return;
    left->fetch_sub(1, std::memory_order_release);
  }
};

// lateness() arms one timer at a time from a task on the last core and records how late
// each fires; with `busy`, the core's worker meanwhile runs short tasks back to back.
void lateness(benchmark::State& state, bool busy, std::int64_t lo, std::int64_t hi) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  const unsigned core = p->rt->cores().back();
  std::vector<std::int64_t> late;
  std::mt19937 rng(3);
  std::atomic<bool> stop_busy{false};
  std::atomic<int> busy_left{0};
  if (busy) {
    busy_left.store(1);
    if (p->rt->submit_on(core, busy_loop{p->rt.get(), core, &stop_busy, &busy_left}) != 0)
      busy_left.store(0);
  }
  for (auto _ : state) {
    std::atomic<std::uint32_t> fired{0};
    std::int64_t at = 0;
    const std::int64_t delay = std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    if (!ran_on(state, *p->rt, core, [&] {
          at = timer_service::now_ns() + delay;
          (void)p->sub->arm_at(at, [&] {
            late.push_back(timer_service::now_ns() - at);
            fired.store(1, std::memory_order_release);
            fired.notify_one();
          });
        }))
      break;
    wait_for(fired, 1);
  }
  stop_busy.store(true);
  while (busy_left.load(std::memory_order_acquire) != 0) {
  }
  std::sort(late.begin(), late.end());
  auto pct = [&](double q) {
    return late.empty() ? 0.0
                        : static_cast<double>(late[std::min(late.size() - 1,
                                                            static_cast<std::size_t>(q * static_cast<double>(late.size())))]);
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["min_ns"] = late.empty() ? 0.0 : static_cast<double>(late.front());
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(arm_fire_local)->Name("arm_fire/local")->UseRealTime();
BENCHMARK(arm_fire_remote)->Name("arm_fire/remote")->UseRealTime();
BENCHMARK(arm_cancel_local)->Name("arm_cancel/local")->UseRealTime();
BENCHMARK_CAPTURE(lateness, sleeping, false, 1'000'000, 3'000'000)
    ->Name("lateness/sleeping")->UseRealTime()->Iterations(1000);
BENCHMARK_CAPTURE(lateness, spinning, false, 20'000, 300'000)
    ->Name("lateness/spinning")->UseRealTime()->Iterations(2000);
BENCHMARK_CAPTURE(lateness, busy, true, 200'000, 700'000)
    ->Name("lateness/busy")->UseRealTime()->Iterations(2000);

BENCHMARK_MAIN();
