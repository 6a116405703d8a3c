// SPDX-License-Identifier: MIT
// tools/chrome_trace.h — write a runtime trace (runtime::take_trace()) as Chrome /
// Perfetto trace-event JSON: a track per thread that ran callbacks (each core's hotplug
// thread, the control thread) and one per core's worker, a slice per callback.
#pragma once

#include <cstdio>
#include <vector>

#include "hotcore/trace.h"

namespace hotcore::tools {

// write_chrome_trace() writes {"traceEvents": [...]} to out: one complete event ("X")
// per callback on the track of the thread that ran it, named after the state, with the
// core, direction and result as args; per core, "taking tasks" slices on a track
// "core N worker" from its sched:active startup to its teardown (from the trace's first
// moment, or to its last, for a core active then); thread names as
// metadata events. Times are microseconds of std::chrono::steady_clock.
void write_chrome_trace(std::FILE* out, const std::vector<trace_event>& trace);

}  // namespace hotcore::tools
