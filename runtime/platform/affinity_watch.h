// SPDX-License-Identifier: MIT
// runtime/platform/affinity_watch.h — noticing that the process's affinity mask changed
// (`taskset -p MASK PID`): the mask of the main thread, read on each poll.
#pragma once

#include <sched.h>

namespace hotcore::detail {

// affinity_watch remembers the process mask it saw last.
class affinity_watch {
 public:
  explicit affinity_watch(const cpu_set_t& initial) : _mask(initial) {}
  // poll() reads the process's mask (the main thread's: tid == pid; the runtime's own
  // threads set their own affinity, so theirs says nothing about the process). Returns
  // true when it differs from the last one seen; a failed read changes nothing.
  bool poll();
  [[nodiscard]] const cpu_set_t& mask() const noexcept { return _mask; }

 private:
  cpu_set_t _mask;
};

}  // namespace hotcore::detail
