// runtime/timers/timer_rec.h — one armed timer (its deadline, function, reference count
// and the one atomic state that decides between firing and cancelling), and the
// lock-free inbox through which timers reach a core's wheel from other threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

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

// timer_inbox is a multi-producer stack of timers, taken whole by the wheel's owner, and
// closed (pushes fail) while the core's wheel is not online.
class timer_inbox {
 public:
  // push() adds t; false (t not taken) when closed.
  [[nodiscard]] bool push(timer_rec* t) noexcept {
    // relaxed: a starting guess for the CAS.
    timer_rec* h = _head.load(std::memory_order_relaxed);
    do {
      if (h == closed()) return false;
      t->next = h;
      // release: publishes the timer (deadline, fn, link) to take_all()'s acquire.
    } while (!_head.compare_exchange_weak(h, t, std::memory_order_release,
                                          std::memory_order_relaxed));
    return true;
  }
  // take_all() removes every timer (newest first), or null. Leaves it open.
  [[nodiscard]] timer_rec* take_all() noexcept {
    // relaxed: a quick look; the exchange below acquires.
    timer_rec* h = _head.load(std::memory_order_relaxed);
    if (h == nullptr || h == closed()) return nullptr;
    do {
      if (h == closed()) return nullptr;
      // acquire: pairs with push()'s release (one release sequence of RMWs).
    } while (!_head.compare_exchange_weak(h, nullptr, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return h;
  }
  // close_and_take() closes the inbox and returns what was in it.
  [[nodiscard]] timer_rec* close_and_take() noexcept {
    // acquire: the pushed timers. (Opening again needs nothing from us.)
    timer_rec* h = _head.exchange(closed(), std::memory_order_acquire);
    return h == closed() ? nullptr : h;
  }
  void open() noexcept {
    timer_rec* expect = closed();
    // relaxed: a closed inbox holds nothing to publish.
    _head.compare_exchange_strong(expect, nullptr, std::memory_order_relaxed);
  }
  // has_work() is a hint for next_deadline_ns(): something waits to be taken.
  [[nodiscard]] bool has_work() const noexcept {
    // relaxed: a hint; a push after it kicks the worker (see timer_service).
    timer_rec* h = _head.load(std::memory_order_relaxed);
    return h != nullptr && h != closed();
  }

 private:
  static timer_rec* closed() noexcept { return reinterpret_cast<timer_rec*>(std::uintptr_t{1}); }
  alignas(64) std::atomic<timer_rec*> _head{closed()};
};

}  // namespace hotcore::detail
