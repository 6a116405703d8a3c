// SPDX-License-Identifier: MIT
// runtime/runtime_impl.h — the runtime as a composition: the hotplug engine, the scheduler,
// the governor, placement, physical mode, the quota sums and the machine watch, and the
// few decisions that need more than one of them.
#pragma once

#include <sched.h>

#include <memory>
#include <mutex>
#include <vector>

#include "govern/governor.h"
#include "hotcore/runtime.h"
#include "hotcore/stats.h"
#include "hotcore/topology.h"
#include "hotplug/engine.h"
#include "platform/machine_watch.h"
#include "platform/physical_cpus.h"
#include "platform/placement.h"
#include "quota/quota_totals.h"
#include "sched/scheduler.h"

namespace hotcore::detail {

class runtime_impl : non_copyable {
 public:
  // core_cpu[i] is the CPU of core_ids[i] (the identity unless simulated_cores).
  runtime_impl(std::vector<unsigned> core_ids, const std::vector<unsigned>& core_cpu,
               const cpu_set_t& home, const runtime_options& options, topology topo);
  ~runtime_impl();

  hotplug_engine& engine() noexcept { return _engine; }
  const hotplug_engine& engine() const noexcept { return _engine; }
  scheduler& sched() noexcept { return _sched; }
  const scheduler& sched() const noexcept { return _sched; }
  governor& gov() noexcept { return _gov; }
  const governor& gov() const noexcept { return _gov; }
  physical_cpus& physical() noexcept { return _physical; }
  const runtime_options& options() const noexcept { return _options; }
  // cpu_of() is the CPU a core's threads are pinned to (placement's table): every pin,
  // every sysfs read and every mask of the runtime goes from a core to its CPU through it.
  unsigned cpu_of(unsigned core) const noexcept { return _placing.cpu_of(core); }

  // may_govern() is the one guard of the governor's entries: the caller may not move cores
  // (-EDEADLK) inside a callback (the operation running it may be the governor's), holding
  // cpus_read_lock() (the governor waits for readers), or inside a task (core_down waits
  // for running tasks). 0 otherwise.
  [[nodiscard]] int may_govern() const noexcept;
  // user_move() is core_up(), core_down() and set_target() after their checks: -EDEADLK,
  // -EINVAL for a core that is not one, or what the governor's move returned.
  int user_move(unsigned core, int target);

  // start_machine() opens the machine watch (when options ask for one) before the cores
  // come up, so that creation fails cleanly; run_machine() starts its thread once they are.
  int start_machine();
  int run_machine();
  // restore_placement() re-applies placement's rule with no walk, callback or reader
  // running, after the kernel onlined a CPU (it widened the affinity of the threads it
  // moved off and does not narrow it again). adopt_helper() puts a thread of the runtime
  // that belongs to no core (the machine watch, a quota follower) on the spare mask and
  // keeps it there; release_helper() takes it out before the thread exits.
  int restore_placement();
  void adopt_helper(pid_t tid);
  void release_helper(pid_t tid);
  // machine_takes() records that the machine took a core's CPU away (an offline uevent, a
  // smaller process mask) or gave it back, before the governor moves the core: a core
  // going down leaves a CPU the machine took (placement's vacate_fn).
  void machine_takes(unsigned core, bool taken);
  void reload_topology(const cpu_set_t& process_mask);
  topology topology_snapshot() const;
  unsigned long kernel_offlines(unsigned core) const;
  runtime_stats stats() const;
  // quota_sums() is the quota followers' sums (runtime::stats().quota); a follower shares them.
  const std::shared_ptr<quota_totals>& quota_sums() const noexcept { return _quota_sums; }

 private:
  std::vector<builtin_row> builtin_rows();
  // The rows that need two subsystems (builtin_states.cpp).
  int workers_online(unsigned core);
  int workers_offline(unsigned core);
  int sched_activate(unsigned core);
  int sched_deactivate(unsigned core);
  // must_vacate() is placement's vacate_fn: the core's threads leave its CPU when they go
  // down only if cpu:physical takes it offline or the machine took it.
  [[nodiscard]] bool must_vacate(unsigned core) const noexcept;

  const runtime_options _options;
  const cpu_set_t _home_mask;  // the process's affinity at create()
  hotplug_engine _engine;
  // Where every thread of the runtime runs; changed under the engine's cpu_add_remove_lock
  // (moves, exclusive(), serialized()).
  placement _placing;
  governor _gov;
  // Physical mode: claimed by create(), released by the destructor, called by the row
  // cpu:physical and asked by the machine watch.
  physical_cpus _physical;
  // By core id: the machine took the core's CPU (machine_takes()); written and read under
  // the engine's cpu_add_remove_lock.
  std::vector<char> _machine_took;
  // The machine: the last hwloc snapshot (guarded by _topo_mutex) and the thread that
  // follows the kernel's CPU uevents and the process mask (null unless asked for). The
  // destructor stops it first.
  mutable std::mutex _topo_mutex;
  topology _topo;
  std::unique_ptr<machine_watch> _watch;
  const std::shared_ptr<quota_totals> _quota_sums = std::make_shared<quota_totals>();
  // The task scheduler: one worker per core, started and stopped by "workers:online" and
  // opened and closed by "sched:active". Last member: ~runtime_impl() drains it and joins
  // its workers before any member dies.
  scheduler _sched;
};

}  // namespace hotcore::detail
