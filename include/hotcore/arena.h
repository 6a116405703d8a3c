// SPDX-License-Identifier: MIT
/// @file
/// hotcore/arena.h — a memory allocator with one cache per worker core over a shared arena
/// per NUMA node, whose memory is bound to the node through hwloc. The caches come and go
/// with their cores: each arena is an instance of two multi-instance hotplug states.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>

namespace hotcore {

class runtime;

namespace detail {
struct arena_impl;
}

/// arena_stats is a snapshot of an arena's accounting, in bytes. It is exact when no
/// thread is allocating or freeing; the test of "nothing leaks" is
///   allocated == freed                     (every byte handed out came back) and
///   carved == in_core_caches + in_arena + (allocated_small - freed_small)
/// i.e. every block cut from the arena's memory is either cached or in a user's hands.
struct arena_stats {
  std::uint64_t allocated = 0;        ///< handed out by allocate(), ever (class sizes)
  std::uint64_t freed = 0;            ///< given back by deallocate(), ever
  std::uint64_t allocated_small = 0;  ///< the part of `allocated` in size classes
  std::uint64_t freed_small = 0;  ///< the part of `freed` in size classes
  std::uint64_t carved = 0;           ///< blocks cut from spans (never uncut until ~arena)
  std::uint64_t in_core_caches = 0;   ///< blocks sitting in per-core caches
  std::uint64_t in_arena = 0;         ///< blocks sitting in the shared arenas
  std::uint64_t reserved = 0;         ///< memory taken from the OS (chunks + large blocks)
  unsigned live_caches = 0;           ///< cores whose cache is online now
  unsigned prepared_caches = 0;       ///< cores at or past "mm/arena:prepare" now
};

/// arena is a size-class allocator for tasks running on a runtime's cores.
///
/// - allocate() from a task uses the core's cache: a free list per size class that only
///   that core's worker touches, no lock and no atomic RMW. An empty list takes a batch of
///   blocks from the shared arena of the core's NUMA node (a mutex); a full one gives a
///   batch back.
/// - Any other thread (this_core() == -1: outside the pool, or inside task_group::wait)
///   allocates from the shared arena directly.
/// - deallocate() of a block made on another core: the block goes into the freeing core's
///   cache if both cores share the block's NUMA node (it is as local there as at home),
///   otherwise back to the arena of the node it was bound to. Blocks never move across
///   nodes.
/// - Sizes up to max_small_size use 36 size classes (16-byte steps to 128, then four per
///   power of two); larger ones are mapped one by one, bound to the caller's node.
/// - Memory comes from hwloc_alloc_membind(..., HWLOC_MEMBIND_BIND) on the node of the
///   core's PU, in chunks of chunk_size, cut into spans of span_size for one size class.
///   It goes back to the OS when the arena is destroyed.
///
/// States: every arena of a runtime is an instance of the same two multi-instance states,
/// set up with setup_state_multi() when the runtime's first arena is created and left
/// installed for the runtime's life (with 0 instances once no arena is left). The listing
/// shows each once, with its number of arenas. Fault injection with set_fail() works on
/// both; it fails the state for every arena on that core.
///   "mm/arena:prepare" (PREPARE, slot ARENA_PREPARE): on the control thread, allocate
///       this arena's cache structures for the core in memory of its node at the core's
///       first bring-up, and reuse them at the next ones; teardown keeps them, empty, for
///       the next bring-up (the arena's destructor frees them).
///   "mm/arena:online" (ONLINE, slot AP_ARENA_ONLINE): on the core's hotplug thread, this
///       arena's cache comes alive; teardown (after sched:active went down, so the worker
///       runs no task) gives every cached block back to this arena's shared arena.
/// Each arena has its own caches, shared arenas, chunks and accounting: one never sees
/// another's blocks. Only the states (their slots and their place in the walk) are shared.
///
/// Rules: destroy the arena before its runtime, and only once every thread stopped using
/// it (the destructor removes its instances and unmaps every chunk, blocks still handed
/// out included). Blocks are aligned to 16 bytes (large blocks to 64).
///
/// Example:
/// @code
/// std::error_code ec;
/// auto mem = hotcore::arena::create(*rt, ec);
/// rt->submit([&] { void* p = mem->allocate(100); ...; mem->deallocate(p); });
/// @endcode
class arena {
 public:
  /// Largest request served from a size class; larger ones get their own mapping.
  static constexpr std::size_t max_small_size = 16384;
  /// Bytes of a span, the unit a size class carves blocks from.
  static constexpr std::size_t span_size = 64 * 1024;
  /// Bytes a node arena maps at once and cuts spans from.
  static constexpr std::size_t chunk_size = 2 * 1024 * 1024;
  static constexpr unsigned size_classes = 36;  ///< number of size classes up to max_small_size

  /// create() loads the hwloc topology, makes one shared arena per NUMA node and adds the
  /// arena as an instance of both states (setting them up on the runtime's first arena):
  /// its startups run on every core already online. If one fails on core N, the arena's
  /// instance is torn down on cores 0..N-1, nothing of it stays, and create() returns
  /// nullptr with ec set (the callback's error, EAGAIN from set_fail(); EBUSY if a slot
  /// holds another state).
  [[nodiscard]] static std::unique_ptr<arena> create(runtime& rt, std::error_code& ec);
  ~arena();
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  /// allocate() returns a block of at least `size` bytes (size 0 gives a minimal block),
  /// or nullptr when the OS refuses memory. Any thread.
  [[nodiscard]] void* allocate(std::size_t size) noexcept;
  /// deallocate() gives a block back (null is ignored). Any thread, any core; only blocks
  /// this arena handed out (the span header in front of the block is trusted).
  void deallocate(void* block) noexcept;
  /// usable_size() is the size of the block's class (>= what was asked).
  [[nodiscard]] static std::size_t usable_size(const void* block) noexcept;
  /// size_class_of() is the class index for a request (size <= max_small_size), and
  /// class_size() the bytes of a class.
  [[nodiscard]] static unsigned size_class_of(std::size_t size) noexcept;
  /// class_size() is the block size, in bytes, of size class cls.
  [[nodiscard]] static std::size_t class_size(unsigned cls) noexcept;

  /// stats() is a snapshot of the accounting (takes each node arena's mutex).
  [[nodiscard]] arena_stats stats() const;
  /// numa_node_of() is the OS index of the NUMA node whose memory holds the block.
  [[nodiscard]] static int numa_node_of(const void* block) noexcept;
  /// prepare_state() and online_state() are the numbers of the two states (the same for
  /// every arena: ARENA_PREPARE and AP_ARENA_ONLINE).
  [[nodiscard]] int prepare_state() const noexcept;
  /// online_state() is the number of the arena's ONLINE state (AP_ARENA_ONLINE).
  [[nodiscard]] int online_state() const noexcept;
  /// bound_to_node() asks hwloc (hwloc_get_area_membind) whether the span holding `block`
  /// is bound to exactly NUMA node `node`: 1 yes, 0 no, <0 a negative errno from hwloc.
  [[nodiscard]] int bound_to_node(const void* block, int node) const;

 private:
  explicit arena(std::unique_ptr<detail::arena_impl> impl);
  std::unique_ptr<detail::arena_impl> _impl;
};

}  // namespace hotcore
