// SPDX-License-Identifier: MIT
// tools/demo_subsystems.h — the `hotcore demo` section for the per-core subsystems: starts
// each (io_uring now; the allocator and the timers join in demo_subsystems.cpp's table),
// shows them working, cycles a core with them up and prints their per-state cost.
#pragma once

#include "hotcore/runtime.h"

namespace hotcore::tools {

// demo_subsystems() prints the "== subsystems" section to stdout. 0, or 1 when a
// subsystem failed to start or an operation failed (reported on stderr).
int demo_subsystems(runtime& rt);

}  // namespace hotcore::tools
