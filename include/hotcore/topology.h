// SPDX-License-Identifier: MIT
/// @file
/// hotcore/topology.h — the machine as hwloc sees it (packages, NUMA nodes, cores, PUs and
/// their SMT siblings, caches), and which PUs become worker cores under a policy.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace hotcore {

/// worker_policy says how many worker cores a physical core gives.
enum class worker_policy {
  per_pu,    // one worker core per PU (hardware thread): SMT siblings are separate cores
  per_core,  // one worker core per physical core: its first usable PU
};

/// pu_info is one processing unit (hardware thread) of the machine: every PU hwloc reports
/// (those outside the cgroup's cpuset included, allowed false), and every CPU the kernel
/// has present but offline (hwloc does not report those: core and package -1). An allowed
/// offline PU is a worker core that is down until the kernel onlines its CPU.
struct pu_info {
  unsigned os_index = 0;          ///< the OS CPU number (cpuN)
  int core = -1;                  ///< hwloc logical index of its core
  int package = -1;               ///< hwloc logical index of its package
  int numa_node = -1;             ///< OS index of its NUMA node, or -1
  bool online = false;            ///< online in the kernel (/sys/devices/system/cpu/online)
  bool allowed = false;           ///< in the process's affinity mask (offline CPUs included)
  bool worker = false;            ///< becomes a worker core under the policy
  std::vector<unsigned> siblings; ///< the other PUs of its core (SMT siblings), by OS index
};

/// cache_info is one CPU cache and the PUs that share it.
struct cache_info {
  int level = 0;                  ///< 1, 2, 3 ...
  char type = 'u';                ///< 'd' data, 'i' instruction, 'u' unified
  std::uint64_t size = 0;         ///< bytes
  unsigned line_size = 0;         ///< bytes
  std::vector<unsigned> pus;      ///< OS indexes of the PUs below it
};

/// topology summarizes one hwloc snapshot of the machine.
///
/// Example:
/// @code
/// std::error_code ec;
/// hotcore::topology t = hotcore::load_topology(ec, hotcore::worker_policy::per_core);
/// if (!ec) std::fputs(hotcore::topology_text(t).c_str(), stdout);
/// @endcode
struct topology {
  int packages = 0;  ///< processor packages (sockets)
  int numa_nodes = 0;  ///< NUMA nodes
  int cores = 0;  ///< physical cores
  worker_policy policy = worker_policy::per_pu;  ///< the policy the worker cores were picked with
  std::vector<pu_info> pus;           ///< every PU hwloc reports, by OS index
  std::vector<cache_info> caches;     ///< every cache, by level then first PU
  std::vector<unsigned> worker_cores; ///< PUs that become worker cores, ascending: online,
                                      // in the affinity mask, and chosen by the policy
};

/// load_topology() takes a fresh hwloc snapshot. hwloc topologies do not follow the
/// machine: call it again after CPUs went offline/online or the affinity mask changed (a
/// runtime following the machine does, see runtime::topology_snapshot()). The affinity
/// mask read is the calling thread's.
[[nodiscard]] topology load_topology(std::error_code& ec,
                                     worker_policy policy = worker_policy::per_pu);

/// topology_text() formats a topology for people: a summary line with the counts, one
/// line per PU (core, package, NUMA node, SMT siblings, whether it is a worker core), and
/// one line per cache.
[[nodiscard]] std::string topology_text(const topology& topo);

}  // namespace hotcore
