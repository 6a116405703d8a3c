// SPDX-License-Identifier: MIT
// runtime/arena/numa_memory.cpp — hwloc memory binding for the arena: which node each PU
// belongs to, and memory allocated or mapped on one node.
#include "arena/numa_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace hotcore::detail {
namespace {
constexpr int bind_flags = HWLOC_MEMBIND_BYNODESET;

// Strict where the OS can enforce it; a kernel without NUMA support (ENOSYS) or a policy
// it cannot enforce (EXDEV) gets the same call without STRICT: the memory is then merely
// preferred on the node, which on such a machine is the only node anyway.
bool retry_lax(int err) noexcept { return err == ENOSYS || err == EXDEV; }
}  // namespace

numa_memory::~numa_memory() {
  for (hwloc_nodeset_t ns : _nodes)
    if (ns != nullptr) hwloc_bitmap_free(ns);
  if (_topo != nullptr) hwloc_topology_destroy(_topo);
}

int numa_memory::load() {
  if (hwloc_topology_init(&_topo) < 0) return errno ? -errno : -ENOMEM;
  if (hwloc_topology_load(_topo) < 0) return errno ? -errno : -EIO;
  const int n = hwloc_get_nbobjs_by_type(_topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(_topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    _nodes.push_back(hwloc_bitmap_dup(node->nodeset));
    _node_os.push_back(static_cast<int>(node->os_index));
  }
  if (_nodes.empty()) {
    _nodes.push_back(nullptr);
    _node_os.push_back(0);
  }
  const int npu = hwloc_get_nbobjs_by_type(_topo, HWLOC_OBJ_PU);
  for (int i = 0; i < npu; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_by_type(_topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    if (pu->os_index >= _cpu_node.size()) _cpu_node.resize(pu->os_index + 1, 0);
    for (unsigned k = 0; k < _nodes.size(); ++k)
      if (_nodes[k] != nullptr && pu->nodeset != nullptr &&
          hwloc_bitmap_isincluded(_nodes[k], pu->nodeset))
        _cpu_node[pu->os_index] = k;
  }
  return 0;
}

unsigned numa_memory::node_of_cpu(int cpu) const noexcept {
  if (cpu < 0 || static_cast<std::size_t>(cpu) >= _cpu_node.size()) return 0;
  return _cpu_node[static_cast<std::size_t>(cpu)];
}

int numa_memory::node_os_index(unsigned index) const noexcept {
  return index < _node_os.size() ? _node_os[index] : -1;
}

void* numa_memory::alloc_bound(std::size_t len, unsigned index) const noexcept {
  hwloc_const_nodeset_t ns = index < _nodes.size() ? _nodes[index] : nullptr;
  if (ns == nullptr) return hwloc_alloc(_topo, len);
  void* p = hwloc_alloc_membind(_topo, len, ns, HWLOC_MEMBIND_BIND, bind_flags | HWLOC_MEMBIND_STRICT);
  if (p == nullptr && retry_lax(errno))
    p = hwloc_alloc_membind(_topo, len, ns, HWLOC_MEMBIND_BIND, bind_flags);
  return p;
}

void numa_memory::free_bound(void* p, std::size_t len) const noexcept {
  if (p != nullptr) (void)hwloc_free(_topo, p, len);
}

void* numa_memory::map_aligned_bound(std::size_t len, std::size_t align,
                                     unsigned index) const noexcept {
  // Over-map by `align`, then cut off the unaligned head and the tail.
  const std::size_t over = len + align;
  void* raw = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  if (const std::size_t tail = start + over - (aligned + len); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + len), tail);
  void* p = reinterpret_cast<void*>(aligned);
  hwloc_const_nodeset_t ns = index < _nodes.size() ? _nodes[index] : nullptr;
  if (ns == nullptr) return p;
  int ret = hwloc_set_area_membind(_topo, p, len, ns, HWLOC_MEMBIND_BIND,
                                   bind_flags | HWLOC_MEMBIND_STRICT);
  if (ret < 0 && retry_lax(errno))
    ret = hwloc_set_area_membind(_topo, p, len, ns, HWLOC_MEMBIND_BIND, bind_flags);
  if (ret < 0) {
    const int err = errno;
    ::munmap(p, len);
    errno = err;
    return nullptr;
  }
  return p;
}

void numa_memory::unmap(void* p, std::size_t len) noexcept {
  if (p != nullptr) ::munmap(p, len);
}

int numa_memory::bound_to(const void* p, std::size_t len, int os_node) const {
  hwloc_nodeset_t got = hwloc_bitmap_alloc();
  hwloc_nodeset_t want = hwloc_bitmap_alloc();
  if (got == nullptr || want == nullptr) {
    hwloc_bitmap_free(got);
    hwloc_bitmap_free(want);
    return -ENOMEM;
  }
  hwloc_membind_policy_t policy{};
  int ret = hwloc_get_area_membind(_topo, p, len, got, &policy, bind_flags);
  if (ret < 0) {
    ret = errno ? -errno : -EIO;
  } else {
    hwloc_bitmap_only(want, static_cast<unsigned>(os_node));
    ret = policy == HWLOC_MEMBIND_BIND && hwloc_bitmap_isequal(got, want) ? 1 : 0;
  }
  hwloc_bitmap_free(got);
  hwloc_bitmap_free(want);
  return ret;
}

}  // namespace hotcore::detail
