// SPDX-License-Identifier: MIT
// runtime/platform/machine_follow.cpp — what the machine watch asks of the runtime: tell
// the governor a core's availability, re-pin a core whose CPU came back, and take a new
// hwloc snapshot.
#include <climits>
#include <mutex>

#include "platform/placement.h"
#include "platform/topology_load.h"
#include "runtime_impl.h"

namespace hotcore::detail {

// follow_availability() is runtime::set_core_available() for the machine watch, with the
// come_back policy: without it, a core the governor took down because its CPU went away
// counts as taken down by the user (it stays down until core_up()).
int runtime_impl::follow_availability(unsigned core, bool available) {
  std::lock_guard lk(gov.mutex);
  const bool was_down = gov.governor_down[core] != 0;
  gov.available[core] = available ? 1 : 0;
  const int ret = govern();
  if (!options.come_back && !available && !was_down && gov.governor_down[core]) {
    gov.governor_down[core] = 0;
    gov.user_down[core] = 1;
  }
  return ret;
}

// repin() restores the runtime's placement after the kernel onlined a CPU: every core that
// is up has its hotplug thread (and, past workers:online, its worker) pinned to it alone;
// every thread of a core that is down, and the watch, runs on the spare mask. The kernel
// widened the affinity of the threads it had to move off the CPU and does not narrow it
// again, so without this they would run anywhere.
int runtime_impl::repin() {
  std::lock_guard serialize(add_remove_mutex);  // no walk moves a core meanwhile
  int err = 0;
  for (unsigned id : core_ids) {
    core_ctx& c = *by_id[id];
    // relaxed: walks are serialized by add_remove_mutex, which we hold.
    const int state = c.state.load(std::memory_order_relaxed);
    const int thread_err = state >= BRINGUP_CORE ? pin_thread(c.thread.tid(), cpu_of(id)) : 0;
    const int worker_err = state >= AP_WORKERS_ONLINE ? pin_thread(sched.worker_tid(id), cpu_of(id)) : 0;
    if (err == 0) err = thread_err != 0 ? thread_err : worker_err;
  }
  vacate(UINT_MAX, false);
  return err;
}

void runtime_impl::reload_topology(const cpu_set_t& process_mask) {
  std::error_code ec;
  topology fresh = load_topology_for(process_mask, options.policy, ec);
  if (ec) return;  // keep the last snapshot
  std::lock_guard lk(topo_mutex);
  topo = std::move(fresh);
}

}  // namespace hotcore::detail
