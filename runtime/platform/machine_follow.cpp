// SPDX-License-Identifier: MIT
// runtime/platform/machine_follow.cpp — what the machine watch asks of the runtime: tell
// the governor a core's availability, re-pin a core whose CPU came back, and take a new
// hwloc snapshot.
#include <mutex>

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

void runtime_impl::reload_topology(const cpu_set_t& process_mask) {
  std::error_code ec;
  topology fresh = load_topology_for(process_mask, options.policy, ec);
  if (ec) return;  // keep the last snapshot
  std::lock_guard lk(topo_mutex);
  topo = std::move(fresh);
}

}  // namespace hotcore::detail
