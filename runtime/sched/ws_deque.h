// SPDX-License-Identifier: MIT
// runtime/sched/ws_deque.h — the Chase–Lev work-stealing deque (Lê, Pop, Cohen, Zappa
// Nardelli, PPoPP 2013): its owner pushes and pops at the bottom, any thread steals at
// the top. Lock-free; grows by doubling; old rings are kept until the deque dies.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "hotcore/task.h"

namespace hotcore::detail {

class ws_deque {
 public:
  explicit ws_deque(std::int64_t capacity = 1024) {
    _rings.push_back(std::make_unique<ring>(capacity));
    // relaxed: the deque is not shared yet.
    _ring.store(_rings.back().get(), std::memory_order_relaxed);
  }
  ws_deque(const ws_deque&) = delete;
  ws_deque& operator=(const ws_deque&) = delete;

  // push() (owner only) adds a node at the bottom.
  void push(task_node* node) {
    // relaxed: only the owner writes _bottom.
    const std::int64_t b = _bottom.load(std::memory_order_relaxed);
    // acquire: pairs with a thief's CAS of _top, so the slot it took may be reused.
    const std::int64_t t = _top.load(std::memory_order_acquire);
    // relaxed: only the owner writes _ring.
    ring* r = _ring.load(std::memory_order_relaxed);
    if (b - t > r->mask) r = grow(r, t, b);
    r->put(b, node);
    // release: publishes the slot and the node's contents to the thief whose acquire load
    // of _bottom sees b + 1. Every store to _bottom is a release (C++20 release sequences
    // no longer continue through plain stores), so a thief is never left unsynchronized.
    _bottom.store(b + 1, std::memory_order_release);
  }

  // pop() (owner only) takes the newest node, or null when empty or lost to a thief.
  task_node* pop() {
    // relaxed: only the owner writes _bottom and _ring.
    const std::int64_t b = _bottom.load(std::memory_order_relaxed) - 1;
    ring* r = _ring.load(std::memory_order_relaxed);
    // seq_cst store, then seq_cst load of _top: the paper's seq_cst fence between them.
    // Either the thief sees the lowered bottom or we see its raised top; never neither.
    _bottom.store(b, std::memory_order_seq_cst);
    std::int64_t t = _top.load(std::memory_order_seq_cst);
    if (t > b) {  // empty
      // release: see push().
      _bottom.store(b + 1, std::memory_order_release);
      return nullptr;
    }
    task_node* node = r->get(b);
    if (t == b) {
      // The last node: race the thieves for it on _top (seq_cst: same total order as
      // their CAS).
      if (!_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed))
        node = nullptr;
      _bottom.store(b + 1, std::memory_order_release);
    }
    return node;
  }

  // steal() (any thread) takes the oldest node, or null when empty or lost a race.
  task_node* steal() {
    // seq_cst loads of _top then _bottom: the paper's acquire loads with a seq_cst fence
    // between them, pairing with pop()'s store/load.
    std::int64_t t = _top.load(std::memory_order_seq_cst);
    const std::int64_t b = _bottom.load(std::memory_order_seq_cst);
    if (t >= b) return nullptr;
    // acquire: pairs with grow()'s release, so the new ring's slots are visible.
    ring* r = _ring.load(std::memory_order_acquire);
    task_node* node = r->get(t);
    // seq_cst: one winner among the thieves and pop() for slot t.
    if (!_top.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed))
      return nullptr;
    return node;
  }

  // empty() is a racy hint (any thread).
  [[nodiscard]] bool empty() const noexcept {
    // relaxed: a hint; callers that must not miss a node use steal()/pop().
    return _top.load(std::memory_order_relaxed) >= _bottom.load(std::memory_order_relaxed);
  }

 private:
  struct ring {
    explicit ring(std::int64_t cap) : mask(cap - 1), slots(new std::atomic<task_node*>[cap]) {}
    const std::int64_t mask;
    std::unique_ptr<std::atomic<task_node*>[]> slots;
    // relaxed: a slot is published by the release store of _bottom (or of _ring).
    task_node* get(std::int64_t i) const noexcept {
      return slots[i & mask].load(std::memory_order_relaxed);
    }
    void put(std::int64_t i, task_node* n) noexcept {
      slots[i & mask].store(n, std::memory_order_relaxed);
    }
  };

  ring* grow(ring* old, std::int64_t t, std::int64_t b) {
    auto bigger = std::make_unique<ring>((old->mask + 1) * 2);
    for (std::int64_t i = t; i < b; ++i) bigger->put(i, old->get(i));
    ring* r = bigger.get();
    _rings.push_back(std::move(bigger));  // the old ring stays: a thief may still read it
    // release: publishes the copied slots to thieves (acquire load in steal()).
    _ring.store(r, std::memory_order_release);
    return r;
  }

  alignas(64) std::atomic<std::int64_t> _top{0};
  alignas(64) std::atomic<std::int64_t> _bottom{0};
  std::atomic<ring*> _ring{nullptr};
  std::vector<std::unique_ptr<ring>> _rings;  // owner only
};

}  // namespace hotcore::detail
