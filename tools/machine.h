// tools/machine.h — the parts of the `hotcore` program about the machine under the
// runtime: `hotcore topology`, the kernel's hotplug state of a core's CPU, and a guard
// that brings a CPU back online if the program is interrupted in physical mode.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hotcore::tools {

// run_topology() runs `hotcore topology [--per-core] [--json]`: prints the hwloc snapshot
// (the counts line, one line per PU, one per cache; or one JSON object with the same
// fields as hotcore/topology.h) and returns an exit status (0, or 1 if hwloc failed).
int run_topology(bool per_core, bool json);

// kernel_state_text() is "cpuN/hotplug/state 236" for the kernel's state of cpuN, or
// "cpuN/hotplug/state ?" when it cannot be read.
std::string kernel_state_text(unsigned cpu);

// restore_online_on_signal() makes SIGINT, SIGTERM and SIGHUP write 1 to the online file
// of each of these CPUs before the program dies, so that an interrupted physical run does
// not leave a CPU offline. Call it once, before the first CPU goes offline.
void restore_online_on_signal(const std::vector<unsigned>& cpus);

}  // namespace hotcore::tools
