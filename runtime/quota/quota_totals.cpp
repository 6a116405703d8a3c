// SPDX-License-Identifier: MIT
// runtime/quota/quota_totals.cpp — copying a runtime's quota sums for runtime::stats().
#include "quota/quota_totals.h"

namespace hotcore::detail {

quota_counters read_quota_totals(const quota_totals& totals) noexcept {
  quota_counters out;
  out.checks = totals.checks.load(std::memory_order_relaxed);
  out.changes = totals.changes.load(std::memory_order_relaxed);
  out.last_reaction_ns = totals.last_reaction_ns.load(std::memory_order_relaxed);
  return out;
}

}  // namespace hotcore::detail
