// SPDX-License-Identifier: MIT
// runtime/platform/quota_totals.h — the sums of every quota follower's counters per
// runtime (runtime::stats().quota), kept beside the runtime so that a follower needs
// nothing of the runtime but its public API.
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

// quota_totals_of() is rt's sums, made on first use; a follower keeps the pointer.
std::shared_ptr<quota_totals> quota_totals_of(const runtime& rt);
// read_quota_totals() copies rt's sums (zeros when no follower ever ran).
quota_counters read_quota_totals(const runtime& rt);
// forget_quota_totals() drops rt's sums; the runtime's destructor calls it.
void forget_quota_totals(const runtime& rt) noexcept;

}  // namespace hotcore::detail
