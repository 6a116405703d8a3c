// SPDX-License-Identifier: MIT
// tools/follow_quota.h — `hotcore follow-quota`: run a workload on the runtime while the
// quota follower keeps the core count at the container's CPU quota; one line per change.
#pragma once

#include "hotcore/quota.h"

// follow_options configures one run (tools/hotcore.cpp fills it from the command line).
struct follow_options {
  long seconds = 10;
  bool drive = false;
  long poll_ms = 40;
  bool inotify = true;
  hotcore::quota_rounding rounding = hotcore::quota_rounding::ceil;
  bool json = false;  // one JSON object on stdout at the end; the lines go to stderr
};

// run_follow_quota() runs `hotcore follow-quota`. Each change prints "quota OLD -> NEW
// cores A -> B  reaction T ms (how)"; the end prints the reaction median and p99 and the
// follower's own CPU use. With drive (root, cgroup v1 cpu controller) the command makes
// hotcore-follow-<pid> in its cpu hierarchy, moves itself in, writes a sequence of quotas
// and times each write to the runtime running at the new core count; it always moves back
// out and removes the group. Returns 0, or 1 when something failed.
int run_follow_quota(const follow_options& o);
