// SPDX-License-Identifier: MIT
// tests/model/spec_model.h — an executable model of the spec's hotplug state machine
// (seeds/000: the kernel's cpu_hotplug.rst), single-threaded and written rule by rule, to
// run side by side with the real runtime in model_test.cpp.
//
// The model knows nothing of threads, queues or hand-overs: a core is a number that walks
// a linear state space one state at a time, calling each state's startup (up) or teardown
// (down). Callbacks are not code here but entries in a log, and whether one fails is looked
// up in a plan the test arms. Every rule below quotes the spec (or, where the spec leaves
// a choice, the documented API in include/hotcore/runtime.h).
#pragma once

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "hotcore/states.h"

namespace spec_model {

using namespace hotcore;

// call is one invocation of a user callback, as the log shows it.
struct call {
  unsigned core;
  int tag;        // which set-up state (the test's registration number)
  bool up;        // startup or teardown
  int instance;   // -1 for a single-instance state
  int result;
  bool operator==(const call&) const = default;
};

inline std::string to_string(const call& c) {
  return "core " + std::to_string(c.core) + (c.up ? " startup " : " teardown ") + "tag " +
         std::to_string(c.tag) + (c.instance >= 0 ? " inst " + std::to_string(c.instance) : "") +
         " = " + std::to_string(c.result);
}

// row is one state: the runtime's own (builtin) or one set up by the test.
struct row {
  std::string name;      // empty: a free slot
  bool builtin = false;  // the runtime's own row: cannot be set up over or removed
  bool cant_stop = false;
  bool has_up = false, has_down = false;
  bool multi = false;
  int tag = -1;
  std::vector<int> instances;  // in add order
};

struct core {
  unsigned id;
  int state = OFFLINE;
  int target = OFFLINE;
  int fail = INVALID;
};

// fail_key names the callback a plan makes fail: core, state tag, direction, instance.
using fail_key = std::tuple<unsigned, int, bool, int>;
constexpr int callback_error = -EIO;  // what a failing test callback returns

struct model {
  std::vector<row> rows = std::vector<row>(NR_STATES);
  std::vector<core> cores;
  std::vector<int> attached;  // per instance: the state it is added to, or -1
  int disable_count = 0;
  int read_depth = 0;  // cpus_read_lock() held by the caller
  std::map<fail_key, int> fail_plan;  // remaining failures of that callback
  std::vector<call> log;

  // The runtime's own rows (include/hotcore/states.h), with the directions that have a
  // callback: "threads:prepare" starts a thread (no teardown), "core:bringup" pins and
  // unpins, "sched:starting", "workers:online" and "sched:active" go both ways.
  model(const std::vector<unsigned>& ids, bool online, int instance_count) {
    auto builtin = [&](int s, const char* name, bool up, bool down, bool cant_stop = false) {
      rows[s] = row{name, true, cant_stop, up, down, false, -1, {}};
    };
    builtin(OFFLINE, "offline", false, false);
    builtin(THREADS_PREPARE, "threads:prepare", true, false);
    builtin(BRINGUP_CORE, "core:bringup", true, true, true);
    builtin(AP_SCHED_STARTING, "sched:starting", true, true);
    builtin(AP_ONLINE, "ap:online", false, false, true);
    builtin(AP_WORKERS_ONLINE, "workers:online", true, true);
    builtin(AP_SCHED_ACTIVE, "sched:active", true, true);
    builtin(ONLINE, "online", false, false);
    for (unsigned id : ids) cores.push_back(core{id, online ? ONLINE : OFFLINE, online ? ONLINE : OFFLINE});
    attached.assign(static_cast<std::size_t>(instance_count), -1);
  }

  core* find(unsigned id) {
    for (core& c : cores)
      if (c.id == id) return &c;
    return nullptr;
  }
  bool has_callback(int s, bool up) const { return up ? rows[s].has_up : rows[s].has_down; }
  // "The state space is ... from CPUHP_OFFLINE to CPUHP_ONLINE": both ends are fixed.
  static bool settable(int s) { return s > OFFLINE && s < ONLINE; }
  int active_count() const {
    int n = 0;
    for (const core& c : cores) n += c.state >= AP_SCHED_ACTIVE;
    return n;
  }

  // user_call() is one test callback: it fails if the plan says so, and is logged.
  int user_call(const core& c, int s, bool up, int instance) {
    int result = 0;
    auto it = fail_plan.find({c.id, rows[s].tag, up, instance});
    if (it != fail_plan.end() && it->second > 0) {
      --it->second;
      result = callback_error;
    }
    log.push_back(call{c.id, rows[s].tag, up, instance, result});
    return result;
  }

  // invoke() runs state s's callback for one core: "cpuN/hotplug/fail" fires first, once;
  // a NULL callback is skipped; a multi-instance state calls it "only for the instance"
  // being added or removed, or, in a walk, for each instance in turn (undoing the ones done
  // on this core when one fails).
  int invoke(core& c, int s, bool up, int instance = -2) {
    if (c.fail == s) {
      c.fail = INVALID;
      return -EAGAIN;
    }
    const row& r = rows[s];
    if (r.builtin || !has_callback(s, up)) return 0;
    if (!r.multi) return user_call(c, s, up, -1);
    if (instance != -2) return user_call(c, s, up, instance);
    const std::vector<int> list = r.instances;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const int ret = user_call(c, s, up, list[i]);
      if (ret == 0) continue;
      if (has_callback(s, !up))
        for (std::size_t j = 0; j < i; ++j) (void)user_call(c, s, !up, list[j]);
      return ret;
    }
    return 0;
  }

  // walk(): "startup callbacks are invoked sequentially" in ascending order up, teardowns
  // in descending order down, skipping states without a callback; the first failure stops
  // the walk with the core at the last state it completed.
  int walk(core& c, int target) {
    const bool up = target > c.state;
    while (c.state != target) {
      const int s = up ? c.state + 1 : c.state;
      if (has_callback(s, up))
        if (const int ret = invoke(c, s, up); ret != 0) return ret;
      c.state = up ? s : s - 1;
    }
    return 0;
  }

  // walk_to(): "If a callback fails, the CPU online operation is aborted and the CPU is
  // brought down to the previous state"; a failed offline is brought back up. A failure
  // while rolling back stops the machine where it is ("does not try to go back down
  // again"). The last core taking tasks does not leave (runtime.h: -EBUSY).
  int walk_to(core& c, int target) {
    const int prev = c.state;
    if (prev == target) return 0;
    if (target < AP_SCHED_ACTIVE && c.state >= AP_SCHED_ACTIVE && active_count() == 1)
      return -EBUSY;
    c.target = target;
    const int ret = walk(c, target);
    if (ret == 0) return 0;
    c.target = prev;
    (void)walk(c, prev);
    return ret;
  }

  // hotplug_op(): core_up/core_down/set_target. Refused under cpus_read_lock (it would wait
  // for itself) and while cpu_hotplug_disable() counts above zero.
  int hotplug_op(unsigned id, int target) {
    if (read_depth > 0) return -EDEADLK;
    core* c = find(id);
    if (c == nullptr) return -EINVAL;
    if (disable_count > 0) return -EBUSY;
    return walk_to(*c, target);
  }
  int core_up(unsigned id) { return hotplug_op(id, ONLINE); }
  int core_down(unsigned id) { return hotplug_op(id, OFFLINE); }
  // set_target(): any named state that is not cant_stop.
  int set_target(unsigned id, int state) {
    if (state < OFFLINE || state > ONLINE) return -EINVAL;
    if (rows[state].name.empty() || rows[state].cant_stop) return -EINVAL;
    return hotplug_op(id, state);
  }

  // set_fail(): a one-shot -EAGAIN at a state with a callback; never in STARTING ("not
  // allowed to fail"), nor at a PREPARE state while the core is past BRINGUP (its
  // teardown "is not allowed to fail"). -1 clears it.
  int set_fail(unsigned id, int state) {
    core* c = find(id);
    if (c == nullptr) return -EINVAL;
    if (state == INVALID) {
      c->fail = INVALID;
      return 0;
    }
    if (state < OFFLINE || state > ONLINE) return -EINVAL;
    if (section_of(state) == section::starting) return -EINVAL;
    if (state <= BRINGUP_CORE && c->state > BRINGUP_CORE) return -EINVAL;
    if (!has_callback(state, true) && !has_callback(state, false)) return -EINVAL;
    c->fail = state;
    return 0;
  }

  // setup(): "install the callbacks and invoke the @startup callback (if not NULL) for all
  // online CPUs which have currently a state greater than" it (at or past it: the state's
  // own startup is part of getting there). "If a callback fails for CPU N then the
  // teardown callback for CPU 0 .. N-1 is invoked ... the callbacks for the state are not
  // installed and in case of dynamic allocation the allocated state is freed." Returns 0
  // (static), the allocated state (>0, dynamic) or a negative errno.
  int setup(int state, const std::string& name, int tag, bool up, bool down, bool multi,
            bool calls, bool cpuslocked) {
    if (cpuslocked && read_depth == 0) return -ENOLCK;
    if (!settable(state) || name.empty()) return -EINVAL;
    const bool dynamic = state == PREPARE_DYN || state == ONLINE_DYN;
    int slot = state;
    if (dynamic) {
      const int end = state == PREPARE_DYN ? PREPARE_DYN_END : ONLINE_DYN_END;
      while (slot < end && !rows[slot].name.empty()) ++slot;
      if (slot == end) return -ENOSPC;
    } else if (!rows[slot].name.empty()) {
      return -EBUSY;
    }
    rows[slot] = row{name, false, false, up, down, multi, tag, {}};
    if (calls && up)
      for (std::size_t i = 0; i < cores.size(); ++i) {
        if (cores[i].state < slot) continue;
        const int ret = invoke(cores[i], slot, true);
        if (ret == 0) continue;
        if (down)
          for (std::size_t j = 0; j < i; ++j)
            if (cores[j].state >= slot) (void)invoke(cores[j], slot, false);
        rows[slot] = row{};
        return ret;
      }
    return dynamic ? slot : 0;
  }

  // remove(): "removes the callbacks and invokes the teardown callback (if not NULL) for
  // all online CPUs which have currently a state greater than the removed state"; a
  // failing teardown is reported but the state is removed. "If a multi-instance state is
  // removed then the caller has to remove all instances first." The runtime's own rows
  // stay (-EPERM); remove_state() is not for multi states nor remove_multi_state() for
  // single ones (-EINVAL).
  int remove(int state, bool calls, bool cpuslocked, bool multi_api) {
    if (cpuslocked && read_depth == 0) return -ENOLCK;
    if (!settable(state)) return -EINVAL;
    row& r = rows[state];
    if (r.name.empty()) return -ENOENT;
    if (r.builtin) return -EPERM;
    if (r.multi != multi_api) return -EINVAL;
    if (r.multi && !r.instances.empty()) return -ENOTEMPTY;
    int err = 0;
    if (calls && r.has_down)
      for (core& c : cores) {
        if (c.state < state) continue;
        const int ret = invoke(c, state, false);
        if (ret != 0 && err == 0) err = ret;
      }
    rows[state] = row{};
    return err;
  }

  // add_instance(): startup "for all online CPUs which have currently a state greater
  // than @state ... only invoked for the to be added instance"; on failure for CPU N the
  // teardown runs for 0 .. N-1 and "the instance is not added". Not from a read-locked
  // region (-EDEADLK); an instance is in at most one state (-EEXIST).
  int add_instance(int state, int inst, bool calls) {
    if (read_depth > 0) return -EDEADLK;
    if (inst < 0 || !settable(state)) return -EINVAL;
    row& r = rows[state];
    if (r.name.empty() || !r.multi) return -EINVAL;
    if (attached[static_cast<std::size_t>(inst)] != -1) return -EEXIST;
    if (calls && r.has_up)
      for (std::size_t i = 0; i < cores.size(); ++i) {
        if (cores[i].state < state) continue;
        const int ret = invoke(cores[i], state, true, inst);
        if (ret == 0) continue;
        if (r.has_down)
          for (std::size_t j = 0; j < i; ++j)
            if (cores[j].state >= state) (void)invoke(cores[j], state, false, inst);
        return ret;
      }
    r.instances.push_back(inst);
    attached[static_cast<std::size_t>(inst)] = state;
    return 0;
  }

  // remove_instance(): teardown for that instance on every CPU past the state; a failing
  // teardown is reported, the instance is removed anyway.
  int remove_instance(int state, int inst, bool calls) {
    if (read_depth > 0) return -EDEADLK;
    if (inst < 0 || !settable(state)) return -EINVAL;
    row& r = rows[state];
    if (r.name.empty() || !r.multi) return -EINVAL;
    auto it = std::find(r.instances.begin(), r.instances.end(), inst);
    if (it == r.instances.end()) return -ENOENT;
    int err = 0;
    if (calls && r.has_down)
      for (core& c : cores) {
        if (c.state < state) continue;
        const int ret = invoke(c, state, false, inst);
        if (ret != 0 && err == 0) err = ret;
      }
    r.instances.erase(it);
    attached[static_cast<std::size_t>(inst)] = -1;
    return err;
  }

  // cpu_hotplug_disable()/enable(): a counter; enable without disable is -EINVAL.
  int disable() { return ++disable_count, 0; }
  int enable() { return disable_count == 0 ? -EINVAL : (--disable_count, 0); }

  // listing(): "/sys/devices/system/cpu/hotplug/states": every named state, in order.
  std::vector<std::pair<int, std::string>> listing() const {
    std::vector<std::pair<int, std::string>> out;
    for (int s = 0; s < NR_STATES; ++s)
      if (!rows[s].name.empty()) out.emplace_back(s, rows[s].name);
    return out;
  }
};

}  // namespace spec_model
