// SPDX-License-Identifier: MIT
// runtime/arena/arena_impl.h — the arena's insides: the header at the start of every
// span, the shared arena of one NUMA node, a core's cache, and the per-core counters.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "arena/numa_memory.h"
#include "hotcore/arena.h"
#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "subsystem_states.h"

namespace hotcore::detail {

inline constexpr std::uint32_t large_class = 0xffff;
inline constexpr std::size_t span_header_size = 64;

// free_block is a free block's first word: the link in a free list.
struct free_block {
  free_block* next;
};

// span_header sits at the start of every span_size-aligned span (a small-block span, or a
// large block's mapping), so deallocate() finds it by masking the block's address.
struct alignas(64) span_header {
  std::uint32_t size_class = 0;  // large_class for a large block
  std::uint32_t node = 0;        // node index (numa_memory) whose memory this is
  int os_node = 0;               // its OS index
  std::size_t map_len = 0;       // large: length of the mapping
  span_header* prev = nullptr;   // large: link in the node's list of large blocks
  span_header* next = nullptr;
};
static_assert(sizeof(span_header) == span_header_size);

inline span_header* span_of(const void* block) noexcept {
  return reinterpret_cast<span_header*>(reinterpret_cast<std::uintptr_t>(block) &
                                        ~(static_cast<std::uintptr_t>(arena::span_size) - 1));
}

// block_list is a singly linked list of free blocks with its length.
struct block_list {
  free_block* head = nullptr;
  std::uint32_t count = 0;
};

// block_batch is a chain of free blocks the shared arena keeps whole, so a cache takes or
// gives one in O(1) without walking blocks (which another core may have just written).
struct block_batch {
  free_block* head = nullptr;
  free_block* tail = nullptr;
  std::uint32_t count = 0;
};

// node_arena is the shared arena of one NUMA node: per class a stack of batches of free
// blocks, and the chunks the blocks were cut from, all under one mutex.
struct node_arena {
  unsigned index = 0;
  int os_node = 0;
  std::mutex mu;
  std::vector<block_batch> batches[arena::size_classes];  // guarded by mu
  std::vector<void*> chunks;                    // guarded by mu; hwloc_alloc_membind'ed
  char* next_span = nullptr;                    // guarded by mu; next uncut span
  char* chunk_end = nullptr;
  span_header* large = nullptr;                 // guarded by mu; large blocks handed out
  std::uint64_t carved = 0;                     // guarded by mu
  std::uint64_t in_arena = 0;                   // guarded by mu
};

// core_cache is one core's cache: only that core's worker touches it while the core is
// online, the hotplug thread before and after. Its memory comes from the core's node.
struct core_cache {
  unsigned core = 0;
  node_arena* node = nullptr;
  block_list lists[arena::size_classes];
};

// core_counters are one core's byte counts. Written only by the thread that owns the
// cache at the time (its worker, or its hotplug thread at teardown) with relaxed
// load+store (no RMW on the fast path); stats() reads them relaxed from anywhere.
struct alignas(64) core_counters {
  std::atomic<std::uint64_t> allocated{0};
  std::atomic<std::uint64_t> freed{0};
  std::atomic<std::uint64_t> cached{0};
};

struct arena_impl final : subsystem_instance {
  explicit arena_impl(runtime& rt_) : rt(rt_) {}
  ~arena_impl();

  // the states' callbacks, for this arena
  int prepare_up(unsigned core) override;
  int prepare_down(unsigned core) override;
  int online_up(unsigned core) override;
  int online_down(unsigned core) override;

  // the shared arenas
  // take() moves up to `want` blocks of class cls from the node's arena into `out`
  // (cutting a new span, and taking a new chunk, when it has none). False when the OS
  // refused memory and nothing was taken.
  bool take(node_arena& n, unsigned cls, std::uint32_t want, block_list& out);
  // give() moves a chain of blocks of class cls into the node's arena.
  static void give(node_arena& n, unsigned cls, free_block* head, free_block* tail,
                   std::uint32_t count) noexcept;
  // push_batch() adds a chain as a batch, or merges it into the top batch when that stays
  // within one batch size (or a new batch cannot be stored). Under n.mu.
  static void push_batch(node_arena& n, unsigned cls, block_batch b) noexcept;
  bool cut_span(node_arena& n, unsigned cls);  // under n.mu
  void* allocate_shared(unsigned node, unsigned cls) noexcept;
  void* allocate_large(std::size_t size, unsigned node) noexcept;
  void free_large(span_header* h) noexcept;
  void flush(core_cache& c, unsigned cls, std::uint32_t keep) noexcept;
  void free_cache(core_cache* c) noexcept;  // a cache's memory back to the OS

  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t by) noexcept {
    // relaxed load+store: one writer (see core_counters).
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  runtime& rt;
  numa_memory numa;
  std::vector<std::unique_ptr<node_arena>> nodes;
  std::vector<core_cache*> prepared;                      // by core; hotplug-serialized
  // spare: a core's cache after its "mm/arena:prepare" teardown, empty, kept for its next
  // bring-up (the kernel keeps per-CPU data of possible CPUs too); freed with the arena.
  std::vector<core_cache*> spare;                         // by core; hotplug-serialized
  std::unique_ptr<std::atomic<core_cache*>[]> live;       // by core; see online_up()
  std::unique_ptr<core_counters[]> counters;              // by core
  std::size_t ncores = 0;                                 // size of the three arrays
  // Counts for threads outside the pool and for large blocks: RMW, any thread; relaxed,
  // they are statistics read in stats() only.
  std::atomic<std::uint64_t> shared_allocated{0};
  std::atomic<std::uint64_t> shared_freed{0};
  std::atomic<std::uint64_t> shared_allocated_small{0};
  std::atomic<std::uint64_t> shared_freed_small{0};
  std::atomic<std::uint64_t> reserved{0};
  std::atomic<unsigned> prepared_count{0};
  std::atomic<unsigned> live_count{0};
  // This arena as an instance of each state (added by create(), removed by ~arena()).
  owner_node prepare_node{*this};
  owner_node online_node{*this};
};

}  // namespace hotcore::detail
