// SPDX-License-Identifier: MIT
// bench/sched_trees.cpp — three more sched_bench workloads, each in hotcore and oneTBB
// with its result checked: fork-join round trips (1000 parallel_for calls over 2048
// elements each), BOTS-style nqueens (n = 12, a task per placement in the first 5 rows)
// and skynet (a 10-ary tree of 10^6 leaves, every node a task, summing the leaf indices).
// A wrong result ends the benchmark with an error, which bench/smoke.py counts as a
// failure.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hotcore/parallel.h"
#include "hotcore/runtime.h"
#include "hotcore/task_group.h"
#include "sched_pools.h"

namespace sched_bench {
namespace {

// check() ends the benchmark with an error when a workload computed a wrong result.
void check(benchmark::State& state, bool ok, const char* what) {
  if (!ok) state.SkipWithError(what);
}

// ---- fork-join round trips: many small parallel_for calls, each a full fork and join.

constexpr int fj_calls = 1000;
constexpr std::size_t fj_size = 2048;

// fj_done() is true when every element was incremented once per call of every iteration.
bool fj_done(const std::vector<std::int64_t>& v, std::int64_t iterations) {
  return std::all_of(v.begin(), v.end(), [&](std::int64_t x) { return x == iterations * fj_calls; });
}

void fork_join_hc(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  std::vector<std::int64_t> v(fj_size, 0);
  for (auto _ : state)
    in_pool(state, *rt, [&] {
      for (int c = 0; c < fj_calls; ++c)
        hotcore::parallel_for(*rt, std::size_t{0}, fj_size, [&](std::size_t i) { ++v[i]; });
    });
  check(state, fj_done(v, state.iterations()), "fork_join: an element was not incremented once per call");
  state.SetItemsProcessed(state.iterations() * fj_calls);
}
void fork_join_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  std::vector<std::int64_t> v(fj_size, 0);
  for (auto _ : state)
    arena.execute([&] {
      for (int c = 0; c < fj_calls; ++c)
        tbb::parallel_for(std::size_t{0}, fj_size, [&](std::size_t i) { ++v[i]; });
    });
  check(state, fj_done(v, state.iterations()), "fork_join: an element was not incremented once per call");
  state.SetItemsProcessed(state.iterations() * fj_calls);
}

// ---- nqueens: count the placements of n queens, one bit per column; below `cutoff`
// rows the search is serial (BOTS's manual cutoff).

constexpr int nq_n = 12;
constexpr int nq_cutoff = 5;
constexpr long nq_solutions = 14200;  // for n = 12

long nq_serial(int row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
  if (row == nq_n) return 1;
  long count = 0;
  for (std::uint32_t free = ~(cols | d1 | d2) & ((1u << nq_n) - 1); free != 0; free &= free - 1) {
    const std::uint32_t bit = free & -free;
    count += nq_serial(row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
  }
  return count;
}

// nq_tasks() runs one task per free column of this row, each counting its subtree.
template <class Group, class Recurse>
long nq_tasks(Group& g, int row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2,
              Recurse recurse) {
  long counts[nq_n] = {};
  int k = 0;
  for (std::uint32_t free = ~(cols | d1 | d2) & ((1u << nq_n) - 1); free != 0; free &= free - 1) {
    const std::uint32_t bit = free & -free;
    long* slot = &counts[k++];
    g.run([=] { *slot = recurse(row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1); });
  }
  g.wait();
  long sum = 0;
  for (int i = 0; i < k; ++i) sum += counts[i];
  return sum;
}

long nq_hotcore(hotcore::runtime& rt, int row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
  if (row >= nq_cutoff) return nq_serial(row, cols, d1, d2);
  hotcore::task_group g(rt);
  return nq_tasks(g, row, cols, d1, d2, [&rt](int r, std::uint32_t c, std::uint32_t a, std::uint32_t b) {
    return nq_hotcore(rt, r, c, a, b);
  });
}
long nq_tbb(int row, std::uint32_t cols, std::uint32_t d1, std::uint32_t d2) {
  if (row >= nq_cutoff) return nq_serial(row, cols, d1, d2);
  tbb::task_group g;
  return nq_tasks(g, row, cols, d1, d2, [](int r, std::uint32_t c, std::uint32_t a, std::uint32_t b) {
    return nq_tbb(r, c, a, b);
  });
}

void nqueens_hc(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  bool ok = true;
  for (auto _ : state) {
    long n = 0;
    in_pool(state, *rt, [&] { n = nq_hotcore(*rt, 0, 0, 0, 0); });
    ok = ok && n == nq_solutions;
  }
  check(state, ok, "nqueens: wrong number of solutions");
}
void nqueens_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  bool ok = true;
  for (auto _ : state) {
    long n = 0;
    arena.execute([&] { n = nq_tbb(0, 0, 0, 0); });
    ok = ok && n == nq_solutions;
  }
  check(state, ok, "nqueens: wrong number of solutions");
}

// ---- skynet: node `index` at `depth` has the ten children index * 10 + i, each a task;
// a leaf returns its index, a node the sum of its children's.

constexpr int sky_depth = 6;                       // 10^6 leaves
constexpr std::int64_t sky_tasks = 1'111'111;      // every node, the root included
constexpr std::int64_t sky_sum = 499'999'500'000;  // 0 + 1 + ... + 999999

template <class Group, class Recurse>
std::int64_t sky_children(Group& g, std::int64_t index, int depth, Recurse recurse) {
  std::int64_t sums[10];
  for (int i = 0; i < 10; ++i) {
    std::int64_t* slot = &sums[i];
    g.run([=] { *slot = recurse(index * 10 + i, depth - 1); });
  }
  g.wait();
  std::int64_t sum = 0;
  for (const std::int64_t s : sums) sum += s;
  return sum;
}

std::int64_t sky_hotcore(hotcore::runtime& rt, std::int64_t index, int depth) {
  if (depth == 0) return index;
  hotcore::task_group g(rt);
  return sky_children(g, index, depth, [&rt](std::int64_t i, int d) { return sky_hotcore(rt, i, d); });
}
std::int64_t sky_tbb(std::int64_t index, int depth) {
  if (depth == 0) return index;
  tbb::task_group g;
  return sky_children(g, index, depth, [](std::int64_t i, int d) { return sky_tbb(i, d); });
}

void skynet_hc(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  bool ok = true;
  for (auto _ : state) {
    std::int64_t sum = 0;
    in_pool(state, *rt, [&] { sum = sky_hotcore(*rt, 0, sky_depth); });
    ok = ok && sum == sky_sum;
  }
  check(state, ok, "skynet: wrong sum of the leaf indices");
  state.SetItemsProcessed(state.iterations() * sky_tasks);
}
void skynet_tb(benchmark::State& state) {
  auto& arena = tbb_arena(state);
  bool ok = true;
  for (auto _ : state) {
    std::int64_t sum = 0;
    arena.execute([&] { sum = sky_tbb(0, sky_depth); });
    ok = ok && sum == sky_sum;
  }
  check(state, ok, "skynet: wrong sum of the leaf indices");
  state.SetItemsProcessed(state.iterations() * sky_tasks);
}

HOTCORE_VS_TBB(fork_join);
HOTCORE_VS_TBB(nqueens);
HOTCORE_VS_TBB(skynet);

}  // namespace
}  // namespace sched_bench
