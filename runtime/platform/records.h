// SPDX-License-Identifier: MIT
// runtime/platform/records.h — what a physical-mode process changed on the machine, kept
// under /run/hotcore/ so that it can be undone after the process died: one record per
// CPU it took offline ("cpuN"), one per tracefs instance it made ("tracefs-PID"), and the
// per-CPU lock files ("cpuN.lock") that keep two physical-mode runtimes off one CPU.
// What the guardian calls (read_record, repair_record with the raw writer, remove_record)
// is async-signal-safe (plain syscalls, no allocation): it runs in a child forked from a
// threaded process. lock_cpu() is not (it may walk /proc, proc_id.h).
#pragma once

#include <sys/types.h>

#include "platform/proc_id.h"

namespace hotcore::detail {

inline constexpr const char* record_dir = "/run/hotcore";

// ensure_record_dir() makes /run/hotcore (0755) if it is missing. 0 or a negative errno.
int ensure_record_dir() noexcept;

// The first line of a cpuN record whose CPU was offline when its runtime found it: the
// repair takes it offline again (without it, the repair brings the CPU online).
inline constexpr const char* found_offline = "found offline";

// write_record() writes "<pid> <start> <pidns>\n<line1>\n<line2>\n" to
// /run/hotcore/<name>: through <name>.tmp, created with O_EXCL|O_NOFOLLOW (a stale one is
// unlinked first, never followed), then renamed, so a reader never sees half a record.
// Lines may be null. 0 or a negative errno.
int write_record(const char* name, const proc_id& owner, const char* line1,
                 const char* line2) noexcept;

// remove_record() unlinks /run/hotcore/<name>; a missing record is fine.
void remove_record(const char* name) noexcept;

// cpu_record_name() writes "cpuN" into buf (at least 16 bytes).
void cpu_record_name(unsigned cpu, char* buf) noexcept;

// read_record() reads /run/hotcore/<name> (never through a symlink): its owner and up to
// two lines (each into a buffer of `size` bytes, "" when absent). 0, or a negative errno
// (-EINVAL: not a record, a pid out of 1..max_pid among them).
int read_record(const char* name, proc_id& owner, char* line1, char* line2,
                unsigned size) noexcept;

// lock_cpu() takes /run/hotcore/cpuN.lock (opened O_NOFOLLOW; flock, exclusive) and
// writes this process's identity into it. A holder whose process is dead (exited or a
// zombie) is a guardian finishing its repair: it waits for that up to 2 s. Returns the
// locked fd (close it to release), -EBUSY when a live runtime holds the CPU (or the repair
// takes longer), or another negative errno.
int lock_cpu(unsigned cpu) noexcept;

// cpu_lock_free() tells whether no runtime holds cpuN's lock now (it takes and drops it).
bool cpu_lock_free(unsigned cpu) noexcept;

// write_cpu_online_raw() writes "1"/"0" to cpuN/online. 0 or a negative errno.
int write_cpu_online_raw(unsigned cpu, bool online) noexcept;

// A writer of cpuN/online: write_cpu_online_raw() in the guardian (a forked child may
// not allocate), sysfs_cpu.h's write_cpu_online() elsewhere.
using cpu_online_writer = int (*)(unsigned cpu, bool online);

// repair_record() undoes what the record `name` says its dead process left, then removes
// the record: a "cpuN" record puts the CPU back as its runtime found it (online, or
// offline for found_offline); a "tracefs-PID" record removes the instance
// <root>/instances/hotcore-PID, and unmounts <root> if hotcore mounted it, only where
// each is on tracefs (statfs), so a forged record cannot remove or unmount anything else.
// 0 or a negative errno (-EPERM: not a hotcore tracefs instance; the record stays then).
int repair_record(const char* name, cpu_online_writer write = write_cpu_online_raw) noexcept;

// record_kind() sorts a name under /run/hotcore: a record "cpuN" (cpu set), a record
// "tracefs-PID" (pid set), or neither.
enum class record_type { cpu, tracefs, other };
record_type record_kind(const char* name, unsigned long& number) noexcept;

}  // namespace hotcore::detail
