// SPDX-License-Identifier: MIT
/// @file
/// hotcore/core_poller.h — a per-core event source (io_uring completions, a timer wheel)
/// that the core's worker thread runs between tasks and sleeps on when idle.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstdint>

namespace hotcore {

/// core_poller is attached to one core with runtime::attach_poller(). While the core is
/// active (between "sched:active" up and down) its worker calls poll() between tasks (at
/// least every 64 tasks) and whenever it is idle or wakes up. Before it sleeps, it reads
/// next_deadline_ns() and wakes no later than that, and it also wakes when wake_fd()
/// becomes readable.
///
/// Example (a timer wheel):
/// @code
/// struct wheel : hotcore::core_poller {
///   unsigned poll() noexcept override { return fire_due(); }
///   std::int64_t next_deadline_ns() noexcept override { return earliest(); }
/// };
/// rt->attach_poller(core, &w);   // typically in the startup of an ONLINE state of yours
/// rt->detach_poller(core, &w);   // in its teardown; afterwards w may be destroyed
/// @endcode
struct core_poller {
  virtual ~core_poller() = default;
  /// poll() does what is ready (reaps completions, fires due timers) and returns how many
  /// things it did (0: nothing). It runs on the core's worker thread only, never
  /// concurrently with itself, may submit tasks, and must not block. It must consume what
  /// made wake_fd() readable (read the eventfd), or the worker will not sleep.
  virtual unsigned poll() noexcept = 0;
  /// next_deadline_ns() is the CLOCK_MONOTONIC time in nanoseconds by which poll() must
  /// run again, or -1 for none.
  virtual std::int64_t next_deadline_ns() noexcept { return -1; }
  /// wake_fd() is an fd that becomes readable when poll() has work (an eventfd registered
  /// with io_uring_register_eventfd, say), or -1. Read once, by attach_poller().
  virtual int wake_fd() noexcept { return -1; }
};

}  // namespace hotcore
