// SPDX-License-Identifier: MIT
// runtime/govern/governor.cpp — moving cores for triggers other than the user (the
// kernel's own hotplug, the affinity mask, the container's quota): from what is
// available and the core limit it decides which cores should be up, and moves them
// through the one hotplug path, like core_up()/core_down().
#include "govern/governor.h"

#include <algorithm>
#include <cerrno>

#include "runtime_impl.h"

namespace hotcore::detail {

// govern() moves the cores to what the governor wants; the caller holds gov.mutex.
// Candidates are the cores that are available and not held down by the user. With a
// limit, the first ones in leave order stay down. Cores come up before others go down,
// so the count never dips below what is wanted. Returns the first error, or 0.
int runtime_impl::govern() {
  std::vector<unsigned> candidates;
  for (unsigned id : core_ids)
    if (gov.available[id] && !gov.user_down[id]) candidates.push_back(id);
  std::vector<unsigned> leave;  // candidates over the limit, in leave order
  if (gov.limit > 0 && candidates.size() > gov.limit) {
    std::vector<unsigned> order;
    if (gov.leave_order)
      order = gov.leave_order(candidates);
    else
      order.assign(candidates.rbegin(), candidates.rend());
    // Keep only candidates, each once, whatever the policy returned; the ones it left out
    // leave last, highest first.
    std::vector<unsigned> ranked;
    for (unsigned id : order)
      if (std::count(candidates.begin(), candidates.end(), id) != 0 &&
          std::count(ranked.begin(), ranked.end(), id) == 0)
        ranked.push_back(id);
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
      if (std::count(ranked.begin(), ranked.end(), *it) == 0) ranked.push_back(*it);
    leave.assign(ranked.begin(), ranked.begin() + static_cast<long>(candidates.size() - gov.limit));
  }
  auto wanted_up = [&](unsigned id) {
    return gov.available[id] && !gov.user_down[id] &&
           std::count(leave.begin(), leave.end(), id) == 0;
  };
  int first_error = 0;
  for (unsigned id : core_ids)
    if (wanted_up(id) && gov.governor_down[id]) {
      const int ret = hotplug_op(id, ONLINE, op_mode::normal);
      if (ret == 0) gov.governor_down[id] = 0;
      // -EHOSTDOWN: the kernel took the CPU away again meanwhile; that is the machine's
      // state, not a failure: the core stays the governor's, and its offline uevent
      // (already queued) and the next online bring it back.
      if (ret != 0 && ret != -EHOSTDOWN && first_error == 0) first_error = ret;
    }
  for (auto it = core_ids.rbegin(); it != core_ids.rend(); ++it)
    // relaxed: walks are serialized by gov.mutex here; a core not OFFLINE is (partly) up.
    if (!wanted_up(*it) && by_id[*it]->state.load(std::memory_order_relaxed) != OFFLINE) {
      const int ret = hotplug_op(*it, OFFLINE, op_mode::normal);
      if (ret == 0 && !gov.user_down[*it]) gov.governor_down[*it] = 1;
      if (ret != 0 && first_error == 0) first_error = ret;
    }
  return first_error;
}

// A caller that may not take gov.mutex: inside a callback (the operation running it may
// be the governor's), holding cpus_read_lock (the governor waits for readers), or inside
// a task (core_down waits for running tasks).
bool runtime_impl::must_not_govern() const noexcept {
  return in_callback() || lock.read_held() || sched.in_task();
}

}  // namespace hotcore::detail
