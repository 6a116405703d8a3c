// SPDX-License-Identifier: MIT
// runtime/platform/topology.cpp — an hwloc snapshot of the machine: packages, NUMA nodes,
// cores, PUs with their SMT siblings, caches, and which PUs become worker cores.
#include "hotcore/topology.h"

#include <hwloc.h>
extern "C" {  // hwloc/plugins.h declares hwloc_hide_errors() without C linkage
#include <hwloc/plugins.h>
}
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "platform/sysfs_cpu.h"
#include "platform/topology_load.h"

namespace hotcore {
namespace {

struct topology_deleter {
  void operator()(hwloc_topology* t) const noexcept { hwloc_topology_destroy(t); }
};
using topology_ptr = std::unique_ptr<hwloc_topology, topology_deleter>;

std::vector<unsigned> os_indexes(hwloc_const_bitmap_t set) {
  std::vector<unsigned> out;
  int i;
  hwloc_bitmap_foreach_begin(i, set) { out.push_back(static_cast<unsigned>(i)); }
  hwloc_bitmap_foreach_end();
  return out;
}

char cache_type(hwloc_obj_t obj) {
  switch (obj->attr->cache.type) {
    case HWLOC_OBJ_CACHE_DATA: return 'd';
    case HWLOC_OBJ_CACHE_INSTRUCTION: return 'i';
    default: return 'u';
  }
}

// quiet_hwloc() keeps hwloc's own warnings (the multi-line "operating system" banner it
// prints when the machine changes under a load) off the user's stderr: hwloc reads
// HWLOC_HIDE_ERRORS once, at its first report; set it (unless the user did) and latch it
// before the first load, then leave the environment as it was.
void quiet_hwloc() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("HWLOC_HIDE_ERRORS") != nullptr) return;
    (void)::setenv("HWLOC_HIDE_ERRORS", "2", 0);
    (void)hwloc_hide_errors();
    (void)::unsetenv("HWLOC_HIDE_ERRORS");
  });
}

std::string list_text(const std::vector<unsigned>& v) {
  if (v.empty()) return "-";
  std::string out;
  for (unsigned x : v) {
    if (!out.empty()) out += ',';
    out += std::to_string(x);
  }
  return out;
}

// locate() is where a PU sits: its core (and the core's other PUs), package and NUMA node.
pu_info locate(hwloc_topology_t raw, hwloc_obj_t pu, int numa_nodes) {
  pu_info info;
  info.os_index = pu->os_index;
  if (hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(raw, HWLOC_OBJ_CORE, pu)) {
    info.core = static_cast<int>(core->logical_index);
    for (unsigned s : os_indexes(core->cpuset))
      if (s != pu->os_index) info.siblings.push_back(s);
  }
  if (hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(raw, HWLOC_OBJ_PACKAGE, pu))
    info.package = static_cast<int>(pkg->logical_index);
  for (int n = 0; n < numa_nodes; ++n) {
    hwloc_obj_t node = hwloc_get_obj_by_type(raw, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
    if (hwloc_bitmap_isset(node->cpuset, pu->os_index)) info.numa_node = static_cast<int>(node->os_index);
  }
  return info;
}

// add_caches() lists every cache hwloc reports.
void add_caches(hwloc_topology_t raw, topology& topo) {
  for (int depth = 0; depth < hwloc_topology_get_depth(raw); ++depth) {
    for (unsigned i = 0; i < hwloc_get_nbobjs_by_depth(raw, depth); ++i) {
      hwloc_obj_t obj = hwloc_get_obj_by_depth(raw, depth, i);
      if (!hwloc_obj_type_is_cache(obj->type)) continue;
      cache_info c;
      c.level = static_cast<int>(obj->attr->cache.depth);
      c.type = cache_type(obj);
      c.size = obj->attr->cache.size;
      c.line_size = obj->attr->cache.linesize;
      c.pus = os_indexes(obj->cpuset);
      topo.caches.push_back(std::move(c));
    }
  }
}

// add_offline_cpus() adds the PUs the kernel has offline now.
void add_offline_cpus(topology& topo, const cpu_set_t& mask, const cpu_set_t& online) {
  // The CPUs the kernel has offline now: hwloc does not report them, but they are part of
  // the machine and come back. Allowed ones are worker cores that are down until then.
  cpu_set_t present;
  if (detail::read_present_cpus(present) == 0)
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &present) || CPU_ISSET(cpu, &online)) continue;
      if (std::any_of(topo.pus.begin(), topo.pus.end(),
                      [cpu](const pu_info& p) { return p.os_index == cpu; }))
        continue;
      pu_info info;
      info.os_index = cpu;
      info.allowed = CPU_ISSET(cpu, &mask);
      info.online = false;
      info.worker = info.allowed;
      topo.pus.push_back(info);
      if (info.worker) topo.worker_cores.push_back(cpu);
    }
}

// sort_topology() orders the PUs by OS index, the caches by level, type and PUs, and the
// worker cores ascending.
void sort_topology(topology& topo) {
  std::sort(topo.pus.begin(), topo.pus.end(),
            [](const pu_info& a, const pu_info& b) { return a.os_index < b.os_index; });
  std::sort(topo.caches.begin(), topo.caches.end(), [](const cache_info& a, const cache_info& b) {
    if (a.level != b.level) return a.level < b.level;
    if (a.type != b.type) return a.type < b.type;
    return a.pus < b.pus;
  });
  std::sort(topo.worker_cores.begin(), topo.worker_cores.end());
}

}  // namespace

namespace detail {

topology load_topology_for(const cpu_set_t& mask, worker_policy policy, std::error_code& ec) {
  ec.clear();
  topology topo;
  topo.policy = policy;
  hwloc_topology_t raw;
  if (hwloc_topology_init(&raw) < 0) {
    ec = std::error_code(errno ? errno : ENOMEM, std::generic_category());
    return topo;
  }
  topology_ptr t(raw);
  quiet_hwloc();
  // DONT_CHANGE_BINDING: hwloc must not bind the calling thread to each PU in turn to
  // learn about it; that restores the mask it read, narrowed to the CPUs online then.
  // INCLUDE_DISALLOWED: PUs outside the cgroup's cpuset are reported too (allowed false).
  (void)hwloc_topology_set_flags(raw, HWLOC_TOPOLOGY_FLAG_DONT_CHANGE_BINDING |
                                          HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
  if (hwloc_topology_load(raw) < 0) {
    ec = std::error_code(errno ? errno : EIO, std::generic_category());
    return topo;
  }
  cpu_set_t online;
  if (detail::read_online_cpus(online) < 0) {
    // Without /sys (a container without it): hwloc's own view of what is online.
    CPU_ZERO(&online);
    for (unsigned i : os_indexes(hwloc_topology_get_topology_cpuset(raw)))
      if (i < CPU_SETSIZE) CPU_SET(i, &online);
  }
  topo.packages = hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_PACKAGE);
  topo.numa_nodes = hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_NUMANODE);
  topo.cores = hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_CORE);
  const int npu = hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_PU);
  std::vector<int> core_has_worker(static_cast<std::size_t>(std::max(topo.cores, 0)), 0);
  for (int i = 0; i < npu; ++i) {  // logical order: a core's PUs are consecutive
    hwloc_obj_t pu = hwloc_get_obj_by_type(raw, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    pu_info info = locate(raw, pu, topo.numa_nodes);
    const bool in_set = pu->os_index < CPU_SETSIZE;
    info.allowed = in_set && CPU_ISSET(pu->os_index, &mask);
    info.online = in_set && CPU_ISSET(pu->os_index, &online);
    info.worker = info.allowed && info.online;
    if (info.worker && policy == worker_policy::per_core && info.core >= 0 &&
        info.core < topo.cores)
      info.worker = core_has_worker[static_cast<std::size_t>(info.core)]++ == 0;
    topo.pus.push_back(info);
    if (info.worker) topo.worker_cores.push_back(info.os_index);
  }
  add_caches(raw, topo);
  add_offline_cpus(topo, mask, online);
  sort_topology(topo);
  return topo;
}

}  // namespace detail

topology load_topology(std::error_code& ec, worker_policy policy) {
  cpu_set_t mask;
  if (const int ret = detail::read_home_mask(mask); ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return topology{};
  }
  return detail::load_topology_for(mask, policy, ec);
}

std::string topology_text(const topology& topo) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "machine: %d package(s), %d NUMA node(s), %d core(s), %zu PU(s), %zu worker "
                "core(s) (one per %s)\n",
                topo.packages, topo.numa_nodes, topo.cores, topo.pus.size(),
                topo.worker_cores.size(),
                topo.policy == worker_policy::per_core ? "physical core" : "PU");
  out += line;
  for (const pu_info& pu : topo.pus) {
    const char* role = pu.worker && !pu.online ? "worker (offline: down until it returns)"
                       : pu.worker                ? "worker"
                       : !pu.online               ? "offline"
                       : !pu.allowed ? "not allowed"
                                     : "SMT sibling of a worker";
    std::snprintf(line, sizeof line, "  PU %-3u core %-3d package %-2d numa %-2d siblings %-8s %s\n",
                  pu.os_index, pu.core, pu.package, pu.numa_node, list_text(pu.siblings).c_str(),
                  role);
    out += line;
  }
  for (const cache_info& c : topo.caches) {
    std::snprintf(line, sizeof line, "  L%d%c cache %6llu KiB  line %3u B  PUs %s\n", c.level,
                  c.type == 'u' ? ' ' : c.type, static_cast<unsigned long long>(c.size / 1024),
                  c.line_size, list_text(c.pus).c_str());
    out += line;
  }
  return out;
}

}  // namespace hotcore
