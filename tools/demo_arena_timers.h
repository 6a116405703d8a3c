// SPDX-License-Identifier: MIT
// tools/demo_arena_timers.h — the allocator's and the timers' part of `hotcore demo`:
// each starts through its public API, shows itself working on every online core, and
// stays alive (with its states registered) for the demo's core cycles and cost table.
#pragma once

#include <memory>
#include <vector>

#include "hotcore/runtime.h"

namespace hotcore::tools {

// start_arena_demo() creates a hotcore::arena ("mm/arena:prepare", "mm/arena:online"),
// allocates on every online core and frees on another, checks the NUMA binding with
// hwloc and prints the accounting. It appends its state numbers to `states` and returns
// what keeps it alive (release it before the runtime), or nullptr after reporting on
// stderr.
[[nodiscard]] std::shared_ptr<void> start_arena_demo(runtime& rt, std::vector<int>& states);

// start_timers_demo() creates a hotcore::timer_service ("timers:prepare",
// "timers:online"), arms timers from a task on every online core and shows where and how
// late they fired, then takes a core down with timers pending and shows them fire once
// on another core. Same contract as start_arena_demo().
[[nodiscard]] std::shared_ptr<void> start_timers_demo(runtime& rt, std::vector<int>& states);

}  // namespace hotcore::tools
