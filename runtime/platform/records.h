// SPDX-License-Identifier: MIT
// runtime/platform/records.h — what a physical-mode process changed on the machine, kept
// under /run/hotcore/ so that it can be undone after the process died: one record per
// CPU it took offline ("cpuN"), one per tracefs instance it made ("tracefs-PID"), and the
// per-CPU lock files ("cpuN.lock") that keep two physical-mode runtimes off one CPU.
// Everything here but the directory walk is async-signal-safe (plain syscalls, no
// allocation): the guardian runs it in a child forked from a threaded process.
#pragma once

#include <sys/types.h>

namespace hotcore::detail {

inline constexpr const char* record_dir = "/run/hotcore";

// ensure_record_dir() makes /run/hotcore (0755) if it is missing. 0 or a negative errno.
int ensure_record_dir() noexcept;

// write_record() writes "<pid>\n<line1>\n<line2>\n" to /run/hotcore/<name> (through a
// temporary file and rename, so a reader never sees half a record). Lines may be null.
// 0 or a negative errno.
int write_record(const char* name, pid_t pid, const char* line1, const char* line2) noexcept;

// remove_record() unlinks /run/hotcore/<name>; a missing record is fine.
void remove_record(const char* name) noexcept;

// cpu_record_name() writes "cpuN" into buf (at least 16 bytes).
void cpu_record_name(unsigned cpu, char* buf) noexcept;

// record_of() reads /run/hotcore/<name>: its pid and up to two lines (each into a buffer
// of `size` bytes, "" when absent). 0, or a negative errno (-EINVAL: not a record).
int read_record(const char* name, pid_t& pid, char* line1, char* line2, unsigned size) noexcept;

// lock_cpu() takes /run/hotcore/cpuN.lock (flock, exclusive, without waiting) and writes
// the pid into it. Returns the locked fd (close it to release), -EBUSY when another
// runtime holds the CPU, or another negative errno.
int lock_cpu(unsigned cpu) noexcept;

// cpu_lock_free() tells whether no runtime holds cpuN's lock now (it takes and drops it).
bool cpu_lock_free(unsigned cpu) noexcept;

// repair_record() undoes what the record `name` says its dead process left, then removes
// the record: a "cpuN" record writes 1 to cpuN/online; a "tracefs-PID" record removes
// the instance and unmounts tracefs if hotcore mounted it. 0 or a negative errno (the
// record stays then).
int repair_record(const char* name) noexcept;

// write_cpu_online_raw() writes "1"/"0" to cpuN/online. 0 or a negative errno.
int write_cpu_online_raw(unsigned cpu, bool online) noexcept;

}  // namespace hotcore::detail
