// SPDX-License-Identifier: MIT
// runtime/core_states.cpp — the runtime's own rows of the state table: create the hotplug
// thread, pin it to its core, start/park the core's worker, and open/close it to work.
#include <cerrno>
#include <string>

#include "platform/placement.h"
#include "runtime_impl.h"
#include "trace/probes.h"

namespace hotcore::detail {

// "threads:prepare" startup: the core's hotplug thread exists (made once, then parked
// between uses, as the kernel's smpboot threads are).
// Named "hc-hotplug/N", like the kernel's cpuhp/N.
int runtime_impl::threads_prepare(unsigned core) {
  const std::string name = "hc-hotplug/" + std::to_string(core);
  return by_id[core]->thread.start(name.substr(0, 15).c_str());
}

// "core:bringup" startup: pin the hotplug thread to its core; from here on the core's
// STARTING and ONLINE callbacks run there. The threads of the cores that are down may use
// this core again (vacate).
int runtime_impl::core_bringup(unsigned core) {
  if (const int ret = pin_thread(by_id[core]->thread.tid(), cpu_of(core)); ret != 0) return ret;
  vacate(core, true);
  return 0;
}

// "core:bringup" teardown: the hotplug thread has stopped running callbacks and the
// worker is parked; every thread of the runtime leaves the core (vacate: the process's
// mask minus the cores that are down), so a core that is down is really free.
int runtime_impl::core_park(unsigned core) {
  vacate(core, false);  // may not fail
  return 0;
}

// "sched:starting": the core joins / leaves the online mask.
int runtime_impl::sched_starting(unsigned core) {
  // release: whoever sees the core online sees everything set up before it.
  by_id[core]->online.store(true, std::memory_order_release);
  return 0;
}
int runtime_impl::sched_dying(unsigned core) {
  by_id[core]->online.store(false, std::memory_order_release);
  return 0;
}

// "workers:online": the core's worker thread is unparked (created on first use) and
// pinned to the core / parked and unpinned. Runs on the core's hotplug thread.
int runtime_impl::workers_online(unsigned core) { return sched.unpark(core); }
int runtime_impl::workers_offline(unsigned core) {
  sched.park(core);  // a teardown may not fail
  return 0;
}

// "sched:active": the core starts / stops taking tasks. Down, the scheduler closes the
// core, waits for the task its worker is running and moves its queued tasks to the other
// active cores (or, for the last core at shutdown, runs them) before this returns.
int runtime_impl::sched_activate(unsigned core) {
  if (const int ret = sched.activate(core); ret != 0) return ret;
  // release: a reader that sees the core active sees its ONLINE states set up.
  by_id[core]->active.store(true, std::memory_order_release);
  // relaxed: statistics (see core_ctx); only this core's hotplug thread writes them.
  core_ctx& c = *by_id[core];
  const std::int64_t since = c.parked_since_ns.exchange(0, std::memory_order_relaxed);
  if (since != 0) c.parked_total_ns.fetch_add(monotonic_ns() - since, std::memory_order_relaxed);
  HOTCORE_PROBE(core_active, core, active_count());
  return 0;
}
int runtime_impl::sched_deactivate(unsigned core) {
  by_id[core]->active.store(false, std::memory_order_release);
  sched.deactivate(core);
  // relaxed: as in sched_activate().
  by_id[core]->parked_since_ns.store(monotonic_ns(), std::memory_order_relaxed);
  HOTCORE_PROBE(core_inactive, core, active_count());
  return 0;
}

int runtime_impl::active_count() const noexcept {
  int n = 0;
  for (unsigned id : core_ids)
    // relaxed: called under the hotplug write lock, which orders every change of `active`.
    n += by_id[id]->active.load(std::memory_order_relaxed) ? 1 : 0;
  return n;
}

}  // namespace hotcore::detail
