// SPDX-License-Identifier: MIT
/// @file
/// hotcore/timers.h — one-shot timers on a per-core timer wheel: a timer fires on the
/// worker of the core it was armed on; when that core goes down its pending timers move to
/// another core (as the kernel's "timers:dead" does) and still fire exactly once, never
/// before their deadline. Each service is an instance of two multi-instance hotplug states.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

namespace hotcore {

class runtime;
class timer_service;

namespace detail {
struct timer_rec;
struct timer_service_impl;
}  // namespace detail

/// timer_handle refers to one armed timer. It stays valid wherever the timer moves (across
/// core migrations) and after the timer fired or the service is gone; copies share it.
/// An empty handle (arm failed) has error() < 0.
class timer_handle {
 public:
  timer_handle() noexcept = default;
  /// A copy refers to the same timer.
  timer_handle(const timer_handle& other) noexcept;
  /// Moving leaves other empty.
  timer_handle(timer_handle&& other) noexcept;
  /// Assignment makes this handle refer to other's timer.
  timer_handle& operator=(timer_handle other) noexcept;
  ~timer_handle();

  /// true when the handle refers to a timer (arming succeeded).
  explicit operator bool() const noexcept { return _t != nullptr; }
  /// error() is 0 for an armed timer, or why arming failed (a negative errno).
  [[nodiscard]] int error() const noexcept { return _err; }
  /// deadline_ns() is the CLOCK_MONOTONIC deadline in nanoseconds (-1 if empty).
  [[nodiscard]] std::int64_t deadline_ns() const noexcept;
  /// fired() is true once the timer's function has returned.
  [[nodiscard]] bool fired() const noexcept;

 private:
  friend class timer_service;
  detail::timer_rec* _t = nullptr;
  int _err = 0;
};

/// timer_stats is a snapshot of a timer service's counts (exact once the pool is idle).
struct timer_stats {
  std::uint64_t armed = 0;      ///< arm_at()/arm_after() calls that armed a timer
  std::uint64_t fired = 0;      ///< timers whose function ran
  std::uint64_t cancelled = 0;  ///< cancel() calls that stopped a timer
  std::uint64_t migrated = 0;   ///< timers moved off a core that went down
  std::uint64_t queued = 0;     ///< timers the wheels and the parked list hold (pending, or
                                /// cancelled and not yet dropped); a timer on its way
                                /// through a core's inbox counts once that core polled
  unsigned wheels = 0;          ///< cores at or past "timers:prepare" (their wheel in use)
  unsigned attached = 0;        ///< cores whose wheel is polled ("timers:online" up)
};

/// timer_service runs one timer wheel per core as a core_poller of the core's worker.
///
/// - arm_at()/arm_after() from a task put the timer on the task's core's wheel (no lock,
///   no atomic RMW but the handle's reference count); from any other thread the timer
///   goes to some online core through that core's lock-free inbox, and the core's worker
///   is kicked so it reads the new earliest deadline. With no core online the timer waits
///   until one comes up.
/// - A timer's function runs on the worker of its core, from the worker's poll pass,
///   at or after its deadline (CLOCK_MONOTONIC), exactly once, unless cancelled. It must
///   not block, and an exception escaping it calls std::terminate.
/// - cancel() may race with firing and with migration on other threads: each timer has
///   one atomic state (armed -> firing -> fired, or armed -> cancelled), and whoever moves
///   it out of `armed` decides. A cancelled timer is dropped by its wheel when the wheel
///   reaches it, or sooner: once cancellations add up to half of what a wheel holds, its
///   next poll sweeps them all out (a server's cancelled 30 s timeouts do not pile up).
/// - The wheel has 512 slots of 2^20 ns (~1 ms), ~0.5 s in all; later timers wait in an
///   overflow list that is moved into the wheel as its time comes. The worker sleeps until
///   the exact earliest deadline (not a tick), so a timer is late only by the wake-up.
///
/// States: every timer service of a runtime is an instance of the same two multi-instance
/// states, set up with setup_state_multi() when the runtime's first service is created
/// and left installed for the runtime's life (with 0 instances once no service is left).
/// The listing shows each once, with its number of services. Fault injection with
/// set_fail() works on both; it fails the state for every service on that core.
///   "timers:prepare" (PREPARE, slot TIMERS_PREPARE): this service's wheel for the core is
///       allocated on the control thread at the core's first bring-up and restarted at
///       the next ones; teardown keeps it (empty by then) for the next bring-up, and the
///       service's destructor frees it.
///   "timers:online" (ONLINE_DYN, allocated once): on the core's hotplug thread, the wheel
///       opens its inbox and is attached to the worker with attach_poller() (last).
///       Teardown detaches it (first) and moves every pending timer of this service to
///       another online core ("timers:dead"), where it fires once.
/// Each service has its own wheels, inboxes, parked list and counts; only the states are
/// shared.
///
/// Rules: destroy the service before its runtime, once no thread arms timers any more.
/// Timers still pending then are dropped without running (their handles stay valid and
/// report not fired).
///
/// Example:
/// @code
/// std::error_code ec;
/// auto timers = hotcore::timer_service::create(*rt, ec);
/// auto h = timers->arm_after(std::chrono::milliseconds(5), [] { flush_batch(); });
/// if (!h) return h.error();
/// if (timers->cancel(h)) { /* it will not run */ }
/// @endcode
class timer_service {
 public:
  /// timer_fn is what a timer runs, on the worker of the core it fires on.
  using timer_fn = std::function<void()>;
  static constexpr unsigned wheel_slots = 512;  ///< slots of each core's timer wheel
  static constexpr unsigned tick_shift = 20;  ///< a slot covers 2^20 ns

  /// create() adds the service as an instance of both states (setting them up on the
  /// runtime's first service): its startups run on every core already online. If one
  /// fails on core N, the instance is torn down on cores 0..N-1 and nullptr is returned
  /// with ec set (the callback's error; EBUSY: TIMERS_PREPARE holds another state; ENOSPC:
  /// ONLINE_DYN full when the first service sets up "timers:online").
  [[nodiscard]] static std::unique_ptr<timer_service> create(runtime& rt, std::error_code& ec);
  ~timer_service();
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;

  /// arm_at() arms fn to run at CLOCK_MONOTONIC time deadline_ns (a past deadline fires
  /// at the next poll). arm_after() arms it `delay` from now. An empty handle on error:
  /// -EINVAL for an empty fn, -ENOMEM.
  timer_handle arm_at(std::int64_t deadline_ns, timer_fn fn);
  /// arm_after(): see arm_at().
  timer_handle arm_after(std::chrono::nanoseconds delay, timer_fn fn);
  /// cancel() returns true if the timer will not run (this call or an earlier one
  /// cancelled it, or the service dropped it), false if it ran, is running, or the handle
  /// is empty. Any thread; it does not wait for a running function.
  bool cancel(const timer_handle& h) noexcept;

  /// now_ns() is CLOCK_MONOTONIC in nanoseconds, the clock deadlines are read on.
  [[nodiscard]] static std::int64_t now_ns() noexcept;
  /// stats() is a snapshot of the service's counters (timer_stats).
  [[nodiscard]] timer_stats stats() const;
  /// prepare_state() and online_state() are the numbers of the two states (the same for
  /// every service of a runtime).
  [[nodiscard]] int prepare_state() const noexcept;
  /// online_state(): see prepare_state().
  [[nodiscard]] int online_state() const noexcept;

 private:
  explicit timer_service(std::unique_ptr<detail::timer_service_impl> impl);
  std::unique_ptr<detail::timer_service_impl> _impl;
};

}  // namespace hotcore
