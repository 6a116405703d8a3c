// SPDX-License-Identifier: MIT
/// @file
/// hotcore/stats.h — runtime::stats(): a snapshot of what each core did (walks, tasks,
/// parked time) and of the runtime's watchers (quota follower, machine watch), for
/// dashboards; hotcore/metrics.h renders it as OpenMetrics text.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <array>
#include <cstdint>
#include <vector>

namespace hotcore {

/// walk_bucket_ns are the upper bounds of the walk-latency histogram buckets, in ns:
/// 10 us to 100 ms; a last bucket holds the walks above the largest bound.
inline constexpr std::array<std::int64_t, 10> walk_bucket_ns = {
    10'000, 20'000, 50'000, 100'000, 200'000, 500'000, 1'000'000, 5'000'000, 20'000'000,
    100'000'000};

/// walk_stats counts one direction of a core's hotplug walks (core_up, core_down, the
/// governor's moves: every operation that changed the core's state, failed ones too).
struct walk_stats {
  std::uint64_t count = 0;  ///< walks in this direction
  std::int64_t last_ns = 0;  ///< duration of the latest walk
  std::int64_t max_ns = 0;  ///< duration of the longest walk
  std::int64_t sum_ns = 0;  ///< total duration of the walks
  /// buckets[i]: walks that took at most walk_bucket_ns[i] and more than the bound
  /// before it; buckets.back(): longer than every bound. Not cumulative.
  std::array<std::uint64_t, walk_bucket_ns.size() + 1> buckets{};
};

/// core_stats is one worker core. Its walk fields are one consistent snapshot (taken
/// between two walks); the task counters are read one by one while tasks run.
struct core_stats {
  unsigned core = 0;  ///< the core (OS CPU number)
  int state = 0;        ///< the core's hotplug state (cpuN/hotplug/state)
  bool online = false;  ///< between sched:starting up and down
  bool active = false;  ///< takes tasks (between sched:active up and down)
  walk_stats up;    ///< walks up (toward ONLINE)
  walk_stats down;  ///< walks down (toward OFFLINE)
  std::uint64_t tasks_run = 0;     ///< submit()/submit_on() tasks its worker ran
  std::uint64_t tasks_stolen = 0;  ///< tasks its worker took from other cores' queues
  std::uint64_t tasks_moved = 0;   ///< queued tasks it handed to other cores going down
  std::int64_t parked_ns = 0;      ///< time not taking tasks since the runtime started
};

/// quota_counters sums every quota_follower of the runtime (hotcore/quota.h).
struct quota_counters {
  std::uint64_t checks = 0;          ///< times a follower read the quota
  std::uint64_t changes = 0;         ///< checks that saw a new limit or moved cores
  std::int64_t last_reaction_ns = 0; ///< the last change: from the check that saw it to the
                                     // cores moved
};

/// machine_counters are the machine watch's (runtime_options::follow_cpu_hotplug,
/// follow_affinity); all zero and running false without it.
struct machine_counters {
  bool running = false;  ///< the machine watch runs
  std::uint64_t uevents = 0;       ///< CPU uevents received
  std::uint64_t mask_changes = 0;  ///< changes of the process's affinity mask seen
  std::uint64_t availability_changes = 0;  ///< cores told to the governor as (un)available
};

/// runtime_stats is what runtime::stats() returns.
struct runtime_stats {
  std::vector<core_stats> cores;  ///< ascending core
  quota_counters quota;  ///< the quota followers' counters
  machine_counters machine;  ///< the machine watch's counters
};

}  // namespace hotcore
