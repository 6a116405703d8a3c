// SPDX-License-Identifier: MIT
// runtime/hotplug/setup.cpp — installing and removing states and instances, with the
// spec's rollback when a callback fails on core N; set_fail() and set_target().
#include <algorithm>
#include <cerrno>
#include <optional>

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

bool settable(int state) { return state > OFFLINE && state < ONLINE; }

}  // namespace

int runtime_impl::setup(int state, std::string_view name, callback su, callback td,
                        multi_callback msu, multi_callback mtd, bool multi, bool calls,
                        bool cpuslocked) {
  if (in_callback()) return -EDEADLK;
  if (cpuslocked && !lock.read_held()) return -ENOLCK;
  if (!settable(state) || name.empty()) return -EINVAL;
  read_section rs(lock, cpuslocked);
  std::lock_guard sm(state_mutex);
  return setup_locked(state, name, std::move(su), std::move(td), std::move(msu), std::move(mtd),
                      multi, calls);
}

// setup_locked() is setup() once the hotplug read lock and state_mutex are held.
int runtime_impl::setup_locked(int state, std::string_view name, callback su, callback td,
                               multi_callback msu, multi_callback mtd, bool multi, bool calls) {
  // Reserve the slot: the first free one of a dynamic range, or the static slot asked for.
  const bool dynamic = state == PREPARE_DYN || state == ONLINE_DYN;
  int slot = state;
  if (dynamic) {
    const int end = state == PREPARE_DYN ? PREPARE_DYN_END : ONLINE_DYN_END;
    while (slot < end && steps[slot].installed()) ++slot;
    if (slot == end) return -ENOSPC;
  } else if (steps[slot].installed()) {
    return -EBUSY;  // a built-in state, or already set up
  }

  step& sp = steps[slot];
  sp.name = std::string(name);
  sp.multi = multi;
  sp.startup = std::move(su);
  sp.teardown = std::move(td);
  sp.startup_multi = std::move(msu);
  sp.teardown_multi = std::move(mtd);

  if (calls && sp.has_callback(true)) {
    // Run startup on every core at or past the state; if core N fails, tear down the
    // cores before it, uninstall and free the slot.
    for (std::size_t i = 0; i < core_ids.size(); ++i) {
      core_ctx& c = *by_id[core_ids[i]];
      if (c.state.load(std::memory_order_relaxed) < slot) continue;
      const int ret = issue_call(c, slot, true, nullptr, false);
      if (ret == 0) continue;
      if (sp.has_callback(false))
        for (std::size_t j = 0; j < i; ++j) {
          core_ctx& done = *by_id[core_ids[j]];
          if (done.state.load(std::memory_order_relaxed) >= slot)
            (void)issue_call(done, slot, false, nullptr, true);
        }
      sp.clear();
      return ret;
    }
  }
  return dynamic ? slot : 0;
}

int runtime_impl::setup_multi_once(int state, std::string_view name, multi_callback startup,
                                   multi_callback teardown) {
  if (in_callback()) return -EDEADLK;
  if (!settable(state) || name.empty()) return -EINVAL;
  read_section rs(lock, false);
  std::lock_guard sm(state_mutex);
  // Already set up by an earlier call: the multi-instance state of that name whose startup
  // is the same callable (the same lambda of the same subsystem, so a program's own state
  // of that name is never taken for it), at the static slot or in the dynamic range.
  const bool dynamic = state == PREPARE_DYN || state == ONLINE_DYN;
  const int end = !dynamic ? state + 1 : state == PREPARE_DYN ? PREPARE_DYN_END : ONLINE_DYN_END;
  for (int s = state; s < end; ++s)
    if (steps[s].multi && steps[s].name == name &&
        steps[s].startup_multi.target_type() == startup.target_type())
      return s;
  const int ret = setup_locked(state, name, callback{}, callback{}, std::move(startup),
                               std::move(teardown), true, false);
  return ret == 0 ? state : ret;
}

int runtime_impl::remove(int state, bool calls, bool cpuslocked, bool multi_api) {
  if (in_callback()) return -EDEADLK;
  if (cpuslocked && !lock.read_held()) return -ENOLCK;
  if (!settable(state)) return -EINVAL;
  read_section rs(lock, cpuslocked);
  std::lock_guard sm(state_mutex);
  step& sp = steps[state];
  if (!sp.installed()) return -ENOENT;
  if (sp.builtin) return -EPERM;
  if (sp.multi != multi_api) return -EINVAL;  // remove_multi_state() for multi states only
  if (sp.multi && !sp.instances.empty()) return -ENOTEMPTY;
  int err = 0;
  if (calls && sp.has_callback(false))
    for (unsigned id : core_ids) {
      core_ctx& c = *by_id[id];
      if (c.state.load(std::memory_order_relaxed) < state) continue;
      const int ret = issue_call(c, state, false, nullptr, false);
      if (ret != 0 && err == 0) err = ret;  // reported; removal goes on
    }
  sp.clear();
  return err;
}

int runtime_impl::add_instance(int state, instance_node* node, bool calls) {
  if (in_callback() || lock.read_held()) return -EDEADLK;
  if (node == nullptr || !settable(state)) return -EINVAL;
  read_section rs(lock, false);
  std::lock_guard sm(state_mutex);
  step& sp = steps[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  if (node->attached_state != -1) return -EEXIST;
  if (calls && sp.startup_multi)
    for (std::size_t i = 0; i < core_ids.size(); ++i) {
      core_ctx& c = *by_id[core_ids[i]];
      if (c.state.load(std::memory_order_relaxed) < state) continue;
      const int ret = issue_call(c, state, true, node, false);
      if (ret == 0) continue;
      if (sp.teardown_multi)
        for (std::size_t j = 0; j < i; ++j) {
          core_ctx& done = *by_id[core_ids[j]];
          if (done.state.load(std::memory_order_relaxed) >= state)
            (void)issue_call(done, state, false, node, true);
        }
      return ret;
    }
  sp.instances.push_back(node);
  node->attached_state = state;
  return 0;
}

int runtime_impl::remove_instance(int state, instance_node* node, bool calls) {
  if (in_callback() || lock.read_held()) return -EDEADLK;
  if (node == nullptr || !settable(state)) return -EINVAL;
  read_section rs(lock, false);
  std::lock_guard sm(state_mutex);
  step& sp = steps[state];
  if (!sp.installed() || !sp.multi) return -EINVAL;
  auto it = std::find(sp.instances.begin(), sp.instances.end(), node);
  if (it == sp.instances.end()) return -ENOENT;
  int err = 0;
  if (calls && sp.teardown_multi)
    for (unsigned id : core_ids) {
      core_ctx& c = *by_id[id];
      if (c.state.load(std::memory_order_relaxed) < state) continue;
      const int ret = issue_call(c, state, false, node, false);
      if (ret != 0 && err == 0) err = ret;  // reported; removal goes on
    }
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
  return hotplug_op(core, state, false);
}

}  // namespace hotcore::detail
