// SPDX-License-Identifier: MIT
// runtime/builtin_states.cpp — the runtime's own rows of the state table (in hp_state
// order; cpu:physical, in physical mode only, comes last), each pointing at the function of
// the subsystem that owns its step, as kernel/cpu.c's rows point at sched_cpu_activate: the
// engine's hotplug thread and masks, placement, physical mode, and the scheduler with
// placement for the worker.
#include <cerrno>

#include "chaos.h"
#include "runtime_impl.h"

namespace hotcore::detail {

std::vector<builtin_row> runtime_impl::builtin_rows() {
  hotplug_engine* const e = &_engine;
  placement* const p = &_placing;
  physical_cpus* const phys = &_physical;
  std::vector<builtin_row> rows = {
      {.state = OFFLINE, .name = "offline"},
      // PREPARE. threads:prepare: the core's hotplug thread exists (the kernel's smpboot).
      {.state = THREADS_PREPARE, .name = "threads:prepare",
       .startup = [e](unsigned core) { return e->start_thread(core); }},
      // core:bringup pins the hotplug thread to its core: from here on the core's STARTING
      // and ONLINE callbacks run there. Down, the core's threads stay there asleep, and
      // the threads of no core keep off it; all leave it when the machine needs the CPU
      // (placement's rule).
      {.state = BRINGUP_CORE, .name = "core:bringup", .cant_stop = true,
       .startup = [p](unsigned core) { return p->place(core_thread::hotplug, core); },
       .teardown = [p](unsigned core) { p->leave(core_thread::hotplug, core); return 0; }},
      // STARTING: the core joins / leaves the online mask.
      {.state = AP_SCHED_STARTING, .name = "sched:starting",
       .startup = [e](unsigned core) { return e->set_online(core, true); },
       .teardown = [e](unsigned core) { return e->set_online(core, false); }},
      {.state = AP_ONLINE, .name = "ap:online", .cant_stop = true},
      // ONLINE
      {.state = AP_WORKERS_ONLINE, .name = "workers:online",
       .startup = [this](unsigned core) { return workers_online(core); },
       .teardown = [this](unsigned core) { return workers_offline(core); }},
      {.state = AP_SCHED_ACTIVE, .name = "sched:active",
       .startup = [this](unsigned core) { return sched_activate(core); },
       .teardown = [this](unsigned core) { return sched_deactivate(core); }},
      {.state = ONLINE, .name = "online"},
  };
  // cpu:physical (runtime_options::physical): the kernel's own hotplug of the core's CPU,
  // online before the core's threads go there, offline after every runtime thread left it.
  if (_options.physical)
    rows.push_back({.state = CPU_PHYSICAL, .name = "cpu:physical",
                    .startup = [phys](unsigned core) { return phys->online(core); },
                    .teardown = [phys](unsigned core) { return phys->offline(core); }});
  return rows;
}

// workers:online: the core's worker thread is unparked (created on first use) and pinned
// to the core / parked (placement moves it off only when the machine needs the CPU). Runs
// on the core's hotplug thread. A pin that fails leaves the worker parked; the walk rolls
// back.
int runtime_impl::workers_online(unsigned core) {
  if (const int ret = _sched.unpark(core); ret != 0) return ret;
  return _placing.place(core_thread::worker, core);
}
int runtime_impl::workers_offline(unsigned core) {
  // The worker is inactive and asleep already (sched:active went down first): parking it
  // is placement's leave(). A teardown may not fail.
  HOTCORE_CHAOS_POINT("park");
  _placing.leave(core_thread::worker, core);
  return 0;
}

// sched:active: the scheduler opens the core to tasks, then the core joins the active
// mask. Down, it leaves the mask, and the scheduler closes the core, waits for the task its
// worker is running and moves its queued tasks to the other active cores (or, for the last
// core at shutdown, runs them) before this returns.
int runtime_impl::sched_activate(unsigned core) {
  if (const int ret = _sched.activate(core); ret != 0) return ret;
  _engine.set_active(core, true);
  return 0;
}
int runtime_impl::sched_deactivate(unsigned core) {
  _engine.set_active(core, false);
  _sched.deactivate(core);
  return 0;
}

}  // namespace hotcore::detail
