// SPDX-License-Identifier: MIT
// bench/alloc_bench.cpp — the per-core allocator (hotcore::arena) against glibc malloc and
// oneTBB's scalable_malloc in one binary, so one run gives the ratios. Every workload runs
// inside tasks on the pool's worker cores (all cores online), the same for each
// allocator; names are <workload>/hotcore, <workload>/malloc, <workload>/tbbmalloc.
//   same_core_64     each core allocates 256 blocks of 64 bytes and frees them, 200 rounds
//   same_core_mixed  the same with sizes 16..1024 (the same sequence for every allocator)
//   cross_core_64    each core allocates 16384 blocks of 64 bytes, then the other core
//                    frees them (producer/consumer), so every free is remote
// Time is real time per iteration (all cores together); items are allocations.
#include <benchmark/benchmark.h>
#include <tbb/scalable_allocator.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <system_error>
#include <vector>

#include "core_tasks.h"
#include "hotcore/arena.h"
#include "hotcore/runtime.h"

namespace {

using hotcore::runtime;

// the_pool() is one runtime with every core online and its arena, made once.
using pool = hotcore::bench::with_subsystem<hotcore::arena>;
pool* the_pool(benchmark::State& state) { return hotcore::bench::shared_pool<hotcore::arena>(state); }

// The three allocators behind one interface.
struct use_hotcore {
  static constexpr const char* name = "hotcore";
  hotcore::arena* a;
  void* alloc(std::size_t n) const noexcept { return a->allocate(n); }
  void free(void* p) const noexcept { a->deallocate(p); }
};
struct use_malloc {
  static constexpr const char* name = "malloc";
  hotcore::arena* a;
  void* alloc(std::size_t n) const noexcept { return std::malloc(n); }
  void free(void* p) const noexcept { std::free(p); }
};
struct use_tbbmalloc {
  static constexpr const char* name = "tbbmalloc";
  hotcore::arena* a;
  void* alloc(std::size_t n) const noexcept { return scalable_malloc(n); }
  void free(void* p) const noexcept { scalable_free(p); }
};

// on_every_core() runs fn(core index) as a task on each core and waits for all of them;
// false, after SkipWithError, when a core refused its task.
template <class F>
bool on_every_core(benchmark::State& state, runtime& rt, F fn) {
  if (hotcore::bench::on_cores(rt, rt.cores(), fn) == 0) return true;
  state.SkipWithError("submit_on refused a task");
  return false;
}

std::vector<std::size_t> mixed_sizes() {
  std::mt19937 rng(1);
  std::vector<std::size_t> sizes(256);
  for (auto& s : sizes) s = std::uniform_int_distribution<std::size_t>(16, 1024)(rng);
  return sizes;
}

template <class A>
void same_core(benchmark::State& state, const std::vector<std::size_t>& sizes) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  const A alloc{p->sub.get()};
  constexpr int rounds = 200;
  const auto churn = [&](std::size_t) {
    void* blocks[256];
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < sizes.size(); ++i) blocks[i] = alloc.alloc(sizes[i]);
      benchmark::DoNotOptimize(blocks);
      for (std::size_t i = 0; i < sizes.size(); ++i) alloc.free(blocks[i]);
    }
  };
  for (auto _ : state)
    if (!on_every_core(state, *p->rt, churn)) break;
  state.SetItemsProcessed(state.iterations() * rounds * static_cast<std::int64_t>(sizes.size()) *
                          static_cast<std::int64_t>(p->rt->cores().size()));
}

template <class A>
void cross_core(benchmark::State& state) {
  pool* p = the_pool(state);
  if (p == nullptr) return;
  const A alloc{p->sub.get()};
  constexpr std::size_t count = 16384;
  const std::size_t n = p->rt->cores().size();
  std::vector<std::vector<void*>> made(n, std::vector<void*>(count));
  for (auto _ : state) {
    if (!on_every_core(state, *p->rt, [&](std::size_t i) {
          for (auto& b : made[i]) b = alloc.alloc(64);
        }) ||
        !on_every_core(state, *p->rt, [&](std::size_t i) {
          for (void* b : made[(i + 1) % n]) alloc.free(b);  // the next core's blocks
        }))
      break;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(count * n));
}

template <class A>
void register_all() {
  static const std::vector<std::size_t> sixty_four(256, 64);
  static const std::vector<std::size_t> mixed = mixed_sizes();
  benchmark::RegisterBenchmark((std::string("same_core_64/") + A::name).c_str(),
                               [](benchmark::State& s) { same_core<A>(s, sixty_four); })
      ->UseRealTime();
  benchmark::RegisterBenchmark((std::string("same_core_mixed/") + A::name).c_str(),
                               [](benchmark::State& s) { same_core<A>(s, mixed); })
      ->UseRealTime();
  benchmark::RegisterBenchmark((std::string("cross_core_64/") + A::name).c_str(),
                               [](benchmark::State& s) { cross_core<A>(s); })
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  register_all<use_hotcore>();
  register_all<use_malloc>();
  register_all<use_tbbmalloc>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
