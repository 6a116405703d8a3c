// SPDX-License-Identifier: MIT
// hotcore/detail/group_state.h — the machinery behind hotcore/task_group.h (not part of the
// public contract): what a group's tasks share with its waiter.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <atomic>
#include <cstdint>
#include <exception>

#include "hotcore/detail/task_node.h"

namespace hotcore {
namespace detail {

class scheduler;

// group_state is what the tasks of one group share with its waiter.
struct group_state {
  // word counts the group's unfinished tasks (low 31 bits) and has waiting_bit set while a
  // waiter sleeps on it. The last task's decrement is its last access to the group (a
  // futex wake needs only the address), so the waiter may destroy the group as soon as it
  // reads a count of 0.
  static constexpr std::uint32_t waiting_bit = 1u << 31;
  std::atomic<std::uint32_t> word{0};
  // failed is set (acq_rel exchange) by the first task that throws; that task stores
  // error before its decrement (release), the waiter reads it after seeing 0 (acquire).
  std::atomic<bool> failed{false};
  std::exception_ptr error;
};

// spawn() queues a group's task: on the calling worker's own deque, or (from another
// thread) on an active core's injection queue. wait_group() returns once the group's
// count is 0, running other tasks meanwhile. Both are in libhotcore.
void spawn(scheduler& s, task_node* node);
void wait_group(scheduler& s, group_state& g) noexcept;

}  // namespace detail

}  // namespace hotcore
