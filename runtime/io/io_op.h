// runtime/io/io_op.h — one io_uring operation of an io_context (what to issue, kept so it
// can be issued again on another core's ring, and its continuation), and op_queue, the
// closeable lock-free stack that hands operations to a core's ring from other threads.
#pragma once

#include <atomic>
#include <cstdint>

#include "hotcore/io_context.h"

namespace hotcore::detail {

enum class op_kind : std::uint8_t { read, write, recv, send, accept, poll };

struct io_op {
  op_kind kind = op_kind::read;
  int fd = -1;
  void* buf = nullptr;
  unsigned len = 0;
  int flags = 0;               // recv/send flags, poll events
  std::uint64_t offset = 0;    // read/write
  int result = 0;              // set when it completed
  io_callback done;
  io_op* next = nullptr;       // link in an op_queue or a local list
};

// op_queue is a multi-producer stack taken whole by the ring's owner; closed (pushes fail)
// while the core has no ring, so nothing lands where nobody drains it.
class op_queue {
 public:
  // push() adds op; false (not taken) when closed.
  [[nodiscard]] bool push(io_op* op) noexcept {
    // relaxed: only a first guess for the CAS.
    io_op* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == closed()) return false;
      op->next = h;
      // release: publishes the op's fields to take_all()'s acquire.
    } while (!_head.compare_exchange_weak(h, op, std::memory_order_release,
                                          std::memory_order_relaxed));
    return true;
  }
  // take_all() returns every op, oldest first, or null.
  [[nodiscard]] io_op* take_all() noexcept {
    // relaxed: a quick look; the CAS acquires.
    io_op* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == nullptr || h == closed()) return nullptr;
      // acquire: pairs with push()'s release (one RMW chain, one release sequence).
    } while (!_head.compare_exchange_weak(h, nullptr, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return reverse(h);
  }
  // close_and_take() closes the queue and returns what it held, oldest first.
  [[nodiscard]] io_op* close_and_take() noexcept {
    // acq_rel: acquire the pushed ops; release orders the close before a later open().
    io_op* h = _head.exchange(closed(), std::memory_order_acq_rel);
    return h == closed() ? nullptr : reverse(h);
  }
  void open() noexcept {
    io_op* expect = closed();
    // release: the ring set up before open() is visible to whoever pushes after it.
    _head.compare_exchange_strong(expect, nullptr, std::memory_order_release,
                                  std::memory_order_relaxed);
  }
  [[nodiscard]] bool is_open() const noexcept {
    // acquire: pairs with open(); a hint for choosing a core, push() decides.
    return _head.load(std::memory_order_acquire) != closed();
  }

 private:
  static io_op* closed() noexcept { return reinterpret_cast<io_op*>(std::uintptr_t{1}); }
  static io_op* reverse(io_op* h) noexcept {
    io_op* out = nullptr;
    while (h != nullptr) {
      io_op* n = h->next;
      h->next = out;
      out = h;
      h = n;
    }
    return out;
  }
  alignas(64) std::atomic<io_op*> _head{closed()};
};

}  // namespace hotcore::detail
