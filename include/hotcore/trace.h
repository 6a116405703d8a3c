// SPDX-License-Identifier: MIT
/// @file
/// hotcore/trace.h — one record per hotplug callback invocation, when tracing is on; the
/// cost tables of `hotcore cycle` and the event logs of the tests are made from these.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstdint>
#include <string>

namespace hotcore {

struct instance_node;

/// direction of a callback: up is a startup callback, down a teardown callback.
enum class direction { up, down };

/// trace_event describes one invoked callback (skipped NULL callbacks leave no event).
struct trace_event {
  unsigned core = 0;             ///< the core the callback served
  int state = -1;                ///< hp_state number
  std::string name;              ///< the state's name
  direction dir = direction::up; ///< startup (up) or teardown (down)
  int result = 0;                ///< what the callback returned (-EAGAIN if injected)
  bool injected = false;         ///< the failure came from set_fail(), the callback did not run
  bool rollback = false;         ///< invoked while undoing a failed operation
  int ran_on_cpu = -1;           ///< sched_getcpu() of the thread that ran it
  bool on_hotplug_thread = false;  ///< ran on the core's hotplug thread (else on the caller)
  const instance_node* instance = nullptr;  ///< the instance, for multi-instance states
  std::int64_t nanoseconds = 0;  ///< how long the callback took
  std::int64_t start_ns = 0;     ///< when it began (std::chrono::steady_clock, ns)
  int tid = 0;                   ///< kernel id of the thread that ran it
};

}  // namespace hotcore
