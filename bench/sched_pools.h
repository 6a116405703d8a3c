// SPDX-License-Identifier: MIT
// bench/sched_pools.h — the two pools sched_bench compares, made at a given worker core
// count: a hotcore runtime on the first N worker cores and a oneTBB arena of N threads,
// the core-count sweep (1, 2, 4, ... up to the CPUs this process may use) and in_pool(),
// which runs a fork-join root inside the hotcore pool as task_arena::execute does in TBB.
#pragma once

#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "allowed_cpus.h"
#include "hotcore/runtime.h"

namespace sched_bench {

// usable_cpus() is how many CPUs this process may run on: hardware_concurrency() unless
// an affinity mask (taskset, a cpuset) allows fewer. The sweep stops there, since neither
// pool can use more.
inline int usable_cpus() {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  const int allowed = static_cast<int>(hotcore::bench::allowed_cpus().size());
  if (allowed == 0) return hw > 0 ? hw : 1;
  return hw > 0 && hw < allowed ? hw : allowed;
}

// HOTCORE_VS_TBB(workload) registers workload_hc as "workload/hotcore" and workload_tb as
// "workload/tbb", both over core_sweep(): the pair one run compares.
#define HOTCORE_VS_TBB(workload)                                               \
  BENCHMARK(workload##_hc)->Name(#workload "/hotcore")->Apply(core_sweep);   \
  BENCHMARK(workload##_tb)->Name(#workload "/tbb")->Apply(core_sweep)

// core_sweep() gives a benchmark the core counts 1, 2, 4, ... and the CPU count itself
// (also when it is not a power of two), named cores:N, timed in real time.
inline void core_sweep(benchmark::internal::Benchmark* b) {
  const int cpus = usable_cpus();
  b->ArgName("cores");
  for (int n = 1; n < cpus; n *= 2) b->Arg(n);
  b->Arg(cpus);
  b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

// hotcore_rt() is a runtime on the first `cores` worker cores (state.range(0)), every core
// online. Only one lives at a time: moving to another count destroys the last one, so no
// idle pool of another size shares the CPUs with the one measured.
inline hotcore::runtime* hotcore_rt(benchmark::State& state) {
  static std::unique_ptr<hotcore::runtime> rt;
  static int made_for = 0;
  const int cores = static_cast<int>(state.range(0));
  if (rt && made_for == cores) return rt.get();
  rt.reset();
  made_for = 0;
  std::error_code ec;
  auto probe = hotcore::runtime::create({.cores = {}, .online_at_start = false}, ec);
  if (!probe || static_cast<int>(probe->cores().size()) < cores) {
    state.SkipWithError("skipped: not enough worker cores");
    return nullptr;
  }
  std::vector<unsigned> ids(probe->cores().begin(), probe->cores().begin() + cores);
  probe.reset();
  rt = hotcore::runtime::create({.cores = ids, .online_at_start = true}, ec);
  if (!rt) {
    state.SkipWithError(("runtime::create: " + ec.message()).c_str());
    return nullptr;
  }
  made_for = cores;
  return rt.get();
}

// tbb_arena() is an arena of `cores` threads (the calling thread plus cores - 1 workers);
// like hotcore_rt(), one at a time.
inline tbb::task_arena& tbb_arena(benchmark::State& state) {
  static std::unique_ptr<tbb::task_arena> arena;
  const int cores = static_cast<int>(state.range(0));
  if (!arena || arena->max_concurrency() != cores) {
    arena = std::make_unique<tbb::task_arena>(cores);
    arena->initialize();
  }
  return *arena;
}

// in_pool() runs fn as a task on a worker and waits for it, as tbb::task_arena::execute
// runs its body inside the arena: both pools then compute on exactly `cores` threads
// (an outside thread waiting in task_group::wait() would help, and be one thread more).
template <class F>
void in_pool(benchmark::State& state, hotcore::runtime& rt, F fn) {
  // release/acquire: the task's results (written by fn) are read after the loop.
  std::atomic<std::uint32_t> done{0};
  if (rt.submit([&] {
        fn();
        done.store(1, std::memory_order_release);
      }) != 0) {
    state.SkipWithError("submit failed");
    return;
  }
  // Poll, yielding: a futex sleep would add a wake-up (tens of us on a VM) to every
  // iteration, which TBB's execute() does not pay.
  while (done.load(std::memory_order_acquire) == 0) std::this_thread::yield();
}

}  // namespace sched_bench
