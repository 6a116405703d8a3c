// SPDX-License-Identifier: MIT
// bench/sched_bench.cpp — the task scheduler against oneTBB in one binary, so one run
// gives the ratio: fib with a cutoff, fine-grained fib, parallel_for over 16M doubles,
// spawning from a worker, submitting from outside, wake-up latency of an idle pool, and
// parallel_for while a core goes down and up; sched_trees.cpp adds fork-join round trips,
// nqueens and skynet. Each runs at 1, 2, 4, ... worker cores up to the CPU count (the
// argument, sched_pools.h); names are <workload>/hotcore/cores:N and <workload>/tbb/cores:N.
//
// The fork-join bodies run inside the pool on both sides (hotcore: as a task on a worker,
// see in_pool(); TBB: task_arena::execute), so both compute on exactly `cores` threads.
// fib_external shows the other way, called from the benchmark thread itself.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "hotcore/parallel.h"
#include "hotcore/runtime.h"
#include "hotcore/task_group.h"
#include "sched_pools.h"

namespace {

using hotcore::runtime;
using sched_bench::core_sweep;
using sched_bench::hotcore_rt;
using sched_bench::in_pool;
using sched_bench::tbb_arena;
using clock_type = std::chrono::steady_clock;

// ---- workloads

long serial_fib(int n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

long fib_hotcore(runtime& rt, int n, int cutoff) {
  if (n < cutoff) return serial_fib(n);
  long a = 0, b = 0;
  hotcore::task_group g(rt);
  g.run([&] { a = fib_hotcore(rt, n - 1, cutoff); });
  b = fib_hotcore(rt, n - 2, cutoff);
  g.wait();
  return a + b;
}

long fib_tbb(int n, int cutoff) {
  if (n < cutoff) return serial_fib(n);
  long a = 0, b = 0;
  tbb::task_group g;
  g.run([&] { a = fib_tbb(n - 1, cutoff); });
  b = fib_tbb(n - 2, cutoff);
  g.wait();
  return a + b;
}

// fib(30), a task group per call above the cutoff 20.
void fib_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  for (auto _ : state) in_pool(state, *rt, [rt] { benchmark::DoNotOptimize(fib_hotcore(*rt, 30, 20)); });
}
void fib_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  for (auto _ : state) arena.execute([] { benchmark::DoNotOptimize(fib_tbb(30, 20)); });
}

// fib_external: fib(30) called straight from the benchmark thread, as a program would:
// it helps in wait(), so hotcore computes on its `cores` pinned workers plus this thread;
// TBB attaches the thread to its default arena, held to `cores` threads (this thread plus
// cores - 1 workers) by tbb::global_control.
void fib_external_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  for (auto _ : state) benchmark::DoNotOptimize(fib_hotcore(*rt, 30, 20));
}
void fib_external_tb(benchmark::State& state) {
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(fib_tbb(30, 20));
}

// fib(25) with every call a task.
void fib_fine_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  for (auto _ : state) in_pool(state, *rt, [rt] { benchmark::DoNotOptimize(fib_hotcore(*rt, 25, 2)); });
  state.SetItemsProcessed(state.iterations() * 121392);  // calls with n >= 2
}
void fib_fine_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  for (auto _ : state) arena.execute([] { benchmark::DoNotOptimize(fib_tbb(25, 2)); });
  state.SetItemsProcessed(state.iterations() * 121392);
}

// parallel_for over 16M doubles: v[i] = sqrt(v[i] + 1).
constexpr std::size_t pf_size = std::size_t{1} << 24;
std::vector<double>& pf_data() {
  static std::vector<double> v(pf_size, 1.0);
  return v;
}
void parallel_for_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  auto& v = pf_data();
  for (auto _ : state)
    in_pool(state, *rt, [&] {
      hotcore::parallel_for(*rt, std::size_t{0}, v.size(), [&](std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) v[i] = std::sqrt(v[i] + 1);
      });
    });
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(pf_size * sizeof(double)));
}
void parallel_for_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  auto& v = pf_data();
  for (auto _ : state)
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, v.size()),
                        [&](const tbb::blocked_range<std::size_t>& r) {
                          for (std::size_t i = r.begin(); i < r.end(); ++i) v[i] = std::sqrt(v[i] + 1);
                        });
    });
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(pf_size * sizeof(double)));
}

// spawn: one task on a worker spawns 10000 empty tasks into a group and waits.
constexpr int spawn_count = 10000;
void spawn_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  for (auto _ : state)
    in_pool(state, *rt, [rt] {
      hotcore::task_group g(*rt);
      for (int i = 0; i < spawn_count; ++i) g.run([] {});
      g.wait();
    });
  state.SetItemsProcessed(state.iterations() * spawn_count);
}
void spawn_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  for (auto _ : state)
    arena.execute([] {
      tbb::task_group g;
      for (int i = 0; i < spawn_count; ++i) g.run([] {});
      g.wait();
    });
  state.SetItemsProcessed(state.iterations() * spawn_count);
}

// submit_external: the benchmark thread submits 10000 empty tasks and waits for them.
void submit_external_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  for (auto _ : state) {
    std::atomic<std::uint32_t> left{spawn_count};
    for (int i = 0; i < spawn_count; ++i)
      if (rt->submit([&] {
            if (left.fetch_sub(1) == 1) left.notify_one();
          }) != 0)
        state.SkipWithError("submit failed");
    for (std::uint32_t v; (v = left.load()) != 0;) left.wait(v);
  }
  state.SetItemsProcessed(state.iterations() * spawn_count);
}
void submit_external_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  for (auto _ : state) {
    std::atomic<std::uint32_t> left{spawn_count};
    for (int i = 0; i < spawn_count; ++i)
      arena.enqueue([&] {
        if (left.fetch_sub(1) == 1) left.notify_one();
      });
    for (std::uint32_t v; (v = left.load()) != 0;) left.wait(v);
  }
  state.SetItemsProcessed(state.iterations() * spawn_count);
}

// wake_latency: the pool has been idle for 2 ms (its workers asleep); time from submit
// to the task starting. Counters p50_us and p99_us.
template <class Submit>
void wake_latency(benchmark::State& state, Submit submit) {
  std::vector<double> us;
  for (auto _ : state) {
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::atomic<std::int64_t> started{0};
    state.ResumeTiming();
    const auto t0 = clock_type::now();
    submit([&] {
      started.store((clock_type::now() - t0).count() + 1);
      started.notify_one();
    });
    for (std::int64_t v; (v = started.load()) == 0;) started.wait(v);
    us.push_back(static_cast<double>(started.load() - 1) / 1000.0);
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
}
void wake_latency_hc(benchmark::State& state) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  wake_latency(state, [rt](auto fn) { (void)rt->submit(std::move(fn)); });
}
void wake_latency_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  wake_latency(state, [&arena](auto fn) { arena.enqueue(std::move(fn)); });
}

// churn: parallel_for over 1M doubles while the last core goes down and up every ms
// (churn/hotcore), and the same without churn (churn_off/hotcore). Counter cycles: how
// many down+up cycles happened per iteration.
constexpr std::size_t churn_size = std::size_t{1} << 20;
void churn_common(benchmark::State& state, bool churn) {
  runtime* rt = hotcore_rt(state);
  if (!rt) return;
  if (rt->cores().size() < 2) {
    state.SkipWithError("skipped: needs two cores");
    return;
  }
  std::vector<double> v(churn_size, 1.0);
  std::atomic<bool> stop{false};
  std::atomic<long> cycles{0};
  std::thread churner;
  if (churn)
    churner = std::thread([&] {
      const unsigned core = rt->cores().back();
      while (!stop.load()) {
        if (rt->core_down(core) == 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(500));
          while (rt->core_up(core) != 0) std::this_thread::yield();
          cycles.fetch_add(1);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    });
  for (auto _ : state)
    hotcore::parallel_for(*rt, std::size_t{0}, v.size(), 4096, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) v[i] = std::sqrt(v[i] + 1);
    });
  stop.store(true);
  if (churner.joinable()) churner.join();
  state.counters["cycles"] =
      benchmark::Counter(static_cast<double>(cycles.load()), benchmark::Counter::kAvgIterations);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(churn_size * sizeof(double)));
}
void churn_hc(benchmark::State& state) { churn_common(state, true); }
void churn_off_hc(benchmark::State& state) { churn_common(state, false); }

HOTCORE_VS_TBB(fib);
HOTCORE_VS_TBB(fib_external);
HOTCORE_VS_TBB(fib_fine);
HOTCORE_VS_TBB(parallel_for);
HOTCORE_VS_TBB(spawn);
HOTCORE_VS_TBB(submit_external);
BENCHMARK(wake_latency_hc)->Name("wake_latency/hotcore")->Apply(core_sweep)->Iterations(300);
BENCHMARK(wake_latency_tb)->Name("wake_latency/tbb")->Apply(core_sweep)->Iterations(300);
BENCHMARK(churn_hc)->Name("churn/hotcore")->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(churn_off_hc)->Name("churn_off/hotcore")->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
