// SPDX-License-Identifier: MIT
// runtime/platform/placement.h — where a thread of the runtime runs: the one owner of
// every thread's CPU affinity (platform/placement.cpp, the one file of the runtime that
// sets an affinity). Only the hotplug path calls it: the rows core:bringup and
// workers:online, restore_placement() after the kernel onlines a CPU, and the adoption of
// helper threads.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <array>
#include <functional>
#include <vector>

namespace hotcore::detail {

// core_thread names the two threads of a core: its hotplug thread and its worker.
enum class core_thread { hotplug, worker };

// placement's rule: a core's threads run on its core's CPU alone from their first place()
// on, while the core is up and while it is down: a down core's threads sleep there and take
// no CPU time, so a logical down+up costs no affinity change. They leave the CPU only when
// the machine needs it for someone else (vacate_fn: physical mode takes it offline, or the
// kernel or the process's mask took it away); then, and for every thread that belongs to
// no core (a helper thread), they run on the spare mask: the process's mask at create()
// minus the CPUs of the cores that are down (a core is down while its hotplug thread is
// not placed). The unpinned threads get the new spare mask each time a core comes up or
// goes down.
//
// Not thread-safe: the caller serializes every call (the hotplug engine holds
// cpu_add_remove_lock, and the hotplug write lock for a move). One exception: while cores
// walk together (parallel_calls), their hotplug threads place and leave their own
// workers at the same time. That only writes the worker's own flag and reads the
// hotplug threads' flags, which change only in the PREPARE steps, one core after another.
class placement {
 public:
  // thread_of() is the kernel id of a core's thread now, or 0 while it does not exist
  // (asked at each placement, so a thread that exits is never placed by a stale id).
  using thread_of_fn = std::function<pid_t(core_thread, unsigned core)>;
  // vacate_fn says whether a core going down must leave its CPU to the machine (asked at
  // each leave(), under the same serialization).
  using vacate_fn = std::function<bool(unsigned core)>;

  // cpus[i] is the OS CPU of cores[i]: the core itself, or with simulated cores one that
  // several cores share.
  placement(const std::vector<unsigned>& cores, const std::vector<unsigned>& cpus,
            const cpu_set_t& home, thread_of_fn thread_of, vacate_fn vacate);

  // cpu_of() is the OS CPU a core runs on: every core->CPU decision goes through it.
  [[nodiscard]] unsigned cpu_of(unsigned core) const noexcept { return _cpu[core]; }

  // place() pins a core's thread to the core's CPU alone; a thread that kept its pin while
  // the core was down (the kernel's view of its mask says so) needs no affinity change.
  // Placing the hotplug thread brings the core up: the CPU leaves the spare mask of the
  // others. 0, or the kernel's negative errno (EINVAL: the kernel has the CPU offline, or
  // the cpuset took it away); then nothing changed.
  int place(core_thread which, unsigned core) noexcept;
  // leave() is a core's thread leaving the core: it stays pinned there, asleep, unless
  // vacate_fn says the machine needs the CPU; then it moves to the spare mask. The hotplug
  // thread leaving takes the core down: every thread that is not pinned gets the new spare
  // mask. May not fail: a thread the kernel cannot move keeps the mask it had.
  void leave(core_thread which, unsigned core) noexcept;
  // adopt() puts a helper thread (the machine watch, a program's own thread) on the spare mask
  // and keeps it there; release() forgets it, before the thread exits.
  void adopt(pid_t tid);
  void release(pid_t tid);
  // restore_all() applies the rule to every thread again (the kernel widened the affinity
  // of the threads it moved off a CPU that went offline, and does not narrow it when the
  // CPU comes back): 0, or the first pin that failed.
  int restore_all() noexcept;

 private:
  [[nodiscard]] cpu_set_t spare() const noexcept;
  [[nodiscard]] bool up(unsigned core) const noexcept { return _up[core] != 0; }
  int pin(core_thread which, unsigned core) noexcept;
  [[nodiscard]] bool still_pinned(core_thread which, unsigned core) const noexcept;
  void spread(unsigned changing) noexcept;

  std::vector<unsigned> _cores;  // ascending
  cpu_set_t _home;
  std::vector<unsigned> _cpu;  // by core id: its OS CPU
  // By core id: _pinned[core][thread] says the thread was last pinned to the core's CPU
  // alone (placed, or kept there while the core is down); _up[core] that the core is up
  // (its hotplug thread is placed).
  std::vector<std::array<bool, 2>> _pinned;
  std::vector<char> _up;
  std::vector<pid_t> _helpers;
  cpu_set_t _spread{};        // the spare mask last given to every thread off its core
  bool _spread_valid = false;  // false: _spread was never given (or must be given again)
  thread_of_fn _thread_of;
  vacate_fn _vacate;
};

}  // namespace hotcore::detail
