// SPDX-License-Identifier: MIT
// tests/rules_support.h — what the rules_*_test programs share: the runtime's own states
// and the empty event log, and the runtime on two CPUs with the event log its states
// record into (two_cores.h: the runtime alone and its log lines).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_support.h"
#include "two_cores.h"

namespace hotcore_test {

// no_events is an event log in which nothing happened.
inline const std::vector<std::string> no_events;

// builtin_states are the runtime's own rows, which are always installed.
inline const std::vector<state_row> builtin_states = {
    {OFFLINE, "offline"},
    {THREADS_PREPARE, "threads:prepare"},
    {BRINGUP_CORE, "core:bringup"},
    {AP_SCHED_STARTING, "sched:starting"},
    {AP_ONLINE, "ap:online"},
    {AP_SCHED_ACTIVE, "sched:active"},
    {ONLINE, "online"},
};

// logged_cores is a runtime on the two CPUs given (TWO_CPUS) and the event log its states
// record into; a test takes it apart: `auto [log, rt] = logged_two_cores(cpu);`.
struct logged_cores {
  event_log log;
  std::unique_ptr<runtime> rt;
};

inline logged_cores logged_two_cores(const cpu_pair& cpu) {
  return {event_log{}, two_core_runtime(cpu)};
}

// logged_two_cores(cpu, state, name, tag) also installs one single-instance state at the
// static slot `state`, whose callbacks log `tag` (setup_state() is REQUIREd to return 0),
// and clears the log its startups wrote.
inline logged_cores logged_two_cores(const cpu_pair& cpu, int state, std::string_view name,
                                     const std::string& tag) {
  logged_cores c = logged_two_cores(cpu);
  REQUIRE(logged_state(*c.rt, state, name, c.log, tag) == 0);
  c.log.clear();
  return c;
}

// logged_multi is logged_cores with a multi-instance state `m` whose callbacks log "m".
struct logged_multi {
  event_log log;
  std::unique_ptr<runtime> rt;
  int m;
};

// logged_multi_cores() installs that state as `name` at ONLINE_DYN, the first dynamic slot
// (REQUIREd), with no instances yet: `auto [log, rt, m] = logged_multi_cores(cpu, name);`.
inline logged_multi logged_multi_cores(const cpu_pair& cpu, std::string_view name) {
  logged_cores c = logged_two_cores(cpu);
  const int m = logged_multi_state(*c.rt, ONLINE_DYN, name, c.log, "m");
  REQUIRE(m == ONLINE_DYN);
  return {c.log, std::move(c.rt), m};
}

}  // namespace hotcore_test
