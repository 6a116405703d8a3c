// SPDX-License-Identifier: MIT
// runtime/sched/task_pool.cpp — task node memory: a per-thread free list, and a shared
// depot of whole batches between threads, so a thread that spawns and runs tasks recycles
// the same nodes, and nodes freed by workers flow back to the threads that submit. No
// lock: the depot is an array of slots, each holding one batch, moved with exchange/CAS.
#include <array>
#include <atomic>
#include <cstddef>
#include <new>

#include "hotcore/task.h"

namespace hotcore::detail {
namespace {

constexpr unsigned batch_size = 256;      // nodes moved to or from the depot at once
constexpr unsigned local_max = 2 * batch_size;
constexpr unsigned depot_slots = 64;      // at most 64 * 256 nodes (2 MiB) parked
constexpr std::align_val_t node_align{alignof(task_node)};

// A batch is batch_size free nodes linked by next; the depot holds its first node.
std::array<std::atomic<task_node*>, depot_slots> depot{};

// depot_put() parks a batch; false when every slot is taken.
bool depot_put(task_node* batch) noexcept {
  for (auto& slot : depot) {
    // relaxed: a quick look; the CAS decides.
    if (slot.load(std::memory_order_relaxed) != nullptr) continue;
    task_node* empty = nullptr;
    // release: publishes the batch's links to the taker's acquire exchange.
    if (slot.compare_exchange_strong(empty, batch, std::memory_order_release,
                                     std::memory_order_relaxed))
      return true;
  }
  return false;
}

// depot_take() takes a whole batch, or null. exchange() hands it to exactly one taker
// (no ABA: nothing is read from a node before it is ours).
task_node* depot_take() noexcept {
  for (auto& slot : depot) {
    // relaxed: a quick look; the exchange decides.
    if (slot.load(std::memory_order_relaxed) == nullptr) continue;
    // acquire: pairs with depot_put()'s release.
    if (task_node* batch = slot.exchange(nullptr, std::memory_order_acquire)) return batch;
  }
  return nullptr;
}

void free_list(task_node* n) noexcept {
  while (n != nullptr) {
    task_node* next = n->next;
    ::operator delete(n, node_align);
    n = next;
  }
}

// refill_size: nodes taken from the heap at once when the depot has no batch, so the
// depot's slots are scanned once per refill_size allocations, not once per allocation.
constexpr unsigned refill_size = 32;

// node_cache is a thread's free list. It is trivially destructible and constant-
// initialised, so reaching it is one %fs-relative access (initial-exec, no guard, no
// __tls_get_addr); the cleanup at thread exit is a second thread_local, cache_release,
// touched once per thread on the slow path.
struct node_cache {
  task_node* head;
  unsigned count;
  bool registered;  // cache_release is constructed for this thread
  bool gone;        // the thread is exiting: cache_release has handed the nodes back
};

__attribute__((tls_model("initial-exec"))) constinit thread_local node_cache cache{};

// cache_release hands a thread's nodes back at its exit: full batches to the depot for
// other threads, the rest to the heap.
struct cache_release {
  ~cache_release() {
    node_cache& c = cache;
    c.gone = true;
    while (c.count >= batch_size) {
      task_node* batch = c.head;
      task_node* last = c.head;
      for (unsigned i = 1; i < batch_size; ++i) last = last->next;
      c.head = last->next;
      last->next = nullptr;
      c.count -= batch_size;
      if (!depot_put(batch)) free_list(batch);
    }
    free_list(c.head);
    c.head = nullptr;
    c.count = 0;
  }
};
thread_local cache_release release_at_exit;

// register_release() makes sure this thread's cache is handed back when it exits.
void register_release(node_cache& c) noexcept {
  if (c.registered) return;
  c.registered = true;
  [[maybe_unused]] cache_release* const constructed = &release_at_exit;  // odr-use: constructs it
}

// refill() fills an empty cache: a batch from the depot, or refill_size nodes from the heap.
void refill(node_cache& c) {
  register_release(c);
  if (task_node* batch = depot_take()) {
    c.head = batch;
    c.count = batch_size;
    return;
  }
  for (unsigned i = 0; i < refill_size; ++i) {
    auto* n = static_cast<task_node*>(::operator new(sizeof(task_node), node_align));
    n->next = c.head;
    c.head = n;
    ++c.count;
  }
}

}  // namespace

void* task_alloc() {
  node_cache& c = cache;
  if (c.head == nullptr) {
    if (c.gone) return ::operator new(sizeof(task_node), node_align);
    refill(c);
  }
  task_node* n = c.head;
  c.head = n->next;
  --c.count;
  return n;
}

void task_free(task_node* node) noexcept {
  node_cache& c = cache;
  if (c.gone) {
    ::operator delete(node, node_align);
    return;
  }
  register_release(c);
  node->next = c.head;
  c.head = node;
  if (++c.count < local_max) return;
  // Full: the newest batch_size nodes go to the depot (or back to the heap).
  task_node* batch = c.head;
  task_node* last = batch;
  for (unsigned i = 1; i < batch_size; ++i) last = last->next;
  c.head = last->next;
  last->next = nullptr;
  c.count -= batch_size;
  if (!depot_put(batch)) free_list(batch);
}

}  // namespace hotcore::detail
