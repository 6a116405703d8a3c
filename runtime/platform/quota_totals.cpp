// SPDX-License-Identifier: MIT
// runtime/platform/quota_totals.cpp — the per-runtime sums of the quota followers'
// counters: a small map from a runtime to its sums, guarded by one mutex (touched when a
// follower starts, by stats() and by the runtime's destructor; never on the hot path).
#include "platform/quota_totals.h"

#include <map>
#include <mutex>

namespace hotcore::detail {
namespace {

std::mutex totals_mutex;
std::map<const runtime*, std::shared_ptr<quota_totals>>& totals() {
  static std::map<const runtime*, std::shared_ptr<quota_totals>> m;
  return m;
}

}  // namespace

std::shared_ptr<quota_totals> quota_totals_of(const runtime& rt) {
  std::lock_guard lk(totals_mutex);
  auto& slot = totals()[&rt];
  if (!slot) slot = std::make_shared<quota_totals>();
  return slot;
}

quota_counters read_quota_totals(const runtime& rt) {
  quota_counters out;
  std::lock_guard lk(totals_mutex);
  const auto it = totals().find(&rt);
  if (it == totals().end()) return out;
  out.checks = it->second->checks.load(std::memory_order_relaxed);
  out.changes = it->second->changes.load(std::memory_order_relaxed);
  out.last_reaction_ns = it->second->last_reaction_ns.load(std::memory_order_relaxed);
  return out;
}

void forget_quota_totals(const runtime& rt) noexcept {
  std::lock_guard lk(totals_mutex);
  totals().erase(&rt);
}

}  // namespace hotcore::detail
