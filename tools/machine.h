// SPDX-License-Identifier: MIT
// tools/machine.h — the parts of the `hotcore` program about the machine under the
// runtime: `hotcore topology` and the kernel's hotplug state of a core's CPU. (A CPU taken
// offline in physical mode comes back when the program dies: the runtime's guardian.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hotcore/runtime.h"

namespace hotcore::tools {

// run_topology() runs `hotcore topology [--per-core] [--json]`: prints the hwloc snapshot
// (the counts line, one line per PU, one per cache; or one JSON object with the same
// fields as hotcore/topology.h) and returns an exit status (0, or 1 if hwloc failed).
int run_topology(bool per_core, bool json);

// kernel_state_text() is "cpuN/hotplug/state 236" for the kernel's state of the core's
// CPU (runtime::kernel_state()), or "cpuN/hotplug/state ?" when it cannot be read.
std::string kernel_state_text(const runtime& rt, unsigned core);

}  // namespace hotcore::tools
