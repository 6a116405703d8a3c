// SPDX-License-Identifier: MIT
// runtime/hotplug/state_table.cpp — the static rows of the state table, in enum order, with
// the runtime's own callbacks; static_asserts keep the rows and hp_state in step.
#include "hotplug/state_table.h"

#include "runtime_impl.h"

namespace hotcore::detail {
namespace {

using member_cb = int (runtime_impl::*)(unsigned);

// static_row is one static state. Rows with a name are the runtime's own states and are
// installed (the physical_only one only in physical mode); rows without one are slots
// that subsystems (hotcore's arena and timers: setup_state_multi() on first use) and
// programs fill.
struct static_row {
  hp_state state;
  const char* name;
  bool cant_stop;
  member_cb startup;
  member_cb teardown;
  bool physical_only = false;
};

constexpr static_row static_rows[] = {
    {OFFLINE, "offline", false, nullptr, nullptr},
    // PREPARE
    {THREADS_PREPARE, "threads:prepare", false, &runtime_impl::threads_prepare, nullptr},
    {ARENA_PREPARE, nullptr, false, nullptr, nullptr},
    {TIMERS_PREPARE, nullptr, false, nullptr, nullptr},
    // PREPARE_DYN .. PREPARE_DYN_END - 1: dynamic
    // The kernel's own hotplug of the core's CPU (runtime_options::physical): online
    // before the core's threads go there, offline after every runtime thread left it.
    {CPU_PHYSICAL, "cpu:physical", false, &runtime_impl::physical_online,
     &runtime_impl::physical_offline, true},
    {BRINGUP_CORE, "core:bringup", true, &runtime_impl::core_bringup, &runtime_impl::core_park},
    // STARTING
    {AP_SCHED_STARTING, "sched:starting", false, &runtime_impl::sched_starting,
     &runtime_impl::sched_dying},
    {AP_USER_STARTING_1, nullptr, false, nullptr, nullptr},
    {AP_USER_STARTING_2, nullptr, false, nullptr, nullptr},
    {AP_ONLINE, "ap:online", true, nullptr, nullptr},
    // ONLINE
    {AP_WORKERS_ONLINE, "workers:online", false, &runtime_impl::workers_online,
     &runtime_impl::workers_offline},
    {AP_ARENA_ONLINE, nullptr, false, nullptr, nullptr},
    {AP_USER_ONLINE, nullptr, false, nullptr, nullptr},
    // ONLINE_DYN .. ONLINE_DYN_END - 1: dynamic
    {AP_SCHED_ACTIVE, "sched:active", false, &runtime_impl::sched_activate,
     &runtime_impl::sched_deactivate},
    {ONLINE, "online", false, nullptr, nullptr},
};

constexpr int dynamic_count = (PREPARE_DYN_END - PREPARE_DYN) + (ONLINE_DYN_END - ONLINE_DYN);

// Every hp_state that is not dynamic has exactly one row, in ascending order.
constexpr bool rows_match_enum() {
  int expected = OFFLINE;
  for (const auto& row : static_rows) {
    while (is_dynamic(expected)) ++expected;
    if (row.state != expected) return false;
    ++expected;
  }
  return expected == NR_STATES;
}
static_assert(std::size(static_rows) + dynamic_count == NR_STATES,
              "one static row per non-dynamic hp_state");
static_assert(rows_match_enum(), "static rows are in hp_state order");
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
    if (row.name == nullptr || (row.physical_only && !rt.options.physical)) continue;
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
