// SPDX-License-Identifier: MIT
// runtime/platform/topology_load.h — load_topology() for a given affinity mask: the
// runtime asks with the process's mask, not with that of the thread that happens to ask.
#pragma once

#include <sched.h>

#include <system_error>

#include "hotcore/topology.h"

namespace hotcore::detail {

// load_topology_for() is load_topology() with `allowed` as the affinity mask.
[[nodiscard]] topology load_topology_for(const cpu_set_t& allowed, worker_policy policy,
                                         std::error_code& ec);

}  // namespace hotcore::detail
