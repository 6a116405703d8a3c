// SPDX-License-Identifier: MIT
// tests/on_core.h — run a function as a task on one core's worker and wait for it: the
// one helper for that in tests/.
#pragma once

#include <atomic>
#include <cerrno>
#include <utility>

#include "test_support.h"

namespace hotcore_test {

// run_on() runs fn on `core`'s worker (submit_on) and returns once it ran, with the core
// it ran on (-ENODEV etc. if submit_on refused). A core that goes down meanwhile hands
// the task to another core, so the result says where it really ran.
template <class F>
int run_on(runtime& rt, unsigned core, F&& fn) {
  std::atomic<int> ran_on{-1};
  std::atomic<bool> done{false};
  const int ret = rt.submit_on(core, [&] {
    fn();
    ran_on.store(rt.this_core(), std::memory_order_relaxed);
    done.store(true, std::memory_order_release);
    done.notify_one();
  });
  if (ret != 0) return ret;
  done.wait(false, std::memory_order_acquire);
  return ran_on.load(std::memory_order_relaxed);
}

}  // namespace hotcore_test
