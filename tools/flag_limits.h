// SPDX-License-Identifier: MIT
// tools/flag_limits.h — the documented upper (and lower) bounds of the `hotcore` commands'
// count and time flags, in one place for every parser. Each bound fits memory: `cycle`
// keeps its statistics in fixed-size histograms, so its count bounds only the run time.
#pragma once

namespace hotcore::tools::limits {

// cycle --count: cycles per pass (two passes run). At about 50 us a cycle, 10^7 cycles
// take some 20 minutes; memory does not grow with the count.
inline constexpr long long cycle_count_max = 10'000'000;
// cycle --physical --count: each traced cycle keeps its kernel trace lines (the tracefs
// buffer holds a few thousand cycles) and a kernel cycle takes milliseconds.
inline constexpr long long physical_cycle_count_max = 100'000;
// cycle --core: a CPU number (every CPU list a command takes, cli::parse_cpu_list()).
inline constexpr long long core_max = 0xffff;

// cycle --trace-out: the trace file holds at most this many callbacks (about 100 bytes of
// JSON and 100 bytes of memory each): the first cycles of the traced run.
inline constexpr unsigned long trace_out_events_max = 200'000;

// soak --seconds / follow-quota --seconds / http_server --seconds: one day.
inline constexpr long seconds_max = 24 * 3600;
// soak --churn-ms, follow-quota --poll-ms, http_server --churn-ms: one minute.
inline constexpr long period_ms_max = 60'000;
// examples/http_server --header-timeout-ms / --idle-timeout-ms: one hour.
inline constexpr long deadline_ms_max = 3'600'000;
// cycle --states is bounded by the ONLINE dynamic range (tools/cycle.h, max_empty_states).
// soak --threads: submitting threads.
inline constexpr long threads_max = 64;

}  // namespace hotcore::tools::limits
