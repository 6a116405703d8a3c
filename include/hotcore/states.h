// SPDX-License-Identifier: MIT
/// @file
/// hotcore/states.h — the static hotplug states: one enum in walk order, split into the
/// kernel's three sections (PREPARE, STARTING, ONLINE), with the two dynamic ranges.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

namespace hotcore {

/// hp_state numbers every step of a core's walk from OFFLINE to ONLINE. Startup callbacks
/// run in ascending order when a core comes up, teardown callbacks in descending order when
/// it goes down. Rows without a built-in callback are slots a subsystem fills with
/// setup_state() or setup_state_multi(); the runtime's own rows ("threads:prepare",
/// "core:bringup", "sched:starting", "workers:online", "sched:active") are always
/// installed. The table that names every row lives in runtime/hotplug/state_table.cpp and
/// is static_assert-ed against this enum.
///
/// The subsystems of hotcore are multi-instance states, set up once per runtime when its
/// first instance is made: "mm/arena:prepare" (ARENA_PREPARE) and "mm/arena:online"
/// (AP_ARENA_ONLINE) for every hotcore::arena, "timers:prepare" (TIMERS_PREPARE) and
/// "timers:online" (first free ONLINE_DYN) for every timer_service, "io/uring:online"
/// (first free ONLINE_DYN) for every io_context. In a multi-instance state, PREPARE ones
/// included, a callback runs once per instance and builds or frees that instance's own
/// per-core part (an arena's cache for the core, a service's wheel); the state itself
/// (its number, its place in the walk, an armed set_fail()) is shared by all instances.
enum hp_state : int {
  INVALID = -1,
  OFFLINE = 0,

  // ---- PREPARE section: callbacks run on the control thread (the caller of core_up,
  /// core_down, set_target, setup_state), before the core's hotplug thread runs on the
  /// way up and after it stopped on the way down. Startup may fail; teardown may not.
  THREADS_PREPARE,                      // "threads:prepare": create the core's hotplug thread
  ARENA_PREPARE,                        // "mm/arena:prepare" (multi-instance, hotcore::arena)
  TIMERS_PREPARE,                       // "timers:prepare" (multi-instance, timer_service)
  PREPARE_DYN,                          // first of 20 dynamically allocated PREPARE states
  PREPARE_DYN_END = PREPARE_DYN + 20,   // one past the last dynamic PREPARE state
  CPU_PHYSICAL = PREPARE_DYN_END,       // "cpu:physical": the kernel's cpuN/online (physical mode)
  BRINGUP_CORE,                         // "core:bringup": pin the hotplug thread to the core

  // ---- STARTING section: callbacks run on the core's pinned hotplug thread before the
  /// core takes any work (up) / after it stopped taking work (down). Must not fail or block.
  /// STARTING has no dynamic range: these two slots are where a program installs its own
  /// STARTING states.
  AP_SCHED_STARTING,                    // "sched:starting": the core joins the online mask
  AP_USER_STARTING_1,                   // slot for a program's own STARTING state
  AP_USER_STARTING_2,                   // slot for a program's own STARTING state
  AP_ONLINE,                            // "ap:online": end of the STARTING section

  // ---- ONLINE section: callbacks run on the core's pinned hotplug thread; may block,
  /// may fail.
  AP_WORKERS_ONLINE,                    // "workers:online": unpark / park the core's worker
  AP_ARENA_ONLINE,                      // "mm/arena:online" (multi-instance, hotcore::arena)
  AP_USER_ONLINE,                       // slot for a program's own ONLINE state at a fixed
                                        /// place: below the dynamic ones
  ONLINE_DYN,                           // first of 40 dynamically allocated ONLINE states
  ONLINE_DYN_END = ONLINE_DYN + 40,     // one past the last dynamic ONLINE state
  AP_SCHED_ACTIVE = ONLINE_DYN_END,     // "sched:active": the core takes tasks
  ONLINE,                               // "online": the core is fully up

  NR_STATES,
};

/// section says which thread runs a state's callbacks and whether they may fail.
enum class section { prepare, starting, online };

/// section_of() returns the section a state belongs to (OFFLINE counts as PREPARE).
constexpr section section_of(int state) noexcept {
  if (state <= BRINGUP_CORE) return section::prepare;
  if (state <= AP_ONLINE) return section::starting;
  return section::online;
}

/// is_dynamic() tells whether a state number lies in one of the two dynamic ranges.
constexpr bool is_dynamic(int state) noexcept {
  return (state >= PREPARE_DYN && state < PREPARE_DYN_END) ||
         (state >= ONLINE_DYN && state < ONLINE_DYN_END);
}

}  // namespace hotcore
