// runtime/platform/topology.cpp — an hwloc snapshot of the machine: packages, NUMA nodes,
// cores and PUs, and which PUs the process may run on (its worker cores).
#include "hotcore/topology.h"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace hotcore {

topology load_topology(std::error_code& ec) {
  ec.clear();
  topology topo;
  hwloc_topology_t t;
  if (hwloc_topology_init(&t) < 0) {
    ec = std::error_code(errno ? errno : ENOMEM, std::generic_category());
    return topo;
  }
  if (hwloc_topology_load(t) < 0) {
    ec = std::error_code(errno ? errno : EIO, std::generic_category());
    hwloc_topology_destroy(t);
    return topo;
  }
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
    ec = std::error_code(errno, std::generic_category());
    hwloc_topology_destroy(t);
    return topo;
  }
  topo.packages = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  topo.numa_nodes = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  topo.cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  const int npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  for (int i = 0; i < npu; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    pu_info info;
    info.os_index = pu->os_index;
    if (hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu))
      info.core = static_cast<int>(core->logical_index);
    if (hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, pu))
      info.package = static_cast<int>(pkg->logical_index);
    for (int n = 0; n < topo.numa_nodes; ++n) {
      hwloc_obj_t node = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
      if (hwloc_bitmap_isset(node->cpuset, pu->os_index)) info.numa_node = static_cast<int>(node->os_index);
    }
    info.allowed = pu->os_index < CPU_SETSIZE && CPU_ISSET(pu->os_index, &mask);
    topo.pus.push_back(info);
    if (info.allowed) topo.worker_cores.push_back(info.os_index);
  }
  hwloc_topology_destroy(t);
  std::sort(topo.pus.begin(), topo.pus.end(),
            [](const pu_info& a, const pu_info& b) { return a.os_index < b.os_index; });
  std::sort(topo.worker_cores.begin(), topo.worker_cores.end());
  return topo;
}

std::string topology_text(const topology& topo) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "machine: %d package(s), %d NUMA node(s), %d core(s), %zu PU(s), %zu worker core(s)\n",
                topo.packages, topo.numa_nodes, topo.cores, topo.pus.size(), topo.worker_cores.size());
  out += line;
  for (const pu_info& pu : topo.pus) {
    std::snprintf(line, sizeof line, "  PU %-3u core %-3d package %-2d numa %-2d %s\n", pu.os_index, pu.core,
                  pu.package, pu.numa_node, pu.allowed ? "worker" : "not allowed");
    out += line;
  }
  return out;
}

}  // namespace hotcore
