// SPDX-License-Identifier: MIT
// runtime/hotplug/core_record.h — private to the hotplug engine: one core's hotplug record
// (the kernel's struct cpuhp_cpu_state) and one core's part of a move over several cores.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "clock.h"
#include "hotcore/runtime.h"
#include "hotplug/hotplug_thread.h"

namespace hotcore::detail {

struct core_ctx {
  explicit core_ctx(unsigned id_) : id(id_) {}
  const unsigned id;
  // state, target and fail are read by any thread for reporting and set_fail() writes fail
  // from any thread; walks are serialized, so relaxed suffices: the hand-over between the
  // control thread and the hotplug thread orders the walk's own accesses.
  std::atomic<int> state{OFFLINE};
  std::atomic<int> target{OFFLINE};
  std::atomic<int> fail{INVALID};
  bool rollback = false;       // only touched by the walk
  int failed_state = INVALID;  // the state whose callback failed last (walk only)
  // online/active are read by any thread (runtime::core_online()/core_active()); release/
  // acquire so a reader that sees a core active also sees everything its states set up.
  std::atomic<bool> online{false};
  std::atomic<bool> active{false};
  hotplug_thread thread;
  // Parked time: written by the active mask's changes on the core's hotplug thread, read by
  // stats(); relaxed: statistics, nothing is published through them.
  std::atomic<std::int64_t> parked_since_ns{monotonic_ns()};  // 0 while active
  std::atomic<std::int64_t> parked_total_ns{0};
};

// core_move is one core's part of a hotplug operation over several cores.
struct core_move {
  core_ctx* c;
  std::size_t index;    // the core's place in the caller's list
  int prev = INVALID;   // its state before
  int result = 0;       // 0 or a negative errno
  bool moving = false;  // it walks (it is not at the target already, nor kept up)
};

}  // namespace hotcore::detail
