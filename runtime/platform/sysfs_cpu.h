// SPDX-License-Identifier: MIT
// runtime/platform/sysfs_cpu.h — the kernel's CPU files under /sys/devices/system/cpu:
// which CPUs are online, cpuN/online (read and write), cpuN/hotplug/state, and the
// process's affinity mask as `taskset -p` sees it.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace hotcore::detail {

// parse_cpu_list() reads a kernel CPU list ("0-3,5,7-8\n") into mask. Returns 0, or
// -EINVAL if the text is not a CPU list.
int parse_cpu_list(std::string_view text, cpu_set_t& mask);

// format_cpu_list() writes mask as a kernel CPU list ("0-3,5").
std::string format_cpu_list(const cpu_set_t& mask);

// read_online_cpus() reads /sys/devices/system/cpu/online. Returns 0 or a negative errno.
int read_online_cpus(cpu_set_t& mask);

// has_online_file() tells whether cpuN can be taken offline at all (cpu0 usually cannot:
// it has no online file).
bool has_online_file(unsigned cpu);

// check_online_writable() opens cpuN/online for writing and closes it: 0 when this process
// may offline/online the CPU, -ENOENT without the file, -EACCES/-EPERM/-EROFS without
// permission.
int check_online_writable(unsigned cpu);

// write_cpu_online() writes 1 or 0 to cpuN/online. Writing the value the file already
// holds succeeds. Returns 0 or a negative errno (the file's value is left as the kernel
// decided).
int write_cpu_online(unsigned cpu, bool online);

// read_cpu_online() is 1 or 0 from cpuN/online, or a negative errno; a CPU without the
// file is online (1) if it is in /sys/devices/system/cpu/online.
int read_cpu_online(unsigned cpu);

// read_present_cpus() reads /sys/devices/system/cpu/present: every CPU the machine has
// now, online or not. Returns 0 or a negative errno.
int read_present_cpus(cpu_set_t& mask);

// read_thread_allowed() is a thread's affinity as the kernel keeps it (Cpus_allowed_list
// in /proc/self/task/TID/status; tid 0: the calling thread): unlike sched_getaffinity(),
// which leaves out the CPUs that are offline now, it includes them. Returns 0 or a
// negative errno.
int read_thread_allowed(cpu_set_t& mask, pid_t tid = 0);

// read_home_mask() is the calling thread's mask with the CPUs that are offline now (what
// a new runtime and load_topology() start from): read_thread_allowed(), or
// sched_getaffinity() where /proc cannot tell. Returns 0 or a negative errno.
int read_home_mask(cpu_set_t& mask);

// read_kernel_hotplug_state() is the kernel's cpuN/hotplug/state (e.g. 236 for CPUHP_ONLINE
// on 6.18), or a negative errno.
int read_kernel_hotplug_state(unsigned cpu);

// read_process_mask() is the affinity mask of the process's main thread (tid == pid), the
// one `taskset -p MASK PID` changes, offline CPUs included (read_thread_allowed()).
// Returns 0 or a negative errno.
int read_process_mask(cpu_set_t& mask);

}  // namespace hotcore::detail
