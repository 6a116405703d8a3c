// tools/follow_quota.h — `hotcore follow-quota`: run a workload on the runtime while the
// quota follower keeps the core count at the container's CPU quota; one line per change.
#pragma once

// follow_quota_main() runs `hotcore follow-quota [--seconds S] [--drive] [--poll-ms M]
// [--no-inotify] [--rounding ceil|floor|headroom]`. argv[0] is "follow-quota". Each change
// prints "quota OLD -> NEW  cores A -> B  reaction T ms (how)"; the end prints the
// reaction median and p99 and the follower's own CPU use. With --drive (root, cgroup v1
// cpu controller) the command makes hotcore-follow-<pid> in its cpu hierarchy, moves
// itself in, writes a sequence of quotas and times each write to the runtime running at
// the new core count; it always moves back out and removes the group. Returns 0, 1 when
// something failed, 2 on a usage error.
int follow_quota_main(int argc, char** argv);
