// SPDX-License-Identifier: MIT
// tools/cycle.h — `hotcore cycle`: time core_down/core_up of one core with empty ONLINE
// states registered, then print the latency summary and the per-state cost table.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "hotcore/runtime.h"
#include "hotcore/states.h"

namespace hotcore::tools {

// max_empty_states is how many empty states cycle can register: the ONLINE dynamic range.
inline constexpr int max_empty_states = ONLINE_DYN_END - ONLINE_DYN;

// cycle_options configures one measurement.
struct cycle_options {
  std::optional<unsigned> core;  // the core to cycle; unset means the runtime's last core
  long count = 1000;             // measured down+up cycles (> 0)
  int states = 8;                // empty ONLINE states registered for the run (0..40)
  long warmup = 50;              // untimed cycles before the measured ones
  // physical: the runtime runs in physical mode (root): each cycle also takes the core's
  // CPU offline and online in the kernel (cpu:physical). Then the defaults are count 20,
  // warm-up 2 (a kernel cycle takes milliseconds), and the report splits each half into
  // the kernel's part (the cpu:physical callback: the write to cpuN/online) and the
  // runtime's (everything else), and the kernel's part by kernel state (kernel_trace.h).
  bool physical = false;
  // json: print one JSON object (the latency summary and the per-state cost rows, each
  // with its part) instead of the tables; the kernel's split by kernel state is left out.
  bool json = false;
  // subsystems: an io_uring state with one io_context (a ring per core), an arena and a
  // timer service are up during the run (tools/subsystems_up.h), so the cycle includes
  // their states' work.
  bool subsystems = false;
  // trace_out: write the traced run as Chrome / Perfetto trace-event JSON to this file
  // (tools/chrome_trace.h); empty: no file.
  std::string trace_out;
};

// run_cycle() registers opts.states empty ONLINE states ("cycle:emptyI") and, with
// opts.subsystems, starts the subsystems; then it warms up, times
// opts.count cycles of core_down(core) and core_up(core), runs the same number again with
// the trace on, prints both tables to out and removes the states (and subsystems) again. Returns 0, or the
// negative errno of the first operation that failed (already reported on stderr).
[[nodiscard]] int run_cycle(runtime& rt, unsigned core, const cycle_options& opts,
                            std::FILE* out);

}  // namespace hotcore::tools
