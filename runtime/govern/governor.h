// SPDX-License-Identifier: MIT
// runtime/govern/governor.h — the governor: which cores should be up, from who took each
// one down (the user or the governor), which cores may run (the kernel's online CPUs, the
// affinity mask), how many may be up (the container's quota) and in which order they
// leave. It decides, then moves cores through the one function it is handed: the hotplug
// path.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace hotcore::detail {

class governor {
 public:
  using leave_order_fn = std::function<std::vector<unsigned>(const std::vector<unsigned>&)>;
  // move_fn walks cores to a target through the one hotplug path, together (a governor
  // step may move many): each core's result, 0 or a negative errno, in the order given.
  using move_fn = std::function<std::vector<int>(const std::vector<unsigned>& cores, int target)>;
  // state_fn is a core's hotplug state now.
  using state_fn = std::function<int(unsigned core)>;
  // policy is what runtime_options say about cores the machine takes away.
  struct policy {
    bool follow_kernel = false;    // follow_cpu_hotplug: the kernel's online CPUs count
    bool online_at_start = true;   // cores start up where their CPUs are online
    bool come_back = true;         // a core the machine took away comes back with its CPU
  };

  governor(const std::vector<unsigned>& cores, policy p, move_fn move, state_fn state);

  // Every call below moves cores, so its caller may not be inside a callback, a task, or
  // hold cpus_read_lock() (runtime_impl::may_govern()). Each returns 0 or the first
  // error of the moves it made.

  // user_move() is the user's core_up(), core_down() or set_target(): it moves the core to
  // target, and once there the governor remembers who placed it: at ONLINE the core is
  // the governor's again; below ONLINE it is held down by the user: the governor never
  // brings it up and leaves it where it is (it takes it to OFFLINE only when it becomes
  // unavailable) until the user moves it again.
  int user_move(unsigned core, int target);
  // set_available() is runtime::set_core_available(); machine_available() is the same for
  // the machine watch, with the come_back policy: without it, a core taken down because
  // its CPU went away counts as taken down by the user.
  int set_available(unsigned core, bool available);
  int machine_available(unsigned core, bool available);
  int set_limit(unsigned n);
  int set_leave_order(leave_order_fn order);
  // offline_at_start() records a core whose CPU is offline at create() (or went offline
  // before its first walk): the governor brings it up with its CPU (follow_kernel), or
  // it stays down until core_up().
  void offline_at_start(unsigned core);

  [[nodiscard]] bool available(unsigned core) const;
  [[nodiscard]] unsigned limit() const;

 private:
  int govern();  // under _mutex
  [[nodiscard]] std::vector<unsigned> over_limit(const std::vector<unsigned>& candidates) const;

  const std::vector<unsigned> _cores;  // ascending
  const policy _policy;
  const move_fn _move;
  const state_fn _state;
  // _mutex serializes the governor's decisions and the user's moves. It is taken before
  // the hotplug path's own locks, never inside a callback or a task.
  mutable std::mutex _mutex;
  // By core id, guarded by _mutex:
  std::vector<char> _available;      // the core can run (default: yes)
  std::vector<char> _user_down;      // the user took it down: the governor leaves it
  std::vector<char> _governor_down;  // the governor took it down: it brings it back
  unsigned _limit = 0;               // at most this many cores up; 0: no limit
  leave_order_fn _leave_order;       // empty: highest core id first
};

}  // namespace hotcore::detail
