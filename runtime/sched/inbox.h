// runtime/sched/inbox.h — a core's injection queue: a lock-free multi-producer stack of
// task nodes that is taken whole, and can be closed (pushes then fail) when the core stops
// taking tasks, so nothing lands in a queue nobody will drain.
#pragma once

#include <atomic>
#include <cstdint>

#include "hotcore/task.h"

namespace hotcore::detail {

class inbox {
 public:
  // push() adds a node; false (node not taken) when the inbox is closed.
  [[nodiscard]] bool push(task_node* node) noexcept {
    // relaxed: only a starting guess for the CAS.
    task_node* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == closed()) return false;
      node->next = h;
      // release: publishes the node (and its link) to take_all()'s acquire. A push that
      // loses to close_and_take() sees closed() on retry: one modification order decides.
    } while (!_head.compare_exchange_weak(h, node, std::memory_order_release,
                                          std::memory_order_relaxed));
    return true;
  }

  // take_all() removes every node (newest first, linked by next), or null. Any thread.
  [[nodiscard]] task_node* take_all() noexcept {
    // relaxed: a quick look; the CAS below acquires.
    task_node* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == nullptr || h == closed()) return nullptr;
      // acquire: pairs with the pushes' release CAS (an RMW chain: one release sequence),
      // so every node in the list is visible.
    } while (!_head.compare_exchange_weak(h, nullptr, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return h;
  }

  // close_and_take() closes the inbox and returns what was in it (newest first).
  [[nodiscard]] task_node* close_and_take() noexcept {
    // acq_rel: acquire the pushed nodes; release orders the close for later open().
    task_node* h = _head.exchange(closed(), std::memory_order_acq_rel);
    return h == closed() ? nullptr : h;
  }

  // open() lets pushes in again (no-op if open).
  void open() noexcept {
    task_node* expect = closed();
    // relaxed: a closed inbox holds no nodes, so there is nothing to publish.
    _head.compare_exchange_strong(expect, nullptr, std::memory_order_relaxed);
  }

  // empty() is a racy hint.
  [[nodiscard]] bool empty() const noexcept {
    // relaxed: a hint only.
    task_node* h = _head.load(std::memory_order_relaxed);
    return h == nullptr || h == closed();
  }

 private:
  static task_node* closed() noexcept {
    return reinterpret_cast<task_node*>(std::uintptr_t{1});
  }
  alignas(64) std::atomic<task_node*> _head{closed()};  // closed until the core is active
};

}  // namespace hotcore::detail
