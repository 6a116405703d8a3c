// SPDX-License-Identifier: MIT
// runtime/io/io_impl.h — the insides of io_uring_state and io_context: the probed
// features, the per-core slots, and where operations go (routing, delivery, hand-on).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "hotcore/instance.h"
#include "hotcore/io_context.h"
#include "hotcore/runtime.h"
#include "io/core_slot.h"
#include "io/io_op.h"

namespace hotcore::detail {

// probe_io_features() creates small rings with each optional setup flag. 0, or a negative
// errno when io_uring itself is unavailable (ENOSYS, EPERM when io_uring_disabled is set).
[[nodiscard]] int probe_io_features(io_features& out) noexcept;

struct io_state_impl {
  runtime& rt;
  int state = -1;
  io_features features;
};

struct io_context_impl : instance_node {
  io_context_impl(io_state_impl& st, unsigned entries);

  // ring_up()/ring_down() are the state's startup and teardown for this instance, on the
  // core's hotplug thread. The ring lives while the io_context does: ring_up() makes it at
  // the core's first bring-up (the worker enables it) and then only hands it to the
  // worker; ring_down() has the worker take it back, drained.
  int ring_up(unsigned core) noexcept;
  int ring_down(unsigned core) noexcept;
  // make_ring() creates s's ring and has the core's worker enable it. 0, or a negative
  // errno with no ring left.
  int make_ring(unsigned core, core_slot* s) noexcept;
  // take_back() has the core's worker take s back (core_slot::take_back()) and returns
  // the operations to issue again.
  io_op* take_back(unsigned core, core_slot* s) noexcept;

  // submit() takes a new operation: this core's ring from a task, else some core's queue.
  int submit(io_op* op) noexcept;
  // deliver() runs op's continuation as a task, then frees it. Any thread.
  void deliver(io_op* op) noexcept;
  // hand_on() issues each op of the list again on another core than `from`, or completes
  // it with -ECANCELED when the context is closing or no other core has a ring.
  void hand_on(io_op* list, unsigned from) noexcept;

  core_slot* slot(unsigned core) const noexcept {
    return core < slots.size() ? slots[core].get() : nullptr;
  }

  io_state_impl& st;
  runtime& rt;
  const unsigned entries;
  std::vector<std::unique_ptr<core_slot>> slots;  // by core number; null: not a worker core
  std::vector<unsigned> cores;                    // the runtime's worker cores

  // Each relaxed counter below is a statistic (or a hint) read by stats()/rings() only.
  std::atomic<unsigned> rings{0};
  std::atomic<unsigned> next_core{0};  // round robin for submissions from outside
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> reissued{0};
  // outstanding counts operations accepted and not finished (continuation not yet run);
  // the destructor waits for 0. acq_rel on the decrement: see finish().
  std::atomic<std::uint64_t> outstanding{0};
  // closing is set (seq_cst) before the instance is removed: new operations are refused,
  // cancelled ones complete with -ECANCELED instead of moving on.
  std::atomic<bool> closing{false};
};

}  // namespace hotcore::detail
