// SPDX-License-Identifier: MIT
// runtime/io/core_slot.h — one core's share of an io_context: its io_uring ring (created
// on the core's hotplug thread, enabled, drained and closed on the core's worker), the
// eventfd that wakes the worker, and the queue other threads hand operations through. The
// worker polls it (core_poller).
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

  // bring_up() creates the ring (disabled when setup_flags has IORING_SETUP_R_DISABLED)
  // and its eventfd, on any thread. 0, or a negative errno with nothing left behind (no
  // ring, no fd).
  [[nodiscard]] int bring_up(unsigned entries, unsigned setup_flags,
                             bool register_ring_fd) noexcept;
  // enable() runs on the core's worker after bring_up(): it enables a disabled ring (the
  // worker becomes its single issuer) and registers the ring fd with the worker if asked
  // (best effort: a worker holds at most 16). 0, or a negative errno; then nothing was
  // registered and discard() closes the ring.
  [[nodiscard]] int enable() noexcept;
  // discard() closes a ring that enable() refused (any thread; nothing was issued).
  void discard() noexcept;
  // take_down() runs on the core's worker (the ring's single issuer; the worker runs no
  // task meanwhile): it stops taking operations, cancels every in-flight one and reaps
  // them all, closes the ring and the eventfd. Completions are delivered; it returns the
  // operations to issue again (cancelled, or never issued), oldest first.
  [[nodiscard]] io_op* take_down() noexcept;
  // issue() puts op on the ring and submits it (owner thread, ring live); false when the
  // submission queue is full even after submitting (op not taken).
  [[nodiscard]] bool issue(io_op* op) noexcept;

  // live() tells whether the ring is up (any thread; exact on the owner thread).
  [[nodiscard]] bool live() const noexcept {
    // acquire: pairs with bring_up()'s release; the ring's fields are then visible.
    return _live.load(std::memory_order_acquire);
  }
  [[nodiscard]] unsigned core() const noexcept { return _core; }

  unsigned poll() noexcept override;
  int wake_fd() noexcept override { return _efd; }

  op_queue queue;  // operations from other threads; open exactly while the ring is attached

 private:
  [[nodiscard]] bool prepare(io_op* op) noexcept;
  unsigned reap(bool for_take_down, io_op** cancelled_tail) noexcept;
  void cancel_all() noexcept;

  io_context_impl& _ctx;
  const unsigned _core;
  io_uring _ring{};
  int _efd = -1;
  unsigned _flags = 0;             // the ring's IORING_SETUP_* flags
  bool _register_ring_fd = false;  // enable() registers the ring fd with the worker
  bool _ring_fd_registered = false;
  unsigned _in_flight = 0;  // SQEs prepared and not yet reaped (owner thread only)
  std::atomic<bool> _live{false};
};

}  // namespace hotcore::detail
