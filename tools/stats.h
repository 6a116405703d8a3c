// SPDX-License-Identifier: MIT
// tools/stats.h — percentiles of nanosecond samples and the per-state cost table made from
// a hotplug trace; shared by `hotcore cycle`, `hotcore demo` and bench/hotplug_bench.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
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

// log_histogram counts nanosecond samples in constant memory (32 KiB): values under 64 in
// buckets of their own, larger ones in 64 buckets per power of two, so a percentile read
// off it is within 1.6% of the exact one. A run of any length keeps the same footprint.
class log_histogram {
 public:
  void add(std::int64_t ns) {
    ++_buckets[index(ns < 0 ? 0 : static_cast<std::uint64_t>(ns))];
    ++_count;
  }
  [[nodiscard]] std::size_t count() const { return _count; }
  // percentile() is the nearest-rank p-th percentile (0 < p <= 100): the middle of the
  // bucket holding it (the exact value below 64). 0 for no samples.
  [[nodiscard]] std::int64_t percentile(double p) const {
    if (_count == 0) return 0;
    const auto rank = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(_count))), 1, _count);
    std::size_t seen = 0;
    for (std::size_t i = 0; i < _buckets.size(); ++i)
      if ((seen += _buckets[i]) >= rank) return middle(i);
    return middle(_buckets.size() - 1);
  }
  [[nodiscard]] summary summarize() const { return {_count, percentile(50), percentile(99)}; }

 private:
  static constexpr unsigned sub_bits = 6;  // 64 buckets per power of two
  static std::size_t index(std::uint64_t v) {
    if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
    const unsigned e = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= sub_bits
    const std::uint64_t sub = (v >> (e - sub_bits)) & ((1u << sub_bits) - 1);
    return ((e - sub_bits + 1) << sub_bits) + static_cast<std::size_t>(sub);
  }
  static std::int64_t middle(std::size_t i) {
    if (i < (1u << sub_bits)) return static_cast<std::int64_t>(i);
    const unsigned e = static_cast<unsigned>(i >> sub_bits) + sub_bits - 1;
    const std::uint64_t sub = i & ((1u << sub_bits) - 1);
    const std::uint64_t low = ((1ull << sub_bits) + sub) << (e - sub_bits);
    return static_cast<std::int64_t>(low + (1ull << (e - sub_bits)) / 2);
  }
  std::array<std::uint64_t, (64 - sub_bits + 1) << sub_bits> _buckets{};
  std::size_t _count = 0;
};

// state_cost is one row of the cost table: how long one state's callback took in one
// direction over a run.
struct state_cost {
  int state = -1;
  std::string name;
  direction dir = direction::up;
  summary ns;
};

// cost_accumulator builds the cost table from a trace taken in pieces (one take_trace()
// per cycle, say), in memory that does not grow with the number of cycles: one
// histogram per state and direction.
class cost_accumulator {
 public:
  // keep() makes add() also keep the first `max` events as they came, for a trace file.
  void keep(std::size_t max) { _keep_max = max; }
  [[nodiscard]] const std::vector<trace_event>& kept() const { return _kept; }

  void add(const std::vector<trace_event>& trace) {
    for (const trace_event& ev : trace) {
      if (_kept.size() < _keep_max) _kept.push_back(ev);
      if (ev.injected) continue;
      const bool up = ev.dir == direction::up;
      // Key (0, -state) for down and (1, state) for up sorts rows into walk order.
      auto [it, fresh] = _groups.try_emplace({up ? 1 : 0, up ? ev.state : -ev.state});
      if (fresh) it->second.name = ev.name;
      it->second.ns.add(ev.nanoseconds);
    }
  }
  // rows() is the table: teardowns by descending state, then startups by ascending state.
  [[nodiscard]] std::vector<state_cost> rows() const {
    std::vector<state_cost> out;
    for (const auto& [key, g] : _groups)
      out.push_back({key.first == 1 ? key.second : -key.second, g.name,
                     key.first == 1 ? direction::up : direction::down, g.ns.summarize()});
    return out;
  }

 private:
  std::vector<trace_event> _kept;
  std::size_t _keep_max = 0;
  struct group {
    std::string name;
    log_histogram ns;
  };
  std::map<std::pair<int, int>, group> _groups;
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
