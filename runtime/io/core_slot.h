// SPDX-License-Identifier: MIT
// runtime/io/core_slot.h — one core's share of an io_context: its io_uring ring (created
// at the core's first bring-up and enabled on the core's worker, handed to the worker at
// each bring-up and taken back, drained, at each teardown; closed with the io_context),
// the eventfd that wakes the worker, and the queue other threads hand operations through.
// The worker polls it (core_poller).
#pragma once

#include <liburing.h>

#include <atomic>

#include "hotcore/core_poller.h"
#include "io/io_op.h"

namespace hotcore::detail {

struct io_context_impl;

class core_slot final : public core_poller {
 public:
  core_slot(io_context_impl& ctx, unsigned core) noexcept : _ctx(ctx), _core(core) {}
  ~core_slot() override;
  core_slot(const core_slot&) = delete;
  core_slot& operator=(const core_slot&) = delete;

  // made() tells whether the ring exists (created and enabled). Hotplug-serialized.
  [[nodiscard]] bool made() const noexcept { return _efd >= 0; }
  // make() creates the ring (disabled when setup_flags has IORING_SETUP_R_DISABLED) and
  // its eventfd, on any thread. 0, or a negative errno with nothing left behind (no ring,
  // no fd).
  [[nodiscard]] int make(unsigned entries, unsigned setup_flags, bool register_ring_fd) noexcept;
  // enable() runs once on the core's worker after make(): it enables a disabled ring (the
  // worker becomes its single issuer for the ring's life: the worker thread lives as long
  // as the runtime). 0, or a negative errno; then close() closes the ring.
  [[nodiscard]] int enable() noexcept;
  // hand_over() makes an enabled, idle ring live again for the worker (any thread, before
  // the slot is attached as the worker's poller): no system call.
  void hand_over() noexcept;
  // take_back() runs on the core's worker (the ring's single issuer; the worker runs no
  // task meanwhile): it stops taking operations, cancels every in-flight one and reaps
  // them all, and leaves the ring idle, enabled, for the next hand_over(). Completions are
  // delivered; it returns the operations to issue again (cancelled, or never issued),
  // oldest first.
  [[nodiscard]] io_op* take_back() noexcept;
  // idle() tells whether take_back() reaped every operation (it could not when it ran on
  // another thread than the ring's single issuer). Hotplug-serialized, after take_back().
  [[nodiscard]] bool idle() const noexcept { return _in_flight == 0; }
  // close() closes an idle ring and its eventfd (any thread: nothing is in flight and the
  // ring fd is registered with no thread).
  void close() noexcept;
  // issue() puts op on the ring and submits it (owner thread, ring live); false when the
  // submission queue is full even after submitting (op not taken).
  [[nodiscard]] bool issue(io_op* op) noexcept;

  // live() tells whether the ring is up (any thread; exact on the owner thread).
  [[nodiscard]] bool live() const noexcept {
    // acquire: pairs with hand_over()'s release; the ring's fields are then visible.
    return _live.load(std::memory_order_acquire);
  }
  [[nodiscard]] unsigned core() const noexcept { return _core; }

  unsigned poll() noexcept override;
  int wake_fd() noexcept override { return _efd; }

  op_queue queue;  // operations from other threads; open exactly while the ring is attached

 private:
  [[nodiscard]] bool prepare(io_op* op) noexcept;
  void register_ring_fd() noexcept;
  unsigned reap(bool for_take_back, io_op** cancelled_tail) noexcept;
  void cancel_all() noexcept;

  io_context_impl& _ctx;
  const unsigned _core;
  io_uring _ring{};
  int _efd = -1;
  unsigned _flags = 0;             // the ring's IORING_SETUP_* flags
  // The worker registers the ring fd with itself at its first poll() after a hand-over
  // and unregisters it in take_back(), so an idle ring can be closed from any thread.
  bool _register_ring_fd = false;
  bool _register_pending = false;    // owner thread (make() before enable())
  bool _ring_fd_registered = false;  // owner thread only
  unsigned _in_flight = 0;  // SQEs prepared and not yet reaped (owner thread only)
  std::atomic<bool> _live{false};
};

}  // namespace hotcore::detail
