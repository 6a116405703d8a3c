// SPDX-License-Identifier: MIT
// hotcore/parallel.h — parallel_for and parallel_reduce over an index range, split in
// halves down to a grain size and run as tasks of a task_group on the active cores.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "hotcore/runtime.h"
#include "hotcore/task_group.h"

namespace hotcore {
namespace detail {

// auto_grain() picks a grain giving about 64 pieces per worker core: enough for the
// cores to even out their loads by stealing, few enough that a piece costs far more than
// its task.
inline std::size_t auto_grain(const runtime& rt, std::size_t n) noexcept {
  const std::size_t chunks = 64 * (rt.cores().empty() ? 1 : rt.cores().size());
  return n / chunks > 0 ? n / chunks : 1;
}

// for_body is what every chunk task of one parallel_for shares (it lives on the caller's
// stack, which waits for all of them).
template <class Index, class F>
struct for_body {
  F& fn;
  std::size_t grain;
  task_group& group;

  // split() hands the upper halves of [b, e) to the group until the rest fits one grain,
  // and runs that rest here.
  void split(Index b, Index e) const {
    while (static_cast<std::size_t>(e - b) > grain) {
      const Index mid = static_cast<Index>(b + (e - b) / 2);
      group.run([this, mid, e] { split(mid, e); });
      e = mid;
    }
    if constexpr (std::is_invocable_v<F&, Index, Index>) {
      fn(b, e);
    } else {
      for (Index i = b; i < e; ++i) fn(i);
    }
  }
};

template <class Index, class T, class Map, class Reduce>
T reduce_range(runtime& rt, Index b, Index e, std::size_t grain, const T& identity, Map& map,
               Reduce& reduce) {
  if (static_cast<std::size_t>(e - b) <= grain) return map(b, e, identity);
  const Index mid = static_cast<Index>(b + (e - b) / 2);
  T right = identity;
  task_group g(rt);
  g.run([&] { right = reduce_range(rt, mid, e, grain, identity, map, reduce); });
  T left = reduce_range(rt, b, mid, grain, identity, map, reduce);
  g.wait();
  return reduce(std::move(left), std::move(right));
}

}  // namespace detail

// parallel_for() calls fn for every index in [begin, end) — fn(i) per index, or
// fn(chunk_begin, chunk_end) per chunk if fn takes two indices — from tasks on the active
// cores, and returns when all calls returned. The range is halved until a piece holds at
// most `grain` indices (0: about 64 pieces per core). The calling thread runs pieces too.
// If calls throw, the other pieces still run and the first exception is rethrown here.
//
// Example:
//   std::vector<double> v(1 << 24, 1.0);
//   hotcore::parallel_for(*rt, std::size_t{0}, v.size(), 16384,
//                         [&](std::size_t i) { v[i] = std::sqrt(v[i] + 1); });
template <std::integral I, std::integral J, class F>
void parallel_for(runtime& rt, I begin, J end, std::size_t grain, F&& fn) {
  using Index = std::common_type_t<I, J>;
  const Index b = static_cast<Index>(begin), e = static_cast<Index>(end);
  if (!(b < e)) return;
  if (grain == 0) grain = detail::auto_grain(rt, static_cast<std::size_t>(e - b));
  task_group g(rt);
  const detail::for_body<Index, std::remove_reference_t<F>> body{fn, grain, g};
  body.split(b, e);
  g.wait();
}

// parallel_for() without a grain picks one (about 64 pieces per core).
template <std::integral I, std::integral J, class F>
void parallel_for(runtime& rt, I begin, J end, F&& fn) {
  parallel_for(rt, begin, end, std::size_t{0}, std::forward<F>(fn));
}

// parallel_reduce() splits [begin, end) like parallel_for, computes map(b, e, identity)
// -> T for each piece, and combines neighbouring results with reduce(T left, T right) -> T
// in a fixed tree, so for a given grain the result does not depend on timing (it is
// deterministic even for floating point). Returns identity for an empty range.
//
// Example:
//   double sum = hotcore::parallel_reduce(*rt, 0, n, 4096, 0.0,
//       [&](int b, int e, double acc) { for (int i = b; i < e; ++i) acc += v[i]; return acc; },
//       std::plus<>{});
template <std::integral I, std::integral J, class T, class Map, class Reduce>
T parallel_reduce(runtime& rt, I begin, J end, std::size_t grain, T identity, Map&& map,
                  Reduce&& reduce) {
  using Index = std::common_type_t<I, J>;
  const Index b = static_cast<Index>(begin), e = static_cast<Index>(end);
  if (!(b < e)) return identity;
  if (grain == 0) grain = detail::auto_grain(rt, static_cast<std::size_t>(e - b));
  return detail::reduce_range(rt, b, e, grain, identity, map, reduce);
}

}  // namespace hotcore
