// SPDX-License-Identifier: MIT
// runtime/hotplug/setup.cpp — installing and removing states and instances, with the
// spec's rollback when a callback fails on core N; set_fail() and set_target().
#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include "hotplug/core_record.h"
#include "hotplug/engine.h"
#include "hotplug/state_table.h"

namespace hotcore::detail {
namespace {

// read_section holds cpus_read_lock() unless the caller already does (_cpuslocked). For the
// analysis it holds the read side either way.
class SCOPED_CAPABILITY read_section {
 public:
  read_section(hotplug_lock& lock, read_lock held) ACQUIRE_SHARED(lock) NO_THREAD_SAFETY_ANALYSIS
      : _lock(held == read_lock::held ? nullptr : &lock) {
    if (_lock) _lock->read_lock();
  }
  ~read_section() RELEASE() NO_THREAD_SAFETY_ANALYSIS {
    if (_lock) _lock->read_unlock();
  }
  read_section(const read_section&) = delete;
  read_section& operator=(const read_section&) = delete;

 private:
  hotplug_lock* _lock;
};

bool settable(int state) { return state > OFFLINE && state < ONLINE; }

}  // namespace

// core_call is one core's call of a state's callback in an operation over every core. It
// runs for the caller, which holds the read side, on the core's hotplug thread or here.
struct core_call {
  hotplug_engine* engine;
  core_ctx* c;
  int state;
  direction dir;
  instance_node* node;
  call_mode mode;
  bool called = false;
  int result = 0;
  int operator()() const NO_THREAD_SAFETY_ANALYSIS {
    return engine->invoke(*c, state, dir, node, mode);
  }
};

// calls_at_or_past() is a call for every core at or past the state, in core order.
std::vector<core_call> hotplug_engine::calls_at_or_past(int state, direction dir, instance_node* node) {
  std::vector<core_call> calls;
  for (unsigned id : _core_ids) {
    core_ctx& c = *_by_id[id];
    // relaxed: the hotplug read lock, held by the caller, keeps every core where it is.
    if (c.state.load(std::memory_order_relaxed) >= state)
      calls.push_back({.engine = this, .c = &c, .state = state, .dir = dir, .node = node,
                       .mode = call_mode::forward});
  }
  return calls;
}

// call_all() makes the calls. PREPARE callbacks run here, the others on each core's
// hotplug thread; one core after another, stopping at the first failure when
// `then` says to stop. With parallel calls, STARTING and ONLINE callbacks are posted to every
// core's hotplug thread first and then waited for, so the cores run them at the same time
// (the kernel brings CPUs up in parallel the same way), and all of them run, whatever one
// returns. The cores stay up: their threads linger where the rule lets them.
void hotplug_engine::call_all(std::vector<core_call>& calls, on_failure then) {
  if (calls.empty()) return;
  const bool on_caller = section_of(calls.front().state) == section::prepare;
  if (on_caller || !_parallel_calls) {
    for (core_call& k : calls) {
      k.result = on_caller ? k() : k.c->thread.run(k, linger(*k.c, true));
      k.called = true;
      if (k.result != 0 && then == on_failure::stop) return;
    }
    return;
  }
  std::vector<function_ref> refs;
  refs.reserve(calls.size());  // no reallocation: each thread holds a pointer to its ref
  for (core_call& k : calls) k.c->thread.post(refs.emplace_back(k), linger(*k.c, true));
  for (core_call& k : calls) {
    k.result = k.c->thread.wait();
    k.called = true;
  }
}

int hotplug_engine::setup(step_spec spec, run_calls calls, read_lock held) {
  if (const int ret = guard(held == read_lock::held ? entry::read_held : entry::read); ret != 0)
    return ret;
  if (!settable(spec.state) || spec.name.empty()) return -EINVAL;
  read_section rs(_lock, held);
  locked sm(_state_mutex);
  return setup_locked(std::move(spec), calls);
}

// setup_locked() is setup() once the hotplug read lock and state_mutex are held.
int hotplug_engine::setup_locked(step_spec spec, run_calls calls) {
  step_table& steps = *_steps;
  // Reserve the slot: the first free one of a dynamic range, or the static slot asked for.
  const bool dynamic = spec.state == PREPARE_DYN || spec.state == ONLINE_DYN;
  int slot = spec.state;
  if (dynamic) {
    const int end = spec.state == PREPARE_DYN ? PREPARE_DYN_END : ONLINE_DYN_END;
    while (slot < end && steps[slot].installed()) ++slot;
    if (slot == end) return -ENOSPC;
  } else if (steps[slot].installed()) {
    return -EBUSY;  // a built-in state, or already set up
  }

  step& sp = steps[slot];
  sp.name = std::string(spec.name);
  sp.multi = spec.kind == step_kind::multi;
  sp.startup = std::move(spec.startup);
  sp.teardown = std::move(spec.teardown);
  sp.startup_multi = std::move(spec.startup_multi);
  sp.teardown_multi = std::move(spec.teardown_multi);
  // A failed startup on some core uninstalls the state again and frees the slot.
  if (calls == run_calls::yes && sp.has_callback(true))
    if (const int ret = startup_on_cores(slot, nullptr); ret != 0) {
      sp.clear();
      return ret;
    }
  return dynamic ? slot : 0;
}

int hotplug_engine::startup_on_cores(int state, instance_node* node) {
  std::vector<core_call> calls = calls_at_or_past(state, direction::up, node);
  call_all(calls, on_failure::stop);
  // The error of the lowest failing core; the cores whose startup succeeded (with
  // parallel calls, cores past it too) are torn down again.
  const auto failed = std::find_if(calls.begin(), calls.end(),
                                   [](const core_call& k) { return k.called && k.result != 0; });
  if (failed == calls.end()) return 0;
  if ((*_steps)[state].has_callback(false)) {
    std::vector<core_call> undo;
    for (const core_call& k : calls)
      if (k.called && k.result == 0)
        undo.push_back({.engine = this, .c = k.c, .state = state, .dir = direction::down, .node = node,
                        .mode = call_mode::rollback});
    call_all(undo, on_failure::go_on);
  }
  return failed->result;
}

int hotplug_engine::teardown_on_cores(int state, instance_node* node) {
  std::vector<core_call> calls = calls_at_or_past(state, direction::down, node);
  call_all(calls, on_failure::go_on);
  // The error of the lowest failing core is reported; removal goes on.
  for (const core_call& k : calls)
    if (k.result != 0) return k.result;
  return 0;
}

int hotplug_engine::setup_multi_once(int state, std::string_view name, multi_callback startup,
                                     multi_callback teardown) {
  if (const int ret = guard(entry::read); ret != 0) return ret;
  if (!settable(state) || name.empty()) return -EINVAL;
  read_section rs(_lock, read_lock::take);
  locked sm(_state_mutex);
  const step_table& steps = *_steps;
  // Already set up by an earlier call: the multi-instance state of that name whose startup
  // is the same callable (the same lambda of the same subsystem, so a program's own state
  // of that name is never taken for it), at the static slot or in the dynamic range.
  const bool dynamic = state == PREPARE_DYN || state == ONLINE_DYN;
  const int end = !dynamic ? state + 1 : state == PREPARE_DYN ? PREPARE_DYN_END : ONLINE_DYN_END;
  for (int s = state; s < end; ++s)
    if (steps[s].multi && steps[s].name == name &&
        steps[s].startup_multi.target_type() == startup.target_type())
      return s;
  const int ret = setup_locked({.state = state,
                                .name = name,
                                .kind = step_kind::multi,
                                .startup_multi = std::move(startup),
                                .teardown_multi = std::move(teardown)},
                               run_calls::no);
  return ret == 0 ? state : ret;
}

int hotplug_engine::remove(int state, step_kind kind, run_calls calls, read_lock held) {
  if (const int ret = guard(held == read_lock::held ? entry::read_held : entry::read); ret != 0)
    return ret;
  if (!settable(state)) return -EINVAL;
  read_section rs(_lock, held);
  locked sm(_state_mutex);
  step& sp = (*_steps)[state];
  if (!sp.installed()) return -ENOENT;
  if (sp.builtin) return -EPERM;
  // remove_multi_state() for multi states only, the others for single-instance ones.
  if (sp.multi != (kind == step_kind::multi)) return -EINVAL;
  if (sp.multi && !sp.instances.empty()) return -ENOTEMPTY;
  const int err =
      calls == run_calls::yes && sp.has_callback(false) ? teardown_on_cores(state, nullptr) : 0;
  sp.clear();
  return err;
}

// instance_check() is what add_instance() and remove_instance() refuse before they take
// any lock: 0, -EDEADLK or -EINVAL.
int hotplug_engine::instance_check(int state, const instance_node* node) const noexcept {
  if (const int ret = guard(entry::write); ret != 0) return ret;
  return node == nullptr || !settable(state) ? -EINVAL : 0;
}

int hotplug_engine::add_instance(int state, instance_node* node, run_calls calls) {
  if (const int ret = instance_check(state, node); ret != 0) return ret;
  read_section rs(_lock, read_lock::take);
  locked sm(_state_mutex);
  step& sp = (*_steps)[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  if (node->attached_state != -1) return -EEXIST;
  if (calls == run_calls::yes && sp.startup_multi)
    if (const int ret = startup_on_cores(state, node); ret != 0) return ret;
  sp.instances.push_back(node);
  node->attached_state = state;
  return 0;
}

int hotplug_engine::remove_instance(int state, instance_node* node, run_calls calls) {
  if (const int ret = instance_check(state, node); ret != 0) return ret;
  read_section rs(_lock, read_lock::take);
  locked sm(_state_mutex);
  step& sp = (*_steps)[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  auto it = std::find(sp.instances.begin(), sp.instances.end(), node);
  if (it == sp.instances.end()) return -ENOENT;
  const int err =
      calls == run_calls::yes && sp.teardown_multi ? teardown_on_cores(state, node) : 0;
  sp.instances.erase(it);
  node->attached_state = -1;
  return err;
}

int hotplug_engine::set_fail(unsigned core, int state) {
  if (const int ret = guard(entry::read); ret != 0) return ret;
  core_ctx* c = find(core);
  if (c == nullptr) return -EINVAL;
  if (state == INVALID) {
    c->fail.store(INVALID, std::memory_order_relaxed);
    return 0;
  }
  if (state < OFFLINE || state > ONLINE) return -EINVAL;
  // STARTING callbacks cannot fail; PREPARE teardowns may not fail either, so a PREPARE
  // state can only be armed while the core is at or below BRINGUP_CORE.
  if (section_of(state) == section::starting) return -EINVAL;
  locked sm(_state_mutex);
  if (state <= BRINGUP_CORE && c->state.load(std::memory_order_relaxed) > BRINGUP_CORE)
    return -EINVAL;
  const step& sp = (*_steps)[state];
  if (!sp.has_callback(true) && !sp.has_callback(false)) return -EINVAL;
  c->fail.store(state, std::memory_order_relaxed);
  return 0;
}

int hotplug_engine::target_check(int state) {
  if (const int ret = guard(entry::read); ret != 0) return ret;
  if (state < OFFLINE || state > ONLINE) return -EINVAL;
  locked sm(_state_mutex);
  const step& sp = (*_steps)[state];
  return sp.installed() && !sp.cant_stop ? 0 : -EINVAL;
}

std::vector<state_row> hotplug_engine::rows() {
  // Inside a callback the operation running it already holds the state mutex or the
  // hotplug lock, so the table cannot change; taking the mutex there could deadlock.
  const bool take = !in_callback();
  if (take) _state_mutex.lock();
  std::vector<state_row> out;
  for (int s = 0; s < NR_STATES; ++s) {
    const step& sp = (*_steps)[s];
    if (sp.installed())
      out.push_back({s, sp.name, sp.multi ? static_cast<int>(sp.instances.size()) : -1});
  }
  if (take) _state_mutex.unlock();
  return out;
}

}  // namespace hotcore::detail
