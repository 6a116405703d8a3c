// SPDX-License-Identifier: MIT
// runtime/timers/timer_rec.h — one armed timer (its deadline, function, reference count
// and the one atomic state that decides between firing and cancelling), and the
// lock-free inbox through which timers reach a core's wheel from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "sched/closeable_stack.h"

namespace hotcore::detail {

struct timer_rec {
  // armed -> firing -> fired, or armed -> cancelled; whoever moves it out of armed decides.
  enum : std::uint32_t { armed = 0, firing = 1, fired = 2, cancelled = 3 };

  // refs: one for the container holding the timer (a wheel, an inbox, the parked list),
  // one per timer_handle.
  std::atomic<std::uint32_t> refs{2};
  std::atomic<std::uint32_t> state{armed};
  std::int64_t deadline = 0;   // CLOCK_MONOTONIC ns; written before the timer is published
  timer_rec* next = nullptr;   // link owned by the container holding the timer
  std::function<void()> fn;    // touched only by the container's owner

  // try_fire() / try_cancel() move the timer out of `armed`; true for the winner.
  bool try_fire() noexcept {
    std::uint32_t s = armed;
    // acq_rel: the winner of the race with cancel() decides; acquire pairs with a
    // cancel()'s release (a lost race must see the cancellation, not run fn).
    return state.compare_exchange_strong(s, firing, std::memory_order_acq_rel,
                                         std::memory_order_acquire);
  }
  // try_cancel() returns true if the timer will not run: it was armed (we cancelled it)
  // or already cancelled.
  bool try_cancel(bool* won) noexcept {
    std::uint32_t s = armed;
    // acq_rel: see try_fire().
    *won = state.compare_exchange_strong(s, cancelled, std::memory_order_acq_rel,
                                         std::memory_order_acquire);
    return *won || s == cancelled;
  }
  [[nodiscard]] bool is_cancelled() const noexcept {
    // relaxed: the owner only drops a cancelled timer; the canceller wrote nothing else
    // the owner reads, and a stale `armed` is caught by try_fire() later.
    return state.load(std::memory_order_relaxed) == cancelled;
  }
  void retain() noexcept {
    // relaxed: a new reference is made from an existing one (like shared_ptr).
    refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept {
    // acq_rel: the last owner sees every other owner's accesses before it deletes.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// timer_inbox hands timers to a core's wheel from other threads; closed while the core's
// wheel is not online.
using timer_inbox = closeable_stack<timer_rec>;

}  // namespace hotcore::detail
