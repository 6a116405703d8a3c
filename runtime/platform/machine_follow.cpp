// SPDX-License-Identifier: MIT
// runtime/platform/machine_follow.cpp — what the machine watch asks of the runtime: tell
// the governor a core's availability, re-pin a core whose CPU came back, and take a new
// hwloc snapshot.
#include <mutex>

#include "platform/topology_load.h"
#include "runtime_impl.h"

namespace hotcore::detail {

void runtime_impl::reload_topology(const cpu_set_t& process_mask) {
  std::error_code ec;
  topology fresh = load_topology_for(process_mask, options.policy, ec);
  if (ec) return;  // keep the last snapshot
  std::lock_guard lk(topo_mutex);
  topo = std::move(fresh);
}

}  // namespace hotcore::detail
