// SPDX-License-Identifier: MIT
// tests/rules_support.h — what the rules_*_test programs share: the runtime's own states
// and the empty event log (two_cores.h: the runtime on two CPUs and its log lines).
#pragma once

#include <string>
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

}  // namespace hotcore_test
