// SPDX-License-Identifier: MIT
// hotcore/detail/parallel_split.h — the machinery behind hotcore/parallel.h (not part of the
// public contract): the grain and the halving of an index range.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstddef>
#include <type_traits>
#include <utility>

#include "hotcore/runtime.h"
#include "hotcore/task_group.h"

namespace hotcore {
namespace detail {

// auto_grain() picks a grain giving about 8 pieces per worker core: enough for the cores
// to even out their loads by stealing, few enough that a piece costs far more than its
// task (oneTBB's auto_partitioner starts from 4 per thread). A loop whose iterations
// differ widely in cost passes its own grain.
inline std::size_t auto_grain(const runtime& rt, std::size_t n) noexcept {
  const std::size_t chunks = 8 * (rt.cores().empty() ? 1 : rt.cores().size());
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

}  // namespace hotcore
