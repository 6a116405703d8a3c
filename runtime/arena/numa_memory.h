// SPDX-License-Identifier: MIT
// runtime/arena/numa_memory.h — memory bound to one NUMA node through hwloc: one topology
// snapshot, the node of each PU, chunks from hwloc_alloc_membind, single blocks mapped
// and bound with hwloc_set_area_membind, and the binding read back for the tests.
#pragma once

#include <hwloc.h>

#include <cstddef>
#include <vector>

namespace hotcore::detail {

class numa_memory {
 public:
  numa_memory() = default;
  ~numa_memory();
  numa_memory(const numa_memory&) = delete;
  numa_memory& operator=(const numa_memory&) = delete;

  // load() takes the hwloc snapshot. 0 or a negative errno.
  [[nodiscard]] int load();
  // node_count() is how many NUMA nodes hwloc reports (at least 1: a machine without
  // NUMA information is one node, index 0, with no nodeset to bind to).
  [[nodiscard]] unsigned node_count() const noexcept { return static_cast<unsigned>(_nodes.size()); }
  // node_of_cpu() is the index (0..node_count()-1) of the node of OS CPU `cpu` (0 if hwloc
  // does not know it); node_os_index() the OS number of node `index`.
  [[nodiscard]] unsigned node_of_cpu(int cpu) const noexcept;
  [[nodiscard]] int node_os_index(unsigned index) const noexcept;

  // alloc_bound() is hwloc_alloc_membind(len) bound to node `index` (strict where the OS
  // can enforce it), or null with errno set. free_bound() gives it back.
  [[nodiscard]] void* alloc_bound(std::size_t len, unsigned index) const noexcept;
  void free_bound(void* p, std::size_t len) const noexcept;
  // map_aligned_bound() maps len bytes (a multiple of the page size) at an address
  // aligned to `align` (a power of two), then binds them with hwloc_set_area_membind;
  // null with errno set on failure (nothing stays mapped). unmap() gives it back.
  [[nodiscard]] void* map_aligned_bound(std::size_t len, std::size_t align,
                                        unsigned index) const noexcept;
  static void unmap(void* p, std::size_t len) noexcept;
  // bound_to() asks hwloc_get_area_membind whether [p, p+len) is bound (policy BIND) to
  // exactly the node with OS index `os_node`: 1 yes, 0 no, or a negative errno.
  [[nodiscard]] int bound_to(const void* p, std::size_t len, int os_node) const;

 private:
  hwloc_topology_t _topo = nullptr;
  std::vector<hwloc_nodeset_t> _nodes;  // nodeset of each node (null: nothing to bind to)
  std::vector<int> _node_os;            // OS index of each node
  std::vector<unsigned> _cpu_node;      // node index by OS CPU number
};

}  // namespace hotcore::detail
