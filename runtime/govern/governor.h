// SPDX-License-Identifier: MIT
// runtime/govern/governor.h — the governor's state: which cores may run (the kernel's
// online CPUs, the affinity mask), how many may be up (the container's quota), and which
// cores it took down itself, so that it brings back only those.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace hotcore::detail {

struct governor {
  using leave_order_fn = std::function<std::vector<unsigned>(const std::vector<unsigned>&)>;

  // mutex serializes the governor's decisions and the user's core_up()/core_down(). It is
  // taken before the hotplug path's own locks, never inside a callback or a task.
  mutable std::mutex mutex;
  // By OS CPU number, guarded by mutex:
  std::vector<char> available;      // the core can run (default: yes)
  std::vector<char> user_down;      // the user took it down: the governor leaves it down
  std::vector<char> governor_down;  // the governor took it down: it brings it back
  unsigned limit = 0;               // at most this many cores up; 0: no limit
  leave_order_fn leave_order;       // empty: highest core id first
};

}  // namespace hotcore::detail
