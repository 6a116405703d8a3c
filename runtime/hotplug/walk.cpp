// SPDX-License-Identifier: MIT
// runtime/hotplug/walk.cpp — the one hotplug path: take the hotplug lock, walk a core's
// state to its target through the state table, and on failure walk the same way back.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <type_traits>

#include "hotplug/core_record.h"
#include "hotplug/engine.h"
#include "hotplug/state_table.h"
#include "trace/probes.h"

namespace hotcore::detail {
namespace {
// call_event() is what the trace event of one callback call says about where it ran.
trace_event call_event(unsigned core, int state, const std::string& name, direction dir,
                       call_mode mode) {
  trace_event ev;
  ev.core = core;
  ev.state = state;
  ev.name = name;
  ev.dir = dir;
  ev.rollback = mode == call_mode::rollback;
  ev.ran_on_cpu = ::sched_getcpu();
  ev.on_hotplug_thread = hotplug_thread::on_hotplug_thread();
  ev.tid = ::gettid();
  return ev;
}
}  // namespace

int hotplug_engine::move(unsigned core, int target, op_mode mode) {
  return move(std::vector<unsigned>{core}, target, mode).front();
}

// move() takes cpu_add_remove_lock and the hotplug write lock, and walks: one core with
// walk_to(), several together with walk_together() (parallel_calls). Without parallel
// calls several cores go one after another, each under the locks anew.
std::vector<int> hotplug_engine::move(const std::vector<unsigned>& cores, int target,
                                      op_mode mode) {
  std::vector<int> results(cores.size(), 0);
  if (cores.size() > 1 && !_parallel_calls) {
    for (std::size_t i = 0; i < cores.size(); ++i) results[i] = move(cores[i], target, mode);
    return results;
  }
  if (const int ret = guard(entry::write); ret != 0) return std::vector<int>(cores.size(), ret);
  std::vector<core_move> moves;
  for (std::size_t i = 0; i < cores.size(); ++i)
    if (core_ctx* c = find(cores[i]); c == nullptr) results[i] = -EINVAL;
    else moves.push_back({.c = c, .index = i});
  if (moves.empty()) return results;
  locked serialize(_add_remove_mutex);
  if (_disable_count > 0 && mode == op_mode::normal) return std::vector<int>(cores.size(), -EBUSY);
  move_locked(moves, target, mode);
  for (const core_move& m : moves) results[m.index] = m.result;
  return results;
}

// move_locked() walks the moves under the write lock; each move's result is what
// walk_done() says of it.
void hotplug_engine::move_locked(std::vector<core_move>& moves, int target, op_mode mode) {
  _lock.write_lock();
  for (core_move& m : moves) {
    m.prev = m.c->state.load(std::memory_order_relaxed);
    m.c->failed_state = INVALID;
  }
  const std::int64_t t0 = monotonic_ns();
  if (moves.size() == 1) moves.front().result = walk_to(*moves.front().c, target, mode);
  else walk_together(moves, target);
  const std::int64_t ns = monotonic_ns() - t0;  // with several cores, each took the whole step
  for (core_move& m : moves) m.result = walk_done(*m.c, m.prev, target, m.result, ns);
  _lock.write_unlock();
}

// walk_done() ends one core's walk: it counts the walk in the core's statistics and says
// what it returns. The steps that pin a thread to the core's CPU (core:bringup,
// workers:online) fail with EINVAL only when the kernel has that CPU offline (or the
// cpuset took it away): say so with -EHOSTDOWN (runtime.h), the machine's state rather
// than a bad argument. The CPU may be back by now (stress-ng toggles it in microseconds),
// so the step tells, not a second look at the CPU.
int hotplug_engine::walk_done(core_ctx& c, int prev, int target, int ret, std::int64_t ns) {
  // relaxed: the walk is over and serialized by the locks the caller holds.
  if (c.state.load(std::memory_order_relaxed) != prev || ret != 0) note_walk(c, target > prev ? direction::up : direction::down, ns);
  if (ret == -EINVAL && target > prev &&
      (c.failed_state == BRINGUP_CORE || c.failed_state == AP_WORKERS_ONLINE))
    return -EHOSTDOWN;
  return ret;
}

int hotplug_engine::exclusive(const function_ref& fn) {
  locked serialize(_add_remove_mutex);
  _lock.write_lock();  // no callback or reader runs while fn does
  const int ret = fn();
  _lock.write_unlock();
  return ret;
}

void hotplug_engine::serialized(const function_ref& fn) {
  locked serialize(_add_remove_mutex);  // no walk moves a core meanwhile
  (void)fn();
}

// note_walk() adds one walk to the core's statistics (runtime::stats()).
void hotplug_engine::note_walk(core_ctx& c, direction dir, std::int64_t ns) {
  locked lk(_stats_mutex);
  walk_stats& w = _walks[c.id][dir == direction::up ? 1 : 0];
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
int hotplug_engine::walk_to(core_ctx& c, int target, op_mode mode) {
  const int prev = c.state.load(std::memory_order_relaxed);
  if (prev == target) return 0;
  if (mode == op_mode::normal && target < AP_SCHED_ACTIVE && c.active.load(std::memory_order_relaxed) &&
      active_count() == 1)
    return -EBUSY;  // the last core taking tasks stays
  c.target.store(target, std::memory_order_relaxed);
  const int ret = step_core(c, target);
  if (ret != 0) walk_back(c, prev);
  return ret;
}

// walk_back() returns a core whose move failed to where it was (the spec's rollback).
void hotplug_engine::walk_back(core_ctx& c, int prev) {
  c.rollback = true;
  c.target.store(prev, std::memory_order_relaxed);
  (void)step_core(c, prev);
  c.rollback = false;
}

namespace {
// A move crosses the sections at BRINGUP_CORE: the PREPARE steps (up to and including
// core:bringup) run on the control thread, the STARTING and ONLINE steps on the core's
// hotplug thread, in one hand-over per direction. Going up the PREPARE steps come first,
// going down last.
constexpr int bringup = BRINGUP_CORE;
}  // namespace

// ap_walk is the part of a move the core's hotplug thread walks. It runs for the
// operation that holds the write lock, on another thread: the analysis cannot follow
// the hand-over.
struct ap_walk {
  hotplug_engine* engine;
  core_ctx* c;
  int to;
  int operator()() const NO_THREAD_SAFETY_ANALYSIS { return engine->walk(*c, to); }
};

// walk_here() walks the PREPARE part of a move to target, if the move has one left.
int hotplug_engine::walk_here(core_ctx& c, int target) {
  const int state = c.state.load(std::memory_order_relaxed);
  const int to = std::min(target, bringup);
  return state <= bringup && state != to ? walk(c, to) : 0;
}

// ap_part() is where the hotplug thread's part of a move to target ends, or -1 when the
// move has none left.
int hotplug_engine::ap_part(const core_ctx& c, int target) const {
  const int state = c.state.load(std::memory_order_relaxed);
  const int to = std::max(target, bringup);
  return state >= bringup && state != to ? to : -1;
}

// step_core() walks one core to target: its PREPARE part here, the rest on its hotplug
// thread, in one hand-over.
int hotplug_engine::step_core(core_ctx& c, int target) {
  const bool up = target > c.state.load(std::memory_order_relaxed);
  if (up)
    if (const int ret = walk_here(c, target); ret != 0) return ret;
  if (const int to = ap_part(c, target); to >= 0) {
    ap_walk w{this, &c, to};
    if (const int ret = c.thread.run(w, linger(c, up)); ret != 0) return ret;
  }
  return up ? 0 : walk_here(c, target);
}

// walk_together() is walk_to() for several cores at once, the kernel's parallel bringup:
// the PREPARE steps of the cores going up, here, one core after another; then every
// core's STARTING and ONLINE steps at the same time, each on its own hotplug thread; then
// the PREPARE steps of the cores going down, here. A core that fails walks back alone, as
// walk_to() does it; the others stay where they got to.
void hotplug_engine::walk_together(std::vector<core_move>& moves, int target) {
  for (core_move& m : moves) m.moving = m.prev != target;
  keep_last_active(moves, target);
  for (core_move& m : moves)
    if (m.moving) {
      m.c->target.store(target, std::memory_order_relaxed);
      if (target > m.prev) m.result = walk_here(*m.c, target);
    }
  std::vector<ap_walk> walks;
  walks.reserve(moves.size());  // no reallocation: each thread holds a reference to its walk
  std::vector<function_ref> refs;
  refs.reserve(moves.size());
  std::vector<core_move*> posted;
  for (core_move& m : moves)
    if (const int to = ap_part(*m.c, target); m.moving && m.result == 0 && to >= 0) {
      m.c->thread.post(refs.emplace_back(walks.emplace_back(ap_walk{this, m.c, to})),
                       linger(*m.c, target > m.prev));
      posted.push_back(&m);
    }
  for (core_move* m : posted) m->result = m->c->thread.wait();
  for (core_move& m : moves) {
    if (!m.moving) continue;
    if (m.result == 0 && target < m.prev) m.result = walk_here(*m.c, target);
    if (m.result != 0) walk_back(*m.c, m.prev);
  }
}

// keep_last_active() refuses the move of the last core that would leave no core active
// (-EBUSY, and it stays), as walk_to() refuses the last one of cores that go one by one.
void hotplug_engine::keep_last_active(std::vector<core_move>& moves, int target) {
  if (target >= AP_SCHED_ACTIVE) return;
  core_move* last = nullptr;
  int leaving = 0;
  for (core_move& m : moves)
    // relaxed: under the hotplug write lock, which orders every change of `active`.
    if (m.moving && m.c->active.load(std::memory_order_relaxed)) {
      ++leaving;
      last = &m;
    }
  if (last != nullptr && leaving == active_count()) {
    last->moving = false;
    last->result = -EBUSY;
  }
}

// walk() is the one loop: step from the core's state toward target, invoking each state's
// startup (up) or teardown (down), skipping states without one, and stop at the first
// failure. The core's state is always the last state whose startup completed.
int hotplug_engine::walk(core_ctx& c, int target) {
  int state = c.state.load(std::memory_order_relaxed);
  const bool up = target > state;
  while (state != target) {
    const int s = up ? state + 1 : state;
    if ((*_steps)[s].has_callback(up)) {
      const int ret = invoke(c, s, up ? direction::up : direction::down, nullptr,
                             c.rollback ? call_mode::rollback : call_mode::forward);
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
int hotplug_engine::invoke(core_ctx& c, int s, direction dir, instance_node* node, call_mode mode) {
  step& sp = (*_steps)[s];
  const bool up = dir == direction::up;
  const bool tracing = _trace_on.load(std::memory_order_relaxed);
  auto event = [&](instance_node* inst, int result, bool injected, std::int64_t start,
                   std::int64_t ns) {
    trace_event ev = call_event(c.id, s, sp.name, dir, mode);
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
    const void* outer = this_reader.callback_of;
    this_reader.callback_of = this;
    int ret;
    if constexpr (std::is_invocable_v<decltype(fn), unsigned>) ret = fn(c.id);
    else ret = fn(c.id, inst);
    this_reader.callback_of = outer;
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
