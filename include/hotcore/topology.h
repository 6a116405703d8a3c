// hotcore/topology.h — the machine as hwloc sees it, and which PUs become worker cores.
#pragma once

#include <string>
#include <system_error>
#include <vector>

namespace hotcore {

// pu_info is one processing unit (hardware thread) that hwloc reports.
struct pu_info {
  unsigned os_index = 0;   // the OS CPU number (cpuN)
  int core = -1;           // hwloc logical index of its core
  int package = -1;        // hwloc logical index of its package
  int numa_node = -1;      // OS index of its NUMA node, or -1
  bool allowed = false;    // in the process's affinity mask
};

// topology summarizes one hwloc snapshot of the machine.
struct topology {
  int packages = 0;
  int numa_nodes = 0;
  int cores = 0;
  std::vector<pu_info> pus;           // every PU hwloc reports, by OS index
  std::vector<unsigned> worker_cores; // PUs that may become worker cores (allowed), ascending
};

// load_topology() takes a fresh hwloc snapshot (hwloc topologies do not follow the
// machine: call it again after CPUs or the affinity mask changed).
[[nodiscard]] topology load_topology(std::error_code& ec);

// topology_text() formats a topology for people: one summary line, then one line per PU.
[[nodiscard]] std::string topology_text(const topology& topo);

}  // namespace hotcore
