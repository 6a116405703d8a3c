// SPDX-License-Identifier: MIT
// runtime/quota/quota_totals.h — the sums of every quota follower's counters for one
// runtime (runtime::stats().quota): the runtime owns them, a follower reaches them through
// quota_access and needs nothing else of the runtime but its public API.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "hotcore/stats.h"

namespace hotcore {
class runtime;
}

namespace hotcore::detail {

// quota_totals are one runtime's sums. relaxed: statistics, each written by one follower
// check at a time (a follower serializes its checks), read by stats().
struct quota_totals {
  std::atomic<std::uint64_t> checks{0}, changes{0};
  std::atomic<std::int64_t> last_reaction_ns{0};
};

// quota_access hands a follower the sums its runtime owns (runtime.cpp defines it; the
// runtime names it a friend). The follower keeps the pointer.
struct quota_access {
  static std::shared_ptr<quota_totals> totals_of(runtime& rt) noexcept;
};

// read_quota_totals() copies the sums.
quota_counters read_quota_totals(const quota_totals& totals) noexcept;

}  // namespace hotcore::detail
