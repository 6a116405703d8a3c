// SPDX-License-Identifier: MIT
// runtime/quota/quota_target.cpp — what a CPU quota is worth in worker cores (ceil,
// floor or headroom rounding, with hysteresis at the boundaries) and the leave orders the
// quota follower gives the governor.
#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "hotcore/quota.h"

namespace hotcore {
namespace {

// floor_div()/ceil_div() divide by a positive denominator, rounding toward -inf / +inf.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

// at_least_one() is n as a core count: at least 1, and a count past what unsigned holds
// (a quota of 2^32 CPUs or more) is every core, never a wrapped small number.
unsigned at_least_one(std::int64_t n) {
  constexpr std::int64_t most = std::numeric_limits<unsigned>::max();
  return n < 1 ? 1u : n >= most ? std::numeric_limits<unsigned>::max() : static_cast<unsigned>(n);
}

}  // namespace

unsigned quota_cores(const cpu_limit& limit, const quota_policy& policy,
                     unsigned current) noexcept {
  if (limit.unlimited() || limit.period_us <= 0) return 0;
  // Past what the arithmetic below holds in 64 bits (thousandths of a CPU times the
  // period): more CPUs than any machine has, every core.
  constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max() / 1000 / 4;
  if (limit.quota_us > big || limit.period_us > big ||
      limit.quota_us / limit.period_us >= std::numeric_limits<unsigned>::max())
    return std::numeric_limits<unsigned>::max();
  // Exact arithmetic in thousandths of a CPU: x CPUs = num / (period * 1000).
  const std::int64_t den = limit.period_us * 1000;
  const std::int64_t num = limit.quota_us * 1000;
  const std::int64_t band = static_cast<std::int64_t>(policy.hysteresis_millicpus) * limit.period_us;
  std::int64_t raw = 0, low = 0, high = 0;  // current in [low, high] stays
  if (policy.rounding == quota_rounding::ceil) {
    // Going up needs the quota past the boundary by the band; going down is exact.
    raw = ceil_div(num, den);
    low = ceil_div(num - band, den);
    high = raw;
  } else {
    // floor and headroom: going down needs the quota below the boundary by the band.
    const std::int64_t reserve = policy.rounding == quota_rounding::headroom
                                     ? static_cast<std::int64_t>(policy.headroom_millicpus) * limit.period_us
                                     : 0;
    raw = floor_div(num - reserve, den);
    low = raw;
    high = floor_div(num - reserve + band, den);
  }
  const std::int64_t cur = current;
  if (current > 0 && cur >= low && cur <= high) return at_least_one(cur);
  return at_least_one(raw);
}

unsigned core_target(unsigned quota, unsigned allowed) noexcept {
  unsigned n = allowed;
  if (quota > 0 && quota < n) n = quota;
  return n < 1 ? 1 : n;
}

std::vector<unsigned> highest_first(const std::vector<unsigned>& up) {
  std::vector<unsigned> order(up);
  std::sort(order.begin(), order.end(), std::greater<>());
  return order;
}

std::vector<unsigned> keep_together_order(const topology& topo, const std::vector<unsigned>& up) {
  const auto info = [&](unsigned id) -> const pu_info* {
    for (const pu_info& pu : topo.pus)
      if (pu.os_index == id) return &pu;
    return nullptr;
  };
  // Greedy: the next to leave is ranked against the cores still up, so that after each
  // departure what remains fills whole nodes and whole physical cores. Rank: unknown
  // cores first, then the node with the fewest cores up, the physical core with the
  // fewest PUs up, the highest id.
  std::vector<unsigned> remaining(up), order;
  while (!remaining.empty()) {
    std::map<int, int> per_node;
    std::map<std::pair<int, int>, int> per_core;
    for (unsigned id : remaining)
      if (const pu_info* pu = info(id)) {
        ++per_node[pu->numa_node];
        ++per_core[{pu->numa_node, pu->core}];
      }
    const auto key = [&](unsigned id) {
      const pu_info* pu = info(id);
      if (pu == nullptr) return std::make_tuple(0, 0, 0, -static_cast<long>(id));
      return std::make_tuple(1, per_node[pu->numa_node], per_core[{pu->numa_node, pu->core}],
                             -static_cast<long>(id));
    };
    const auto next = std::min_element(remaining.begin(), remaining.end(),
                                       [&](unsigned a, unsigned b) { return key(a) < key(b); });
    order.push_back(*next);
    remaining.erase(next);
  }
  return order;
}

}  // namespace hotcore
