// SPDX-License-Identifier: MIT
// runtime/hotplug/setup.cpp — installing and removing states and instances, with the
// spec's rollback when a callback fails on core N; set_fail() and set_target().
#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include "runtime_impl.h"

namespace hotcore::detail {
namespace {

// read_section holds cpus_read_lock() unless the caller already does (_cpuslocked).
class read_section {
 public:
  read_section(hotplug_lock& lock, bool already_held) : _lock(already_held ? nullptr : &lock) {
    if (_lock) _lock->read_lock();
  }
  ~read_section() {
    if (_lock) _lock->read_unlock();
  }
  read_section(const read_section&) = delete;
  read_section& operator=(const read_section&) = delete;

 private:
  hotplug_lock* _lock;
};

// table_section is what every change of the table holds: cpus_read_lock() (unless the
// caller already does) and state_mutex.
class table_section {
 public:
  table_section(runtime_impl& rt, bool read_held)
      : _rs(rt.lock, read_held), _sm(rt.state_mutex) {}

 private:
  read_section _rs;
  std::lock_guard<std::mutex> _sm;
};

bool settable(int state) { return state > OFFLINE && state < ONLINE; }

// core_call is one core's call of a state's callback in an operation over every core.
struct core_call {
  runtime_impl* rt;
  core_ctx* c;
  int state;
  bool up;
  instance_node* node;
  bool rollback;
  bool called = false;
  int result = 0;
  int operator()() const { return rt->invoke(*c, state, up, node, rollback); }
};

// calls_at_or_past() is a call for every core at or past the state, in core order.
std::vector<core_call> calls_at_or_past(runtime_impl& rt, int state, bool up,
                                        instance_node* node) {
  std::vector<core_call> calls;
  for (unsigned id : rt.core_ids) {
    core_ctx& c = *rt.by_id[id];
    // relaxed: the hotplug read lock, held by the caller, keeps every core where it is.
    if (c.state.load(std::memory_order_relaxed) >= state)
      calls.push_back({.rt = &rt, .c = &c, .state = state, .up = up, .node = node,
                       .rollback = false});
  }
  return calls;
}

// call_all() makes the calls. PREPARE callbacks run here, the others on each core's
// hotplug thread; one core after another, stopping at the first failure when
// stop_on_failure. With options.parallel_calls, STARTING and ONLINE callbacks are posted to
// every core's hotplug thread first and then waited for, so the cores run them at the same
// time (the kernel brings CPUs up in parallel the same way), and all of them run, whatever
// one returns.
void call_all(std::vector<core_call>& calls, bool stop_on_failure) {
  if (calls.empty()) return;
  const bool on_caller = section_of(calls.front().state) == section::prepare;
  if (on_caller || !calls.front().rt->options.parallel_calls) {
    for (core_call& k : calls) {
      k.result = on_caller ? k() : k.c->thread.run(k, k.rt->own_cpus);
      k.called = true;
      if (k.result != 0 && stop_on_failure) return;
    }
    return;
  }
  std::vector<function_ref> refs;
  refs.reserve(calls.size());  // no reallocation: each thread holds a pointer to its ref
  // linger: a core past a STARTING or ONLINE state is up, its thread on its CPU. Here
  // even where cores share a CPU (runtime_impl::own_cpus): every core gets a request at
  // once, so a thread that lingers finds the next operation's at once too.
  for (core_call& k : calls) k.c->thread.post(refs.emplace_back(k), true);
  for (core_call& k : calls) {
    k.result = k.c->thread.wait();
    k.called = true;
  }
}

}  // namespace

int runtime_impl::setup(step_spec spec, run_calls calls, read_lock held) {
  if (in_callback()) return -EDEADLK;
  if (held == read_lock::held && !lock.read_held()) return -ENOLCK;
  if (!settable(spec.state) || spec.name.empty()) return -EINVAL;
  table_section ts(*this, held == read_lock::held);
  return setup_locked(std::move(spec), calls);
}

// setup_locked() is setup() once the hotplug read lock and state_mutex are held.
int runtime_impl::setup_locked(step_spec spec, run_calls calls) {
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

int runtime_impl::startup_on_cores(int state, instance_node* node) {
  std::vector<core_call> calls = calls_at_or_past(*this, state, true, node);
  call_all(calls, true);
  // The error of the lowest failing core; the cores whose startup succeeded (with
  // parallel calls, cores past it too) are torn down again.
  const auto failed = std::find_if(calls.begin(), calls.end(),
                                   [](const core_call& k) { return k.called && k.result != 0; });
  if (failed == calls.end()) return 0;
  if (steps[state].has_callback(false)) {
    std::vector<core_call> undo;
    for (const core_call& k : calls)
      if (k.called && k.result == 0)
        undo.push_back({.rt = this, .c = k.c, .state = state, .up = false, .node = node,
                        .rollback = true});
    call_all(undo, false);
  }
  return failed->result;
}

int runtime_impl::teardown_on_cores(int state, instance_node* node) {
  std::vector<core_call> calls = calls_at_or_past(*this, state, false, node);
  call_all(calls, false);
  // The error of the lowest failing core is reported; removal goes on.
  for (const core_call& k : calls)
    if (k.result != 0) return k.result;
  return 0;
}

int runtime_impl::setup_multi_once(int state, std::string_view name, multi_callback startup,
                                   multi_callback teardown) {
  if (in_callback()) return -EDEADLK;
  if (!settable(state) || name.empty()) return -EINVAL;
  table_section ts(*this, false);
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

int runtime_impl::remove(int state, step_kind kind, run_calls calls, read_lock held) {
  if (in_callback()) return -EDEADLK;
  if (held == read_lock::held && !lock.read_held()) return -ENOLCK;
  if (!settable(state)) return -EINVAL;
  table_section ts(*this, held == read_lock::held);
  step& sp = steps[state];
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
int runtime_impl::instance_check(int state, const instance_node* node) const {
  if (in_callback() || lock.read_held()) return -EDEADLK;
  return node == nullptr || !settable(state) ? -EINVAL : 0;
}

int runtime_impl::add_instance(int state, instance_node* node, run_calls calls) {
  if (const int ret = instance_check(state, node); ret != 0) return ret;
  table_section ts(*this, false);
  step& sp = steps[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  if (node->attached_state != -1) return -EEXIST;
  if (calls == run_calls::yes && sp.startup_multi)
    if (const int ret = startup_on_cores(state, node); ret != 0) return ret;
  sp.instances.push_back(node);
  node->attached_state = state;
  return 0;
}

int runtime_impl::remove_instance(int state, instance_node* node, run_calls calls) {
  if (const int ret = instance_check(state, node); ret != 0) return ret;
  table_section ts(*this, false);
  step& sp = steps[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  auto it = std::find(sp.instances.begin(), sp.instances.end(), node);
  if (it == sp.instances.end()) return -ENOENT;
  const int err =
      calls == run_calls::yes && sp.teardown_multi ? teardown_on_cores(state, node) : 0;
  sp.instances.erase(it);
  node->attached_state = -1;
  return err;
}

int runtime_impl::set_fail(unsigned core, int state) {
  if (in_callback()) return -EDEADLK;
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
  std::lock_guard sm(state_mutex);
  if (state <= BRINGUP_CORE && c->state.load(std::memory_order_relaxed) > BRINGUP_CORE)
    return -EINVAL;
  if (!steps[state].has_callback(true) && !steps[state].has_callback(false)) return -EINVAL;
  c->fail.store(state, std::memory_order_relaxed);
  return 0;
}

int runtime_impl::set_target(unsigned core, int state) {
  if (in_callback()) return -EDEADLK;
  if (state < OFFLINE || state > ONLINE) return -EINVAL;
  {
    std::lock_guard sm(state_mutex);
    if (!steps[state].installed() || steps[state].cant_stop) return -EINVAL;
  }
  return user_move(core, state);  // through the governor, like core_up()/core_down()
}

}  // namespace hotcore::detail
