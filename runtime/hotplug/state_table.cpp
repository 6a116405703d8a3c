// SPDX-License-Identifier: MIT
// runtime/hotplug/state_table.cpp — the runtime's own rows of the state table, in enum
// order, with their callbacks; static_asserts keep the rows and hp_state in step.
#include "hotplug/state_table.h"

#include "runtime_impl.h"

namespace hotcore::detail {
namespace {

using member_cb = int (runtime_impl::*)(unsigned);

// static_row is one of the runtime's own states, installed in every runtime (a
// physical_only one only in physical mode). Every other slot of hp_state is free for the
// subsystems (hotcore's arena and timers: setup_state_multi_shared() on first use) and
// for programs.
struct static_row {
  hp_state state;
  const char* name;
  bool cant_stop = false;       // may not be a target of set_target()
  member_cb startup = nullptr;
  member_cb teardown = nullptr;
  bool physical_only = false;
};

using rt = runtime_impl;
constexpr static_row static_rows[] = {
    {.state = OFFLINE, .name = "offline"},
    // PREPARE
    {.state = THREADS_PREPARE, .name = "threads:prepare", .startup = &rt::threads_prepare},
    // The kernel's own hotplug of the core's CPU (runtime_options::physical): online
    // before the core's threads go there, offline after every runtime thread left it.
    {.state = CPU_PHYSICAL, .name = "cpu:physical", .startup = &rt::physical_online,
     .teardown = &rt::physical_offline, .physical_only = true},
    {.state = BRINGUP_CORE, .name = "core:bringup", .cant_stop = true,
     .startup = &rt::core_bringup, .teardown = &rt::core_park},
    // STARTING
    {.state = AP_SCHED_STARTING, .name = "sched:starting", .startup = &rt::sched_starting,
     .teardown = &rt::sched_dying},
    {.state = AP_ONLINE, .name = "ap:online", .cant_stop = true},
    // ONLINE
    {.state = AP_WORKERS_ONLINE, .name = "workers:online", .startup = &rt::workers_online,
     .teardown = &rt::workers_offline},
    {.state = AP_SCHED_ACTIVE, .name = "sched:active", .startup = &rt::sched_activate,
     .teardown = &rt::sched_deactivate},
    {.state = ONLINE, .name = "online"},
};

// The rows are in hp_state order, and every one of them is a fixed (not dynamic) state.
constexpr bool rows_in_order() {
  int last = INVALID;
  for (const auto& row : static_rows) {
    if (row.state <= last || is_dynamic(row.state) || row.state >= NR_STATES) return false;
    last = row.state;
  }
  return true;
}
static_assert(rows_in_order(), "static rows are fixed hp_states, in hp_state order");
static_assert(section_of(BRINGUP_CORE) == section::prepare &&
                  section_of(AP_SCHED_STARTING) == section::starting &&
                  section_of(AP_ONLINE) == section::starting &&
                  section_of(AP_WORKERS_ONLINE) == section::online,
              "section boundaries");
static_assert(!is_dynamic(AP_USER_STARTING_1) && !is_dynamic(AP_ONLINE),
              "no dynamic range in the STARTING section");

}  // namespace

step_table make_step_table(runtime_impl& rt) {
  step_table table;
  for (const auto& row : static_rows) {
    step& s = table[row.state];
    if (row.physical_only && !rt.options.physical) continue;
    s.name = row.name;
    s.cant_stop = row.cant_stop;
    s.builtin = true;
    if (row.startup) s.startup = [&rt, fn = row.startup](unsigned core) { return (rt.*fn)(core); };
    if (row.teardown)
      s.teardown = [&rt, fn = row.teardown](unsigned core) { return (rt.*fn)(core); };
  }
  return table;
}

}  // namespace hotcore::detail
