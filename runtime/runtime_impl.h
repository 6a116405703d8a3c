// SPDX-License-Identifier: MIT
// runtime/runtime_impl.h — the runtime's private state: cores, the state table, the
// hotplug lock, and the one hotplug path every trigger goes through.
#pragma once

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "clock.h"
#include "govern/governor.h"
#include "platform/physical_cpus.h"
#include "platform/placement.h"
#include "quota/quota_totals.h"
#include "hotcore/runtime.h"
#include "hotcore/stats.h"
#include "hotcore/topology.h"
#include "hotplug/hotplug_lock.h"
#include "hotplug/hotplug_thread.h"
#include "hotplug/state_table.h"
#include "sched/scheduler.h"

namespace hotcore::detail {

// core_ctx is one worker core's hotplug state (the kernel's struct cpuhp_cpu_state).
struct core_ctx {
  explicit core_ctx(unsigned id_) : id(id_) {}
  const unsigned id;
  // state, target and fail are read by any thread for reporting and set_fail() writes fail
  // from any thread; walks are serialized, so relaxed suffices: the hand-over between the
  // control thread and the hotplug thread orders the walk's own accesses.
  std::atomic<int> state{OFFLINE};
  std::atomic<int> target{OFFLINE};
  std::atomic<int> fail{INVALID};
  bool rollback = false;  // only touched by the walk
  int failed_state = INVALID;  // the state whose callback failed last (walk only)
  // online/active are read by the scheduler's hot path; release/acquire so a task that
  // sees a core active also sees everything its states set up.
  std::atomic<bool> online{false};
  std::atomic<bool> active{false};
  hotplug_thread thread;
  // Walk statistics (runtime::stats()), guarded by runtime_impl::stats_mutex.
  walk_stats walks_up, walks_down;
  // Parked time: written by sched:active up/down on the core's hotplug thread, read by
  // stats(); relaxed: statistics, nothing is published through them.
  std::atomic<std::int64_t> parked_since_ns{monotonic_ns()};  // 0 while active
  std::atomic<std::int64_t> parked_total_ns{0};
};

class machine_watch;

// run_calls says whether installing or removing a state (or an instance) runs its callbacks
// on the cores at or past it (setup_state) or only changes the table (_nocalls).
enum class run_calls { yes, no };
// read_lock says whether the caller already holds cpus_read_lock() (the _cpuslocked calls).
enum class read_lock { take, held };
// step_kind tells a single-instance state from a multi-instance one.
enum class step_kind { single, multi };
// op_mode: a normal hotplug operation honours cpu_hotplug_disable() and keeps the last
// active core up; the destructor's `shutdown` walks take every core down regardless.
enum class op_mode { normal, shutdown };

// step_spec is what setup() installs: the slot asked for (a fixed state or PREPARE_DYN /
// ONLINE_DYN), its name, its kind and its callbacks (those of the other kind stay empty).
struct step_spec {
  int state = INVALID;
  std::string_view name{};
  step_kind kind = step_kind::single;
  callback startup{}, teardown{};
  multi_callback startup_multi{}, teardown_multi{};
};

// core_move is one core's part of a hotplug operation over several cores.
struct core_move {
  core_ctx* c;
  std::size_t index;    // the core's place in the caller's list
  int prev = INVALID;   // its state before
  int result = 0;       // 0 or a negative errno
  bool moving = false;  // it walks (it is not at the target already, nor kept up)
};

struct runtime_impl {
  // core_cpu[i] is the CPU of core_ids[i] (the identity unless simulated_cores).
  runtime_impl(std::vector<unsigned> core_ids, const std::vector<unsigned>& core_cpu,
               const cpu_set_t& home, const runtime_options& options);
  ~runtime_impl();

  // ---- the one hotplug path (walk.cpp)
  int hotplug_op(unsigned core, int target, op_mode mode);
  // hotplug_ops() moves cores to target (hotplug_op() is it for one core; a governor
  // step may move several): with options.parallel_calls together, under one write lock,
  // their STARTING and ONLINE steps at the same time; otherwise one core after another.
  // Each core's result, in the order given. walk_together() ignores op_mode (it is only
  // ever normal there: the destructor moves one core at a time).
  std::vector<int> hotplug_ops(const std::vector<unsigned>& cores, int target, op_mode mode);
  int walk_done(core_ctx& c, int prev, int target, int ret, std::int64_t ns);
  int walk_to(core_ctx& c, int target, op_mode mode);
  void walk_back(core_ctx& c, int prev);
  void walk_together(std::vector<core_move>& moves, int target);
  void keep_last_active(std::vector<core_move>& moves, int target);
  int move(core_ctx& c, int target);
  int walk_here(core_ctx& c, int target);
  int ap_part(const core_ctx& c, int target) const;
  int walk(core_ctx& c, int target);
  int invoke(core_ctx& c, int state, bool up, instance_node* node, bool rollback);

  // ---- placement through the hotplug path (walk.cpp): restore_placement() re-applies
  // placement's rule under the hotplug write lock after the kernel onlined a CPU (it
  // widened the affinity of the threads it moved off and does not narrow it again).
  // adopt_helper() puts a thread of the runtime that belongs to no core (the machine
  // watch, a quota follower) on the spare mask and keeps it there; release_helper() takes
  // it out, before the thread exits (so no reused thread id is ever placed).
  int restore_placement();
  void adopt_helper(pid_t tid);
  void release_helper(pid_t tid);

  // ---- the governor's entries (runtime.cpp). must_not_govern(): the caller may not move
  // cores through the governor (inside a callback, holding cpus_read_lock, inside a
  // task). user_move() is core_up(), core_down() and set_target() after their checks:
  // -EDEADLK, -EINVAL for a core that is not one, or what the governor's move returned.
  bool must_not_govern() const noexcept;
  int user_move(unsigned core, int target);

  // ---- setup and instances (setup.cpp)
  int setup(step_spec spec, run_calls calls, read_lock held);
  int setup_locked(step_spec spec, run_calls calls);
  // setup_multi_once() is setup_state_multi() for a subsystem whose instances share one
  // state per runtime: the first call installs it, later ones return the same number.
  int setup_multi_once(int state, std::string_view name, multi_callback startup,
                       multi_callback teardown);
  int remove(int state, step_kind kind, run_calls calls, read_lock held);
  int add_instance(int state, instance_node* node, run_calls calls);
  int remove_instance(int state, instance_node* node, run_calls calls);
  int instance_check(int state, const instance_node* node) const;
  // startup_on_cores() runs a state's startup (of one instance, or single-instance: node
  // null) on every core at or past it, STARTING and ONLINE ones on all cores at once; when
  // core N fails, the cores whose startup succeeded are torn down again (rolling back) and
  // the lowest failing core's error is returned. teardown_on_cores() runs the teardown on
  // every core at or past it and returns the lowest core's error (removal goes on).
  int startup_on_cores(int state, instance_node* node);
  int teardown_on_cores(int state, instance_node* node);
  int set_fail(unsigned core, int state);
  int set_target(unsigned core, int state);

  // ---- the runtime's own state callbacks (rows of the state table)
  int threads_prepare(unsigned core);
  int core_bringup(unsigned core);
  int core_park(unsigned core);
  int sched_starting(unsigned core);
  int sched_dying(unsigned core);
  int sched_activate(unsigned core);
  int sched_deactivate(unsigned core);
  int workers_online(unsigned core);
  int workers_offline(unsigned core);

  // ---- the machine under the runtime (core_states.cpp: the row cpu:physical calls
  // physical mode; platform/machine_follow.cpp: make_watch() gives the machine watch
  // what it asks of the runtime)
  int physical_online(unsigned core);
  int physical_offline(unsigned core);
  std::unique_ptr<machine_watch> make_watch();
  void reload_topology(const cpu_set_t& process_mask);

  // ---- helpers
  core_ctx* find(unsigned core) const noexcept;
  // cpu_of() is the CPU a core's threads are pinned to (placement's table): every pin,
  // every sysfs read and every mask of the runtime goes from a core to its CPU through it.
  unsigned cpu_of(unsigned core) const noexcept { return placing.cpu_of(core); }
  // hidden: called directly (not through the PLT) by every cpus_read_lock()/unlock().
  [[gnu::visibility("hidden")]] bool in_callback() const noexcept;
  void record(const trace_event& ev);
  int active_count() const noexcept;
  void note_walk(core_ctx& c, bool up, std::int64_t ns);
  runtime_stats stats() const;

  std::vector<unsigned> core_ids;               // ascending
  std::vector<std::unique_ptr<core_ctx>> by_id; // indexed by core id
  cpu_set_t home_mask;                          // the process's affinity at create()
  const runtime_options options;                // before steps: the table reads it
  // own_cpus: every core has a CPU of its own (no two simulated cores share one). Only
  // then does a core's hotplug thread linger after a request (hotplug_thread::post()):
  // where cores share a CPU, a lingering thread would hold up the next core's.
  const bool own_cpus;
  step_table steps;                             // guarded by state_mutex + the hotplug lock
  hotplug_lock lock;
  std::mutex state_mutex;       // serializes setup/remove/instances (cpuhp_state_mutex)
  std::mutex add_remove_mutex;  // serializes hotplug ops (cpu_add_remove_lock)
  int disable_count = 0;        // guarded by add_remove_mutex
  // Where every thread of the runtime runs; guarded by add_remove_mutex (and the hotplug
  // write lock for the rows that call it).
  placement placing;
  // relaxed: a switch; a callback racing with set_trace() may or may not be recorded.
  std::atomic<bool> trace_on{false};
  std::mutex trace_mutex;
  std::vector<trace_event> trace;
  governor gov;
  // stats_mutex guards every core's walk statistics; held only to update or copy them.
  mutable std::mutex stats_mutex;
  // Physical mode: claimed by create(), released by the destructor, called by the row
  // cpu:physical and asked by the machine watch.
  physical_cpus physical;
  // The machine: the last hwloc snapshot (guarded by topo_mutex) and the thread that
  // follows the kernel's CPU uevents and the process mask (null unless asked for). The
  // destructor stops it first.
  mutable std::mutex topo_mutex;
  topology topo;
  std::unique_ptr<machine_watch> watch;
  // The quota followers' sums (runtime::stats().quota); a follower shares them.
  const std::shared_ptr<quota_totals> quota_sums = std::make_shared<quota_totals>();
  // The task scheduler: one worker per core, started and stopped by "workers:online" and
  // opened and closed by "sched:active". Last member: built from core_ids and home_mask;
  // ~runtime_impl() drains it and joins its workers before any member dies.
  scheduler sched;
};

}  // namespace hotcore::detail
