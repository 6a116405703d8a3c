// SPDX-License-Identifier: MIT
// runtime/arena/arena.cpp — the per-core allocator: each arena an instance of the two
// multi-instance states "mm/arena:prepare" and "mm/arena:online", the lock-free fast path
// on a core's cache, the shared arena of each NUMA node behind it, large blocks, and the
// accounting.
#include "hotcore/arena.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <new>

#include "arena/arena_impl.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "hotcore/runtime.h"

namespace hotcore {

using detail::arena_impl;
using detail::block_list;
using detail::core_cache;
using detail::free_block;
using detail::node_arena;
using detail::span_header;

namespace {
// A cache moves blocks to and from the shared arena in batches of up to 16 KiB (2 to 128
// blocks) and keeps at most cache_batches batches per class: at most 64 KiB per class
// (128 KiB for the 16 KiB class), about 2 MiB per core with every class full. With two
// batches of 8 KiB, a loop allocating 256 blocks of 64 B and then freeing them went to
// the shared arena's mutex every 50 operations.
constexpr std::uint32_t cache_batches = 4;

// Per-class figures as tables: the fast path reads them instead of dividing.
struct class_table {
  std::size_t bytes[arena::size_classes];
  std::uint32_t batch[arena::size_classes];
};
constexpr class_table make_class_table() {
  class_table t{};
  for (unsigned cls = 0; cls < arena::size_classes; ++cls) {
    std::size_t bytes;
    if (cls < 8) {
      bytes = (cls + 1) * 16;
    } else {
      const unsigned lg = 7 + (cls - 8) / 4;
      bytes = (std::size_t{1} << lg) + ((cls - 8) % 4 + 1) * (std::size_t{1} << (lg - 2));
    }
    t.bytes[cls] = bytes;
    t.batch[cls] = static_cast<std::uint32_t>(std::clamp<std::size_t>(16384 / bytes, 2, 128));
  }
  return t;
}
constexpr class_table classes = make_class_table();

std::uint32_t batch_of(unsigned cls) noexcept { return classes.batch[cls]; }

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

}  // namespace

// ---- size classes: 16..128 in steps of 16, then four classes per power of two to 16 KiB.

unsigned arena::size_class_of(std::size_t size) noexcept {
  if (size <= 128) return size == 0 ? 0 : static_cast<unsigned>((size + 15) / 16 - 1);
  const std::size_t v = size - 1;
  const unsigned lg = static_cast<unsigned>(std::bit_width(v)) - 1;  // v >= 128: lg >= 7
  return 8 + (lg - 7) * 4 + static_cast<unsigned>((v >> (lg - 2)) & 3);
}

std::size_t arena::class_size(unsigned cls) noexcept { return classes.bytes[cls]; }

static_assert(arena::size_classes == 8 + 7 * 4, "16 KiB is the last class");

std::size_t arena::usable_size(const void* block) noexcept {
  const span_header* h = detail::span_of(block);
  if (h->size_class == detail::large_class) return h->map_len - detail::span_header_size;
  return class_size(h->size_class);
}

int arena::numa_node_of(const void* block) noexcept { return detail::span_of(block)->os_node; }

// ---- create / destroy

arena::arena(std::unique_ptr<arena_impl> impl) : _impl(std::move(impl)) {}

std::unique_ptr<arena> arena::create(runtime& rt, std::error_code& ec) {
  ec.clear();
  auto impl = std::make_unique<arena_impl>(rt);
  if (const int ret = impl->numa.load(); ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return nullptr;
  }
  for (unsigned i = 0; i < impl->numa.node_count(); ++i) {
    auto n = std::make_unique<node_arena>();
    n->index = i;
    n->os_node = impl->numa.node_os_index(i);
    for (auto& stack : n->batches) stack.reserve(16);  // see push_batch()
    impl->nodes.push_back(std::move(n));
  }
  for (unsigned core : rt.cores()) impl->ncores = std::max<std::size_t>(impl->ncores, core + 1);
  impl->prepared.assign(impl->ncores, nullptr);
  impl->spare.assign(impl->ncores, nullptr);
  impl->live = std::make_unique<std::atomic<core_cache*>[]>(impl->ncores);
  impl->counters = std::make_unique<detail::core_counters[]>(impl->ncores);

  // "mm/arena:prepare" and "mm/arena:online", installed by the runtime's first arena (later
  // arenas find them).
  if (const int ret = detail::install_states(rt, ARENA_PREPARE, "mm/arena:prepare",
                                             AP_ARENA_ONLINE, "mm/arena:online");
      ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return nullptr;
  }
  // This arena becomes an instance of both states: its cache structures on every core at
  // or past "mm/arena:prepare", then its caches alive on every core at or past
  // "mm/arena:online".
  if (!detail::join_states(rt, ARENA_PREPARE, impl->prepare_node, AP_ARENA_ONLINE, impl->online_node, ec)) return nullptr;
  return std::unique_ptr<arena>(new arena(std::move(impl)));
}

arena::~arena() {
  // This arena's teardowns on every core: caches back to its arenas, then their
  // structures freed. The states stay installed for the runtime's other arenas.
  (void)_impl->rt.remove_instance(AP_ARENA_ONLINE, &_impl->online_node);
  (void)_impl->rt.remove_instance(ARENA_PREPARE, &_impl->prepare_node);
}


arena_impl::~arena_impl() {
  for (core_cache* c : spare)
    if (c != nullptr) free_cache(c);
  for (auto& n : nodes) {
    while (n->large != nullptr) {
      span_header* h = n->large;
      n->large = h->next;
      numa_memory::unmap(h, h->map_len);
    }
    for (void* c : n->chunks) numa.free_bound(c, arena::chunk_size);
  }
}

int arena::prepare_state() const noexcept { return ARENA_PREPARE; }
int arena::online_state() const noexcept { return AP_ARENA_ONLINE; }

// ---- the states

// "mm/arena:prepare" up, on the control thread: the cache's structures, in memory of the
// core's node; the ones the core had before when it was up already (see spare).
int arena_impl::prepare_up(unsigned core) {
  const unsigned node = numa.node_of_cpu(rt.cpu_of(core));
  core_cache* c = std::exchange(spare[core], nullptr);
  if (c != nullptr && c->node != nodes[node].get()) {  // its CPU moved to another node
    free_cache(c);
    c = nullptr;
  }
  if (c == nullptr) {
    void* mem = numa.alloc_bound(round_up(sizeof(core_cache), page_size()), node);
    if (mem == nullptr) return errno ? -errno : -ENOMEM;
    c = ::new (mem) core_cache;
  } else {
    c = ::new (static_cast<void*>(c)) core_cache;  // empty lists (online_down flushed them)
  }
  c->core = core;
  c->node = nodes[node].get();
  prepared[core] = c;
  prepared_count.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

// "mm/arena:prepare" down: the cache is empty (online_down ran); it is kept, unused, for
// the core's next bring-up.
int arena_impl::prepare_down(unsigned core) {
  core_cache* c = std::exchange(prepared[core], nullptr);
  if (c == nullptr) return 0;
  spare[core] = c;
  prepared_count.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

void arena_impl::free_cache(core_cache* c) noexcept {
  c->~core_cache();
  numa.free_bound(c, round_up(sizeof(core_cache), page_size()));
}

// "mm/arena:online" up, on the core's hotplug thread: the cache comes alive.
int arena_impl::online_up(unsigned core) {
  // release: when the arena is created while the core already runs tasks, a task's
  // acquire load in allocate() sees the cache built. (Going up normally, sched:active
  // comes later and orders it anyway.)
  live[core].store(prepared[core], std::memory_order_release);
  live_count.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

// "mm/arena:online" down: sched:active went down first, so the worker runs no task and
// nobody else touches the cache. Every cached block goes back to the shared arena.
int arena_impl::online_down(unsigned core) {
  core_cache* c = live[core].load(std::memory_order_relaxed);  // relaxed: we wrote it
  if (c == nullptr) return 0;
  // relaxed: no task runs on this core any more (see above), nobody reads it but stats().
  live[core].store(nullptr, std::memory_order_relaxed);
  for (unsigned cls = 0; cls < arena::size_classes; ++cls) flush(*c, cls, 0);
  counters[core].cached.store(0, std::memory_order_relaxed);  // relaxed: one writer now
  live_count.fetch_sub(1, std::memory_order_relaxed);         // relaxed: a statistic
  return 0;
}

// ---- the shared arena of a node

bool arena_impl::cut_span(node_arena& n, unsigned cls) {
  if (n.next_span == n.chunk_end) {
    void* raw = numa.alloc_bound(arena::chunk_size + arena::span_size, n.index);
    if (raw == nullptr) return false;
    // The chunk's spans start at the first span_size boundary inside it.
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t first = round_up(start, arena::span_size);
    try {
      n.chunks.push_back(raw);
    } catch (const std::bad_alloc&) {
      numa.free_bound(raw, arena::chunk_size + arena::span_size);
      return false;
    }
    // The last partial span past chunk_size is left uncut; alloc_bound's length keeps it.
    n.next_span = reinterpret_cast<char*>(first);
    n.chunk_end = reinterpret_cast<char*>(first) +
                  (start + arena::chunk_size + arena::span_size - first) / arena::span_size *
                      arena::span_size;
    // relaxed: a statistic.
    reserved.fetch_add(arena::chunk_size + arena::span_size, std::memory_order_relaxed);
  }
  char* span = n.next_span;
  n.next_span += arena::span_size;
  auto* h = ::new (span) span_header;
  h->size_class = cls;
  h->node = n.index;
  h->os_node = n.os_node;
  const std::size_t size = classes.bytes[cls];
  const std::size_t count = (arena::span_size - detail::span_header_size) / size;
  // The span's blocks, in address order, as batches of batch_of(cls).
  const std::uint32_t per_batch = batch_of(cls);
  detail::block_batch b;
  for (std::size_t i = 0; i < count; ++i) {
    auto* blk = reinterpret_cast<free_block*>(span + detail::span_header_size + i * size);
    blk->next = nullptr;
    if (b.head == nullptr) b.head = blk;
    else b.tail->next = blk;
    b.tail = blk;
    if (++b.count == per_batch || i + 1 == count) {
      push_batch(n, cls, b);
      b = {};
    }
  }
  n.carved += count * size;
  n.in_arena += count * size;
  return true;
}

void arena_impl::push_batch(node_arena& n, unsigned cls, detail::block_batch b) noexcept {
  std::vector<detail::block_batch>& stack = n.batches[cls];
  // Merging goes in front of the top batch: O(1) with the new chain's tail.
  auto merge = [&] {
    detail::block_batch& top = stack.back();
    b.tail->next = top.head;
    top.head = b.head;
    top.count += b.count;
  };
  if (!stack.empty() && stack.back().count + b.count <= batch_of(cls)) return merge();
  if (stack.size() == stack.capacity()) {
    try {
      stack.reserve(stack.capacity() * 2);
    } catch (const std::bad_alloc&) {
      // No memory for one more entry. The stack is full, so not empty (create() reserved
      // room and capacity never shrinks): a bigger top batch is still correct.
      return merge();
    }
  }
  stack.push_back(b);
}

bool arena_impl::take(node_arena& n, unsigned cls, std::uint32_t want, block_list& out) {
  std::lock_guard lk(n.mu);
  std::vector<detail::block_batch>& stack = n.batches[cls];
  if (stack.empty() && !cut_span(n, cls)) return false;
  detail::block_batch& top = stack.back();
  if (want >= top.count || want >= batch_of(cls)) {
    // The whole batch, in O(1) (a merged batch may be a little bigger than one cache
    // refill: the cache takes it all rather than walk it).
    top.tail->next = out.head;
    out.head = top.head;
    out.count += top.count;
    n.in_arena -= top.count * classes.bytes[cls];
    stack.pop_back();
    return true;
  }
  // Fewer blocks than the batch holds (a thread outside the pool takes one): from its
  // front, walking only `want` blocks.
  free_block* first = top.head;
  free_block* last = first;
  for (std::uint32_t i = 1; i < want; ++i) last = last->next;
  top.head = last->next;
  top.count -= want;
  n.in_arena -= want * classes.bytes[cls];
  last->next = out.head;
  out.head = first;
  out.count += want;
  return true;
}

void arena_impl::give(node_arena& n, unsigned cls, free_block* head, free_block* tail,
                      std::uint32_t count) noexcept {
  std::lock_guard lk(n.mu);
  push_batch(n, cls, {head, tail, count});
  n.in_arena += count * classes.bytes[cls];
}

// flush() gives all but `keep` of the cache's blocks of class cls to its node's arena.
void arena_impl::flush(core_cache& c, unsigned cls, std::uint32_t keep) noexcept {
  block_list& l = c.lists[cls];
  if (l.count <= keep) return;
  const std::uint32_t n = l.count - keep;
  free_block* head = l.head;
  free_block* tail = head;
  for (std::uint32_t i = 1; i < n; ++i) tail = tail->next;
  l.head = tail->next;
  l.count = keep;
  give(*c.node, cls, head, tail, n);
  bump(counters[c.core].cached, 0 - n * classes.bytes[cls]);
}

void* arena_impl::allocate_shared(unsigned node, unsigned cls) noexcept {
  block_list got;
  if (!take(*nodes[node], cls, 1, got)) return nullptr;
  const std::size_t size = classes.bytes[cls];
  // relaxed: statistics.
  shared_allocated.fetch_add(size, std::memory_order_relaxed);
  shared_allocated_small.fetch_add(size, std::memory_order_relaxed);
  return got.head;
}

void* arena_impl::allocate_large(std::size_t size, unsigned node) noexcept {
  if (size > (std::size_t{1} << 46)) return nullptr;  // no such mapping; avoid overflow
  const std::size_t len = round_up(size + detail::span_header_size, page_size());
  void* p = numa.map_aligned_bound(len, arena::span_size, node);
  if (p == nullptr) return nullptr;
  auto* h = ::new (p) span_header;
  h->size_class = detail::large_class;
  h->node = node;
  h->os_node = nodes[node]->os_node;
  h->map_len = len;
  {
    node_arena& n = *nodes[node];
    std::lock_guard lk(n.mu);
    h->next = n.large;
    if (n.large != nullptr) n.large->prev = h;
    n.large = h;
  }
  // relaxed: statistics.
  reserved.fetch_add(len, std::memory_order_relaxed);
  shared_allocated.fetch_add(len - detail::span_header_size, std::memory_order_relaxed);
  return reinterpret_cast<char*>(p) + detail::span_header_size;
}

void arena_impl::free_large(span_header* h) noexcept {
  {
    node_arena& n = *nodes[h->node];
    std::lock_guard lk(n.mu);
    if (h->prev != nullptr) h->prev->next = h->next;
    else n.large = h->next;
    if (h->next != nullptr) h->next->prev = h->prev;
  }
  const std::size_t len = h->map_len;
  // relaxed: statistics.
  shared_freed.fetch_add(len - detail::span_header_size, std::memory_order_relaxed);
  reserved.fetch_sub(len, std::memory_order_relaxed);
  numa_memory::unmap(h, len);
}

// ---- the fast path

void* arena::allocate(std::size_t size) noexcept {
  arena_impl& a = *_impl;
  const int core = a.rt.this_core();
  if (size > max_small_size) {
    const int cpu = core >= 0 ? a.rt.cpu_of(static_cast<unsigned>(core)) : ::sched_getcpu();
    return a.allocate_large(size, a.numa.node_of_cpu(cpu));
  }
  const unsigned cls = size_class_of(size);
  if (core >= 0) {
    // acquire: see online_up(). Only this core's worker gets here with this core.
    if (core_cache* c = a.live[core].load(std::memory_order_acquire)) {
      block_list& l = c->lists[cls];
      const std::size_t bytes = classes.bytes[cls];
      detail::core_counters& k = a.counters[core];
      if (l.head == nullptr) {
        const std::uint32_t before = l.count;
        if (!a.take(*c->node, cls, batch_of(cls), l)) return nullptr;
        arena_impl::bump(k.cached, (l.count - before) * bytes);
      }
      free_block* b = l.head;
      l.head = b->next;
      --l.count;
      arena_impl::bump(k.allocated, bytes);
      arena_impl::bump(k.cached, 0 - bytes);
      return b;
    }
  }
  return a.allocate_shared(a.numa.node_of_cpu(::sched_getcpu()), cls);
}

void arena::deallocate(void* block) noexcept {
  if (block == nullptr) return;
  arena_impl& a = *_impl;
  span_header* h = detail::span_of(block);
  if (h->size_class == detail::large_class) {
    a.free_large(h);
    return;
  }
  const unsigned cls = h->size_class;
  const std::size_t bytes = classes.bytes[cls];
  auto* b = static_cast<free_block*>(block);
  const int core = a.rt.this_core();
  if (core >= 0) {
    // acquire: see online_up().
    core_cache* c = a.live[core].load(std::memory_order_acquire);
    detail::core_counters& k = a.counters[core];
    if (c != nullptr && c->node->index == h->node) {
      // Same node: the block is as local here as on the core that made it.
      block_list& l = c->lists[cls];
      b->next = l.head;
      l.head = b;
      ++l.count;
      arena_impl::bump(k.freed, bytes);
      arena_impl::bump(k.cached, bytes);
      if (l.count > cache_batches * batch_of(cls)) a.flush(*c, cls, l.count - batch_of(cls));  // one batch back
      return;
    }
    if (c != nullptr) {
      // Another node's block goes home, to its node's arena.
      arena_impl::give(*a.nodes[h->node], cls, b, b, 1);
      arena_impl::bump(k.freed, bytes);
      return;
    }
  }
  arena_impl::give(*a.nodes[h->node], cls, b, b, 1);
  // relaxed: statistics.
  a.shared_freed.fetch_add(bytes, std::memory_order_relaxed);
  a.shared_freed_small.fetch_add(bytes, std::memory_order_relaxed);
}

// ---- accounting

arena_stats arena::stats() const {
  const arena_impl& a = *_impl;
  arena_stats s;
  // relaxed loads throughout: a snapshot, exact once every thread stopped.
  for (std::size_t core = 0; core < a.ncores; ++core) {
    const detail::core_counters& k = a.counters[core];
    s.allocated_small += k.allocated.load(std::memory_order_relaxed);
    s.freed_small += k.freed.load(std::memory_order_relaxed);
    s.in_core_caches += k.cached.load(std::memory_order_relaxed);
  }
  s.allocated_small += a.shared_allocated_small.load(std::memory_order_relaxed);
  s.freed_small += a.shared_freed_small.load(std::memory_order_relaxed);
  s.allocated = s.allocated_small + a.shared_allocated.load(std::memory_order_relaxed) -
                a.shared_allocated_small.load(std::memory_order_relaxed);
  s.freed = s.freed_small + a.shared_freed.load(std::memory_order_relaxed) -
            a.shared_freed_small.load(std::memory_order_relaxed);
  for (const auto& n : a.nodes) {
    std::lock_guard lk(n->mu);
    s.carved += n->carved;
    s.in_arena += n->in_arena;
  }
  s.reserved = a.reserved.load(std::memory_order_relaxed);
  s.live_caches = a.live_count.load(std::memory_order_relaxed);
  s.prepared_caches = a.prepared_count.load(std::memory_order_relaxed);
  return s;
}

int arena::bound_to_node(const void* block, int node) const {
  const span_header* h = detail::span_of(block);
  const std::size_t len = h->size_class == detail::large_class ? h->map_len : span_size;
  return _impl->numa.bound_to(h, len, node);
}

}  // namespace hotcore
