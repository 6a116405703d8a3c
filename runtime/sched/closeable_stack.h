// SPDX-License-Identifier: MIT
// runtime/sched/closeable_stack.h — a lock-free multi-producer stack of nodes (anything
// with a `Node* next`) that is taken whole, and can be closed (pushes then fail) while its
// core does not drain it, so nothing lands where nobody looks. A core's task inboxes, its
// io_uring operation queue and its timer inbox are all one of these.
#pragma once

#include <atomic>
#include <cstdint>
#include "chaos.h"

namespace hotcore::detail {

template <class Node>
class closeable_stack {
 public:
  // push() adds a node; false (node not taken) when the stack is closed.
  [[nodiscard]] bool push(Node* node) noexcept {
    HOTCORE_CHAOS_POINT("queue:push");
    // relaxed: only a starting guess for the CAS.
    Node* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == closed()) return false;
      node->next = h;
      // release: publishes the node (its fields and link) to take_all()'s acquire. A push
      // that loses to close_and_take() sees closed() on retry: one modification order.
    } while (!_head.compare_exchange_weak(h, node, std::memory_order_release,
                                          std::memory_order_relaxed));
    return true;
  }

  // take_all() removes every node (newest first, linked by next), or null. Any thread.
  [[nodiscard]] Node* take_all() noexcept {
    // relaxed: a quick look; the CAS below acquires.
    Node* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == nullptr || h == closed()) return nullptr;
      // acquire: pairs with the pushes' release CAS (an RMW chain: one release sequence),
      // so every node in the list is visible.
    } while (!_head.compare_exchange_weak(h, nullptr, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return h;
  }

  // close_and_take() closes the stack and returns what was in it (newest first).
  [[nodiscard]] Node* close_and_take() noexcept {
    HOTCORE_CHAOS_POINT("queue:close");
    // acq_rel: acquire the pushed nodes; release orders the close before a later open().
    Node* h = _head.exchange(closed(), std::memory_order_acq_rel);
    return h == closed() ? nullptr : h;
  }

  // open() lets pushes in again (no-op if open).
  void open() noexcept {
    Node* expect = closed();
    // relaxed: a closed stack holds no nodes, so there is nothing to publish; pushers
    // touch only their own node, and the drainer's state is ordered by its own flags.
    _head.compare_exchange_strong(expect, nullptr, std::memory_order_relaxed);
  }

  // empty() is a racy hint: nothing waits to be taken.
  [[nodiscard]] bool empty() const noexcept {
    // relaxed: a hint only; a push after it wakes the taker by other means (a kick).
    Node* h = _head.load(std::memory_order_relaxed);
    return h == nullptr || h == closed();
  }

 private:
  static Node* closed() noexcept { return reinterpret_cast<Node*>(std::uintptr_t{1}); }
  alignas(64) std::atomic<Node*> _head{closed()};  // closed until its core drains it
};

// reverse_list() turns a list taken newest first into oldest first.
template <class Node>
[[nodiscard]] Node* reverse_list(Node* h) noexcept {
  Node* out = nullptr;
  while (h != nullptr) {
    Node* n = h->next;
    h->next = out;
    out = h;
    h = n;
  }
  return out;
}

}  // namespace hotcore::detail
