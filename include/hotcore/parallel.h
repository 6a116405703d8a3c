// SPDX-License-Identifier: MIT
/// @file
/// hotcore/parallel.h — parallel_for and parallel_reduce over an index range, split in
/// halves down to a grain size and run as tasks of a task_group on the active cores.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "hotcore/detail/parallel_split.h"
#include "hotcore/runtime.h"
#include "hotcore/task_group.h"

namespace hotcore {

/// parallel_for() calls fn for every index in [begin, end) — fn(i) per index, or
/// fn(chunk_begin, chunk_end) per chunk if fn takes two indices — from tasks on the active
/// cores, and returns when all calls returned. The range is halved until a piece holds at
/// most `grain` indices (0: about 8 pieces per core). The calling thread runs pieces too.
/// If calls throw, the other pieces still run and the first exception is rethrown here.
///
/// Example:
/// @code
/// std::vector<double> v(1 << 24, 1.0);
/// hotcore::parallel_for(*rt, std::size_t{0}, v.size(), 16384,
///                       [&](std::size_t i) { v[i] = std::sqrt(v[i] + 1); });
/// @endcode
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

/// parallel_for() without a grain picks one (about 8 pieces per core).
template <std::integral I, std::integral J, class F>
void parallel_for(runtime& rt, I begin, J end, F&& fn) {
  parallel_for(rt, begin, end, std::size_t{0}, std::forward<F>(fn));
}

/// parallel_reduce() splits [begin, end) like parallel_for, computes map(b, e, identity)
/// -> T for each piece, and combines neighbouring results with reduce(T left, T right) -> T
/// in a fixed tree, so for a given grain the result does not depend on timing (it is
/// deterministic even for floating point). Returns identity for an empty range.
///
/// Example:
/// @code
/// double sum = hotcore::parallel_reduce(*rt, 0, n, 4096, 0.0,
///     [&](int b, int e, double acc) { for (int i = b; i < e; ++i) acc += v[i]; return acc; },
///     std::plus<>{});
/// @endcode
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
