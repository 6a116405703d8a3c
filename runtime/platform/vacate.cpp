// SPDX-License-Identifier: MIT
// runtime/platform/vacate.cpp — keeping the runtime's threads off the cores that are
// down: every thread of a down core, and every helper thread (the machine watch, a quota
// follower), runs on the process's mask minus the cores that are down, so a core that is
// down is really free for others.
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <mutex>

#include "platform/placement.h"
#include "runtime_impl.h"

namespace hotcore::detail {

int place_thread(pid_t tid, const cpu_set_t& mask) noexcept {
  if (tid <= 0) return 0;
  return sched_setaffinity(tid, sizeof mask, &mask) == 0 ? 0 : -errno;
}

int pin_thread(pid_t tid, unsigned cpu) noexcept {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return place_thread(tid, one);
}

namespace {

// core_is_up() tells whether a core's threads may be on it: core:bringup pinned its
// hotplug thread there (or is doing so: `changing` moves to `going_up`).
bool core_is_up(const core_ctx& c, unsigned changing, bool going_up) {
  if (c.id == changing) return going_up;
  // relaxed: called on the hotplug path, which serializes every change of a core's state.
  return c.state.load(std::memory_order_relaxed) >= BRINGUP_CORE;
}

}  // namespace

cpu_set_t runtime_impl::spare_mask(unsigned changing, bool going_up) const {
  cpu_set_t spare = home_mask;
  for (unsigned id : core_ids)
    if (!core_is_up(*by_id[id], changing, going_up)) CPU_CLR(cpu_of(id), &spare);
  // Simulated cores share CPUs: a CPU stays in use while any of its cores is up.
  for (unsigned id : core_ids)
    if (core_is_up(*by_id[id], changing, going_up)) CPU_SET(cpu_of(id), &spare);
  // Every core down (a runtime created with its cores offline): nowhere is better.
  if (CPU_COUNT(&spare) == 0) spare = home_mask;
  return spare;
}

// vacate() runs when core `changing` goes down (core:bringup teardown) or comes up
// (core:bringup startup): the threads of every down core and the helper threads get the
// new spare mask. Setting a sleeping thread's affinity is cheap (it is not migrated), and
// may not fail here: a thread the kernel cannot place keeps the mask it had.
void runtime_impl::vacate(unsigned changing, bool going_up) {
  const cpu_set_t spare = spare_mask(changing, going_up);
  for (unsigned id : core_ids) {
    core_ctx& c = *by_id[id];
    if (core_is_up(c, changing, going_up)) continue;
    (void)place_thread(c.thread.tid(), spare);
    (void)place_thread(sched.worker_tid(id), spare);
  }
  for (pid_t tid : helper_tids) (void)place_thread(tid, spare);
}

void runtime_impl::adopt_helper(pid_t tid) {
  std::lock_guard serialize(add_remove_mutex);  // no walk moves a core meanwhile
  (void)place_thread(tid, spare_mask(UINT_MAX, false));
  helper_tids.push_back(tid);
}

void runtime_impl::release_helper(pid_t tid) {
  std::lock_guard serialize(add_remove_mutex);
  std::erase(helper_tids, tid);
}

}  // namespace hotcore::detail
