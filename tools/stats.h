// tools/stats.h — percentiles of nanosecond samples and the per-state cost table made from
// a hotplug trace; shared by `hotcore cycle`, `hotcore demo` and bench/hotplug_bench.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "hotcore/trace.h"

namespace hotcore::tools {

// summary describes a set of nanosecond samples.
struct summary {
  std::size_t count = 0;
  std::int64_t median = 0;
  std::int64_t p99 = 0;
};

// percentile_sorted() is the nearest-rank p-th percentile (0 < p <= 100) of samples that
// are already sorted ascending: the smallest sample with at least p% of the samples at or
// below it. 0 for no samples.
inline std::int64_t percentile_sorted(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// summarize() sorts its copy of the samples once and reads count, median and p99 off it.
inline summary summarize(std::vector<std::int64_t> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples.size(), percentile_sorted(samples, 50), percentile_sorted(samples, 99)};
}

// state_cost is one row of the cost table: how long one state's callback took in one
// direction over a run.
struct state_cost {
  int state = -1;
  std::string name;
  direction dir = direction::up;
  summary ns;
};

// cost_table() groups the callbacks that really ran (injected failures are left out) by
// state and direction, in the order a down+up cycle runs them: teardowns by descending
// state, then startups by ascending state.
inline std::vector<state_cost> cost_table(const std::vector<trace_event>& trace) {
  // Key (0, -state) for down and (1, state) for up sorts rows into walk order.
  std::map<std::pair<int, int>, std::pair<const trace_event*, std::vector<std::int64_t>>> groups;
  for (const trace_event& ev : trace) {
    if (ev.injected) continue;
    const bool up = ev.dir == direction::up;
    auto& [first, samples] = groups[{up ? 1 : 0, up ? ev.state : -ev.state}];
    if (!first) first = &ev;
    samples.push_back(ev.nanoseconds);
  }
  std::vector<state_cost> rows;
  rows.reserve(groups.size());
  for (auto& [key, group] : groups) {
    const trace_event& ev = *group.first;
    rows.push_back({ev.state, ev.name, ev.dir, summarize(std::move(group.second))});
  }
  return rows;
}

}  // namespace hotcore::tools
