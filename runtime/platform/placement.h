// SPDX-License-Identifier: MIT
// runtime/platform/placement.h — where a thread of the runtime runs: the only calls that
// set a thread's CPU affinity (implemented in platform/vacate.cpp, the one file of the
// runtime that sets an affinity).
#pragma once

#include <sched.h>
#include <sys/types.h>

namespace hotcore::detail {

// pin_thread() puts thread tid on one CPU alone; place_thread() on a mask. 0, or the
// negative errno of the kernel (EINVAL: the kernel has the CPU offline, or the
// cpuset took it away). A tid of 0 or less is no thread: nothing happens, 0.
int pin_thread(pid_t tid, unsigned cpu) noexcept;
int place_thread(pid_t tid, const cpu_set_t& mask) noexcept;

}  // namespace hotcore::detail
