// SPDX-License-Identifier: MIT
// runtime/platform/proc_id.h — who owns a record: a process named by its pid, its start
// time and its pid namespace, so that a record written in a container (where the runtime
// may be pid 1) is never taken for a live process of another namespace, and a reused pid
// never for the process that wrote it. A zombie counts as dead.
#pragma once

#include <sys/types.h>

namespace hotcore::detail {

// The highest pid the kernel hands out (PID_MAX_LIMIT on 64-bit): a record naming a
// larger one is not a record.
inline constexpr unsigned long max_pid = 4194304;

struct proc_id {
  unsigned long pid = 0;         // as seen from its own pid namespace
  unsigned long long start = 0;  // /proc/PID/stat starttime (clock ticks after boot)
  unsigned long long pidns = 0;  // inode of /proc/PID/ns/pid
};

// read_proc_id() reads pid's identity as this process sees it (pid 0: this process).
// 0 or a negative errno (-ESRCH: no such process). Async-signal-safe.
int read_proc_id(pid_t pid, proc_id& out) noexcept;

// pid_dead() is true when pid names no process, or a zombie ('Z') or dead ('X') one: it
// runs no code and holds no CPU. Async-signal-safe.
bool pid_dead(pid_t pid) noexcept;

// owner_alive() tells whether the process `id` names still runs: in this pid namespace by
// its pid (and start time, when recorded); in another one by a walk of /proc for a process
// of that namespace with that pid there (NSpid) and that start time.
bool owner_alive(const proc_id& id);

}  // namespace hotcore::detail
