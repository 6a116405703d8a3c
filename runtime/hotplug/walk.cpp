// SPDX-License-Identifier: MIT
// runtime/hotplug/walk.cpp — the one hotplug path: take the hotplug lock, walk a core's
// state to its target through the state table, and on failure walk the same way back.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <type_traits>

#include "runtime_impl.h"
#include "trace/probes.h"

namespace hotcore::detail {
namespace {
// The runtime whose callback this thread is running, for -EDEADLK detection.
// initial-exec: read by every cpus_read_lock() (in_callback()), without a __tls_get_addr() call.
[[gnu::tls_model("initial-exec")]] constinit thread_local const runtime_impl* callback_owner = nullptr;

// call_event() is what the trace event of one callback call says about where it ran.
trace_event call_event(unsigned core, int state, const std::string& name, bool up, bool rollback) {
  trace_event ev;
  ev.core = core;
  ev.state = state;
  ev.name = name;
  ev.dir = up ? direction::up : direction::down;
  ev.rollback = rollback;
  ev.ran_on_cpu = ::sched_getcpu();
  ev.on_hotplug_thread = hotplug_thread::on_hotplug_thread();
  ev.tid = ::gettid();
  return ev;
}
}  // namespace

bool runtime_impl::in_callback() const noexcept { return callback_owner == this; }

int runtime_impl::hotplug_op(unsigned core, int target, op_mode mode) {
  if (in_callback() || lock.read_held()) return -EDEADLK;
  core_ctx* c = find(core);
  if (c == nullptr) return -EINVAL;
  std::lock_guard serialize(add_remove_mutex);
  if (disable_count > 0 && mode == op_mode::normal) return -EBUSY;
  lock.write_lock();
  const int prev = c->state.load(std::memory_order_relaxed);
  c->failed_state = INVALID;
  const std::int64_t t0 = monotonic_ns();
  int ret = walk_to(*c, target, mode);
  const std::int64_t ns = monotonic_ns() - t0;
  // relaxed: the walk is over and serialized by the locks held here.
  if (c->state.load(std::memory_order_relaxed) != prev || ret != 0) note_walk(*c, target > prev, ns);
  lock.write_unlock();
  // The steps that pin a thread to the core's CPU (core:bringup, workers:online) fail with
  // EINVAL only when the kernel has that CPU offline (or the cpuset took it away): say so
  // with -EHOSTDOWN (runtime.h), the machine's state rather than a bad argument. The CPU
  // may be back by now (stress-ng toggles it in microseconds), so the step tells, not a
  // second look at the CPU.
  if (ret == -EINVAL && target > prev &&
      (c->failed_state == BRINGUP_CORE || c->failed_state == AP_WORKERS_ONLINE))
    ret = -EHOSTDOWN;
  return ret;
}

int runtime_impl::restore_placement() {
  std::lock_guard serialize(add_remove_mutex);
  lock.write_lock();  // no callback or reader runs while threads move
  const int ret = placing.restore_all();
  lock.write_unlock();
  return ret;
}

void runtime_impl::adopt_helper(pid_t tid) {
  std::lock_guard serialize(add_remove_mutex);  // no walk moves a core meanwhile
  placing.adopt(tid);
}

void runtime_impl::release_helper(pid_t tid) {
  std::lock_guard serialize(add_remove_mutex);
  placing.release(tid);
}

// note_walk() adds one walk to the core's statistics (runtime::stats()).
void runtime_impl::note_walk(core_ctx& c, bool up, std::int64_t ns) {
  std::lock_guard lk(stats_mutex);
  walk_stats& w = up ? c.walks_up : c.walks_down;
  ++w.count;
  w.last_ns = ns;
  w.max_ns = std::max(w.max_ns, ns);
  w.sum_ns += ns;
  std::size_t b = 0;
  while (b < walk_bucket_ns.size() && ns > walk_bucket_ns[b]) ++b;
  ++w.buckets[b];
}

// walk_to() moves a core to target; on failure it walks back to where the core was. A
// failure while walking back stops the machine right there (no endless loop).
int runtime_impl::walk_to(core_ctx& c, int target, op_mode mode) {
  const int prev = c.state.load(std::memory_order_relaxed);
  if (prev == target) return 0;
  if (mode == op_mode::normal && target < AP_SCHED_ACTIVE && c.active.load(std::memory_order_relaxed) &&
      active_count() == 1)
    return -EBUSY;  // the last core taking tasks stays
  c.target.store(target, std::memory_order_relaxed);
  const int ret = move(c, target);
  if (ret == 0) return 0;
  c.rollback = true;
  c.target.store(prev, std::memory_order_relaxed);
  (void)move(c, prev);
  c.rollback = false;
  return ret;
}

// move() crosses the sections: PREPARE steps run here on the control thread, STARTING and
// ONLINE steps on the core's hotplug thread, in one hand-over per direction.
int runtime_impl::move(core_ctx& c, int target) {
  if (target > c.state.load(std::memory_order_relaxed)) {
    if (c.state.load(std::memory_order_relaxed) < BRINGUP_CORE) {
      const int ret = walk(c, std::min(target, static_cast<int>(BRINGUP_CORE)));
      if (ret != 0 || target <= BRINGUP_CORE) return ret;
    }
    auto ap = [&] { return walk(c, target); };
    return c.thread.run(ap, true);  // the core is up: its thread may linger there
  }
  if (c.state.load(std::memory_order_relaxed) > BRINGUP_CORE) {
    auto ap = [&] { return walk(c, std::max(target, static_cast<int>(BRINGUP_CORE))); };
    const int ret = c.thread.run(ap);
    if (ret != 0 || target >= BRINGUP_CORE) return ret;
  }
  return walk(c, target);
}

// walk() is the one loop: step from the core's state toward target, invoking each state's
// startup (up) or teardown (down), skipping states without one, and stop at the first
// failure. The core's state is always the last state whose startup completed.
int runtime_impl::walk(core_ctx& c, int target) {
  int state = c.state.load(std::memory_order_relaxed);
  const bool up = target > state;
  while (state != target) {
    const int s = up ? state + 1 : state;
    if (steps[s].has_callback(up)) {
      const int ret = invoke(c, s, up, nullptr, c.rollback);
      if (ret != 0) {
        if (!c.rollback) c.failed_state = s;
        return ret;
      }
    }
    state = up ? s : s - 1;
    c.state.store(state, std::memory_order_relaxed);
  }
  return 0;
}

// invoke() runs one state's callback for one core: for a multi-instance state, for `node`
// only, or for every instance (undoing the ones done if one fails). An armed fail fires
// here, once, before the callback.
int runtime_impl::invoke(core_ctx& c, int s, bool up, instance_node* node, bool rollback) {
  step& sp = steps[s];
  const bool tracing = trace_on.load(std::memory_order_relaxed);
  auto event = [&](instance_node* inst, int result, bool injected, std::int64_t start,
                   std::int64_t ns) {
    trace_event ev = call_event(c.id, s, sp.name, up, rollback);
    ev.instance = inst;
    ev.result = result;
    ev.injected = injected;
    ev.start_ns = start;
    ev.nanoseconds = ns;
    record(ev);
  };
  if (c.fail.load(std::memory_order_relaxed) == s) {
    c.fail.store(INVALID, std::memory_order_relaxed);
    if (tracing) event(node, -EAGAIN, true, monotonic_ns(), 0);
    return -EAGAIN;
  }
  auto call = [&](auto&& fn, instance_node* inst) {
    const std::int64_t t0 = tracing ? monotonic_ns() : 0;
    // relaxed: target is only written by this walk (see core_ctx).
    if (inst == nullptr)
      HOTCORE_PROBE(cpuhp_enter, c.id, c.target.load(std::memory_order_relaxed), s, sp.name.c_str());
    else
      HOTCORE_PROBE(cpuhp_multi_enter, c.id, c.target.load(std::memory_order_relaxed), s, inst,
                    sp.name.c_str());
    const runtime_impl* outer = callback_owner;
    callback_owner = this;
    int ret;
    if constexpr (std::is_invocable_v<decltype(fn), unsigned>) ret = fn(c.id);
    else ret = fn(c.id, inst);
    callback_owner = outer;
    HOTCORE_PROBE(cpuhp_exit, c.id, c.target.load(std::memory_order_relaxed), s, ret, sp.name.c_str());
    if (tracing) event(inst, ret, false, t0, monotonic_ns() - t0);
    return ret;
  };
  if (!sp.multi) {
    const callback& fn = up ? sp.startup : sp.teardown;
    return fn ? call(fn, nullptr) : 0;
  }
  const multi_callback& fn = up ? sp.startup_multi : sp.teardown_multi;
  if (!fn) return 0;
  if (node != nullptr) return call(fn, node);
  for (std::size_t i = 0; i < sp.instances.size(); ++i) {
    const int ret = call(fn, sp.instances[i]);
    if (ret == 0) continue;
    // Undo the instances of this state already done on this core; they must not fail.
    const multi_callback& undo = up ? sp.teardown_multi : sp.startup_multi;
    if (undo)
      for (std::size_t j = 0; j < i; ++j) (void)call(undo, sp.instances[j]);
    return ret;
  }
  return 0;
}

}  // namespace hotcore::detail
