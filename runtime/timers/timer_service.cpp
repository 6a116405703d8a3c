// SPDX-License-Identifier: MIT
// runtime/timers/timer_service.cpp — per-core timers: each service an instance of the
// multi-instance states "timers:prepare" and "timers:online", arming locally or through
// another core's inbox, cancel, and moving a leaving core's timers to a core that stays.
#include "hotcore/timers.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <new>

#include "hotcore/states.h"
#include "clock.h"
#include "hotcore/runtime.h"
#include "timers/timer_service_impl.h"
#include "chaos.h"

namespace hotcore {

using detail::core_timers;
using detail::timer_rec;
using detail::timer_service_impl;
using detail::timer_wheel;
using detail::wheel_counters;

// ---- timer_handle

timer_handle::timer_handle(const timer_handle& other) noexcept : _t(other._t), _err(other._err) {
  if (_t != nullptr) _t->retain();
}
timer_handle::timer_handle(timer_handle&& other) noexcept
    : _t(std::exchange(other._t, nullptr)), _err(other._err) {}
timer_handle& timer_handle::operator=(timer_handle other) noexcept {
  std::swap(_t, other._t);
  std::swap(_err, other._err);
  return *this;
}
timer_handle::~timer_handle() {
  if (_t != nullptr) _t->release();
}
std::int64_t timer_handle::deadline_ns() const noexcept { return _t != nullptr ? _t->deadline : -1; }
bool timer_handle::fired() const noexcept {
  // acquire: pairs with the release store after fn ran.
  return _t != nullptr && _t->state.load(std::memory_order_acquire) == timer_rec::fired;
}

// ---- create / destroy

std::int64_t timer_service::now_ns() noexcept { return detail::monotonic_ns(); }

timer_service::timer_service(std::unique_ptr<timer_service_impl> impl) : _impl(std::move(impl)) {}

std::unique_ptr<timer_service> timer_service::create(runtime& rt, std::error_code& ec) {
  ec.clear();
  auto impl = std::make_unique<timer_service_impl>(rt);
  // "timers:prepare" (TIMERS_PREPARE) and "timers:online" (ONLINE_DYN), installed by the
  // runtime's first timer service (later services find them).
  const int online = detail::install_states(rt, TIMERS_PREPARE, "timers:prepare", ONLINE_DYN,
                                            "timers:online");
  if (online < 0) {
    ec = std::error_code(-online, std::generic_category());
    return nullptr;
  }
  impl->online_state = online;
  // The service becomes an instance of both states: a wheel on every core at or past
  // "timers:prepare", attached on every core at or past "timers:online".
  if (!detail::join_states(rt, TIMERS_PREPARE, impl->prepare_node, online, impl->online_node, ec)) return nullptr;
  return std::unique_ptr<timer_service>(new timer_service(std::move(impl)));
}

timer_service::~timer_service() {
  _impl->closing.store(true, std::memory_order_release);
  // This service's teardowns on every core; the states stay for the runtime's others.
  (void)_impl->rt.remove_instance(_impl->online_state, &_impl->online_node);  // to `parked`
  (void)_impl->rt.remove_instance(TIMERS_PREPARE, &_impl->prepare_node);     // wheels freed
}

timer_service_impl::timer_service_impl(runtime& rt_) : rt(rt_), cores(rt_.cores()) {
  for (unsigned core : cores) ncores = std::max<std::size_t>(ncores, core + 1);
  per_core = std::make_unique<core_timers[]>(ncores);
}

timer_service_impl::~timer_service_impl() {
  // Timers still pending are dropped without running: cancel() on them returns true.
  while (parked != nullptr) {
    timer_rec* t = parked;
    parked = t->next;
    bool won;
    (void)t->try_cancel(&won);
    t->fn = nullptr;
    t->release();
  }
}

int timer_service::prepare_state() const noexcept { return TIMERS_PREPARE; }
int timer_service::online_state() const noexcept { return _impl->online_state; }

// ---- the states

// "timers:prepare" up, on the control thread: the core's wheel, the one it had before
// when it was up already.
int timer_service_impl::prepare_up(unsigned core) {
  core_timers& c = per_core[core];
  timer_wheel* w = c.spare.release();
  if (w != nullptr) w->restart(timer_service::now_ns());
  else w = new (std::nothrow) timer_wheel(c.inbox, c.counters, cancelled, timer_service::now_ns());
  if (w == nullptr) return -ENOMEM;
  c.prepared = w;
  wheels.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

// "timers:prepare" down: the wheel is empty ("timers:online" down moved its timers); it is
// kept for the core's next bring-up.
int timer_service_impl::prepare_down(unsigned core) {
  core_timers& c = per_core[core];
  if (c.prepared == nullptr) return 0;
  c.spare.reset(std::exchange(c.prepared, nullptr));
  wheels.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

// "timers:online" up, on the core's hotplug thread: the wheel takes the timers parked
// while no core was online, opens its inbox and is attached to the worker, last (from
// then on only the worker touches it).
int timer_service_impl::online_up(unsigned core) {
  core_timers& c = per_core[core];
  timer_wheel* w = c.prepared;
  c.inbox.open();  // first: see send()
  {
    std::lock_guard lk(parked_mutex);
    while (parked != nullptr) {
      timer_rec* t = parked;
      parked = t->next;
      w->insert(t);
    }
    parked_count = 0;
  }
  // release: a task of this core that loads the wheel (acquire) sees it built; matters
  // when the service is set up while the core runs tasks.
  c.wheel.store(w, std::memory_order_release);
  if (const int ret = rt.attach_poller(core, w); ret < 0) {
    (void)online_down(core);  // undo: its timers go to another core, or park
    return ret;
  }
  attached.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

// "timers:online" down, on the core's hotplug thread (the kernel's "timers:dead"): the
// wheel is detached first, so the worker no longer polls it (after sched:active down it
// did not anyway); then every timer it holds or that waits in its inbox moves to another
// online core. Each keeps its state, so it fires once there (or stays cancelled).
int timer_service_impl::online_down(unsigned core) {
  core_timers& c = per_core[core];
  timer_wheel* w = c.prepared;
  const bool was_attached = rt.detach_poller(core, w) == 0;
  // relaxed: no task runs on this core now (sched:active is down) or the service is being
  // destroyed; nobody loads it concurrently.
  c.wheel.store(nullptr, std::memory_order_relaxed);
  timer_rec* list = c.inbox.close_and_take();
  timer_rec* rest = w->take_everything();
  while (rest != nullptr) {
    timer_rec* t = rest;
    rest = t->next;
    t->next = list;
    list = t;
  }
  std::uint64_t moved = 0;
  while (list != nullptr) {
    timer_rec* t = list;
    list = t->next;
    if (t->is_cancelled()) {
      t->fn = nullptr;
      t->release();
    } else if (closing.load(std::memory_order_acquire)) {
      park(t);
    } else {
      send(t, static_cast<int>(core));
      ++moved;
    }
  }
  migrated.fetch_add(moved, std::memory_order_relaxed);  // relaxed: a statistic
  if (was_attached) attached.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

void timer_service_impl::park(timer_rec* t) noexcept {
  std::lock_guard lk(parked_mutex);
  t->next = parked;
  parked = t;
  ++parked_count;
}

bool timer_service_impl::try_send(timer_rec* t, int exclude) noexcept {
  const std::size_t n = cores.size();
  // relaxed: only spreads the load; any core is correct.
  const unsigned start = next_core.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned core = cores[(start + i) % n];
    if (static_cast<int>(core) == exclude) continue;
    if (per_core[core].inbox.push(t)) {
      // The worker may sleep until a later deadline: it polls and reads them again.
      rt.kick_core(core);
      return true;
    }
  }
  return false;
}

void timer_service_impl::send(timer_rec* t, int exclude) noexcept {
  HOTCORE_CHAOS_POINT("timer:migrate");
  if (try_send(t, exclude)) return;
  park(t);
  // A core may have come up between our look at its inbox and the park: its startup
  // opens the inbox before it takes the parked list. Under parked_mutex either it took
  // our timer, or we see its inbox open now and send the parked timers there.
  timer_rec* p;
  {
    std::lock_guard lk(parked_mutex);
    p = std::exchange(parked, nullptr);
    parked_count = 0;
  }
  while (p != nullptr) {
    timer_rec* next = p->next;
    if (!try_send(p, exclude)) park(p);  // still no core: the next one up takes it
    p = next;
  }
}

// ---- arming and cancelling

timer_handle timer_service::arm_at(std::int64_t deadline_ns, timer_fn fn) {
  timer_handle h;
  if (!fn) {
    h._err = -EINVAL;
    return h;
  }
  auto* t = new (std::nothrow) timer_rec;
  if (t == nullptr) {
    h._err = -ENOMEM;
    return h;
  }
  t->deadline = deadline_ns;
  t->fn = std::move(fn);
  h._t = t;  // the handle's reference; the other one goes with the timer
  timer_service_impl& s = *_impl;
  const int core = s.rt.this_core();
  if (core >= 0) {
    core_timers& c = s.per_core[static_cast<unsigned>(core)];
    // acquire: see online_up().
    if (timer_wheel* w = c.wheel.load(std::memory_order_acquire)) {
      w->insert(t);  // we are the core's worker: the wheel's owner
      wheel_counters::add(c.counters.armed, 1);
      return h;
    }
  }
  s.remote_armed.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  s.send(t, -1);
  return h;
}

timer_handle timer_service::arm_after(std::chrono::nanoseconds delay, timer_fn fn) {
  const std::int64_t now = now_ns();
  const std::int64_t d = std::max<std::int64_t>(delay.count(), 0);
  // A delay past the end of the clock saturates instead of overflowing.
  const std::int64_t at = d > std::numeric_limits<std::int64_t>::max() - now
                              ? std::numeric_limits<std::int64_t>::max()
                              : now + d;
  return arm_at(at, std::move(fn));
}

bool timer_service::cancel(const timer_handle& h) noexcept {
  if (h._t == nullptr) return false;
  bool won = false;
  const bool stopped = h._t->try_cancel(&won);
  if (won) _impl->cancelled.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return stopped;
}

timer_stats timer_service::stats() const {
  const timer_service_impl& s = *_impl;
  timer_stats st;
  // relaxed loads: a snapshot, exact once the pool is idle.
  for (unsigned core : s.cores) {
    const wheel_counters& k = s.per_core[core].counters;
    st.armed += k.armed.load(std::memory_order_relaxed);
    st.fired += k.fired.load(std::memory_order_relaxed);
    st.queued += k.held.load(std::memory_order_relaxed);
  }
  st.armed += s.remote_armed.load(std::memory_order_relaxed);
  st.cancelled = s.cancelled.load(std::memory_order_relaxed);
  st.migrated = s.migrated.load(std::memory_order_relaxed);
  {
    std::lock_guard lk(const_cast<timer_service_impl&>(s).parked_mutex);
    st.queued += s.parked_count;
  }
  st.wheels = s.wheels.load(std::memory_order_relaxed);
  st.attached = s.attached.load(std::memory_order_relaxed);
  return st;
}

}  // namespace hotcore
