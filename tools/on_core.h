// SPDX-License-Identifier: MIT
// tools/on_core.h — runs a function as a task on one core and waits for it: the one
// "run fn on a core" of tools/.
#pragma once

#include <atomic>
#include <cstdint>

#include "hotcore/runtime.h"

namespace hotcore::tools {

// on_core() runs fn as a task on `core` and waits for it; false, at once, if the core
// refused the task (submit_on() failed).
template <class F>
bool on_core(runtime& rt, unsigned core, F fn) {
  // release/acquire on `done`: fn's writes are visible to the caller after the wait.
  std::atomic<std::uint32_t> done{0};
  if (rt.submit_on(core, [&] {
        fn();
        done.store(1, std::memory_order_release);
        done.notify_one();
      }) != 0)
    return false;
  done.wait(0, std::memory_order_acquire);
  return true;
}

}  // namespace hotcore::tools
