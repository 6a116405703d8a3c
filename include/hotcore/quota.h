// SPDX-License-Identifier: MIT
/// @file
/// hotcore/quota.h — following the container's CPU quota live: how many worker cores a
/// quota is worth (rounding policy, hysteresis), which cores leave first, and the follower
/// that watches the process's cgroups (v1 and v2) and moves the runtime to the target
/// through the governor (runtime::set_core_limit), the one hotplug path.
///
/// Example (a server turning it on):
///   std::error_code ec;
///   auto rt = hotcore::runtime::create({}, ec);
///   hotcore::quota_follower_options opts;
///   opts.on_change = [](const hotcore::quota_change& c) { log(c.old_cores, c.new_cores); };
///   auto follower = hotcore::quota_follower::create(*rt, opts, ec);
///   follower->enable();    // reads the quota now and follows it: `docker update --cpus 1`
///                          // takes a core down within milliseconds
///   follower->disable();   // no thread, nothing polls; the core limit stays as it is
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "hotcore/cgroup.h"
#include "hotcore/runtime.h"
#include "hotcore/topology.h"

namespace hotcore {

/// quota_rounding turns quota/period (a fraction of CPUs) into whole cores.
enum class quota_rounding {
  ceil,      // enough cores to use the whole quota (1.2 CPUs: 2 cores), the default
  floor,     // never more cores than the quota can keep running (1.8 CPUs: 1 core)
  headroom,  // floor of the quota less a reserve for the process's other threads
};

/// quota_policy says how a quota becomes a core count.
struct quota_policy {
  /// How a fractional CPU quota becomes a whole core count.
  quota_rounding rounding = quota_rounding::ceil;
  /// headroom_millicpus is the reserve the headroom rounding keeps out of the quota, in
  /// thousandths of a CPU (250: 2.2 CPUs give floor(1.95) = 1 core).
  unsigned headroom_millicpus = 250;
  /// hysteresis_millicpus is how far past a rounding boundary the quota must move before
  /// the core count follows it, in thousandths of a CPU. With ceil and 100, a quota
  /// hovering between 1.95 and 2.08 CPUs keeps the 2 cores it has, and from 3 cores a
  /// quota of exactly 2.0 CPUs still gives 2 at once.
  unsigned hysteresis_millicpus = 100;
};

/// quota_cores() is the core count a limit is worth under the policy, before the machine
/// is considered: 0 for no limit, otherwise at least 1. `current` is the count it gave
/// last time (0: none): the count stays there while the quota is within the hysteresis
/// band of the boundary it crossed.
[[nodiscard]] unsigned quota_cores(const cpu_limit& limit, const quota_policy& policy,
                                   unsigned current) noexcept;

/// core_target() is min(allowed, quota cores), never below 1; allowed is how many worker
/// cores may run at all (available, and in the cpuset). quota 0 means no limit.
[[nodiscard]] unsigned core_target(unsigned quota, unsigned allowed) noexcept;

// ---- which cores leave first

/// highest_first() is the default leave order: highest core id first.
[[nodiscard]] std::vector<unsigned> highest_first(const std::vector<unsigned>& up);
/// keep_together_order() ranks the cores so that what stays up fills whole NUMA nodes and
/// whole SMT cores: cores of the node with the fewest cores up leave first, within a node
/// those of the physical core with the fewest PUs up, highest id first on ties. Cores the
/// topology does not know leave first.
[[nodiscard]] std::vector<unsigned> keep_together_order(const topology& topo,
                                                        const std::vector<unsigned>& up);

/// leave_policy says which cores the follower takes down first when the quota shrinks.
enum class leave_policy {
  highest_first,  // the governor's default
  keep_together,  // keep NUMA nodes and SMT siblings together (hwloc topology)
};

// ---- the follower

/// quota_change is one move the follower made, with its timing (CLOCK_MONOTONIC ns).
struct quota_change {
  cpu_limit old_limit;  ///< the limit before this move
  cpu_limit new_limit;  ///< the tightest limit over the group and ancestors
  std::string limit_dir;              ///< the cgroup directory that sets new_limit
  unsigned old_cores = 0;  ///< cores up before the move
  unsigned new_cores = 0;  ///< cores up after it
  unsigned target = 0;                ///< what the follower asked for
  std::int64_t previous_check_ns = 0; ///< the check before this one saw the old value
  std::int64_t seen_ns = 0;           ///< the check that saw the new value began
  std::int64_t applied_ns = 0;        ///< set_core_limit() returned: cores moved
  bool by_event = false;              ///< woken by inotify (else by the poll timer)
  int result = 0;                     ///< set_core_limit()'s result (negative errno)
};

/// quota_follower_options configures a quota_follower.
struct quota_follower_options {
  quota_policy policy;  ///< how the quota becomes a core count
  leave_policy leave = leave_policy::highest_first;  ///< which cores leave first
  /// poll_interval is how often the files are re-read when no inotify event came: it
  /// catches changes that are not writes (a cpuset shrinking as CPUs go offline, the
  /// process moved to another group) and writes inotify cannot see. 0: events only.
  std::chrono::milliseconds poll_interval{40};
  /// use_inotify watches the quota and cpuset files (a write wakes the follower at once).
  bool use_inotify = true;
  /// proc_self is where `cgroup` and `mountinfo` are read ("/proc/self"); a test points it
  /// at a directory of its own whose mountinfo mounts a tree of files.
  std::string proc_self = "/proc/self";
  /// idle_spin_limited is the runtime's idle spin (runtime::set_idle_spin()) while a CPU
  /// limit applies: the kernel bills spinning to the quota, so a worker with nothing to
  /// run sleeps at once by default. The runtime's own spin returns when the limit goes
  /// away or the follower is disabled. At most max_idle_spin (EINVAL).
  std::chrono::microseconds idle_spin_limited{0};
  /// pace keeps the process under a fractional limit before the kernel throttles it: the
  /// cores above the limit's floor (ceil rounding's extra core: 2 cores for 1.5 CPUs) run
  /// only while the process's CPU time over the last period leaves room for them. The
  /// follower looks at it every 2 ms while little room is left, and rarely while the
  /// process is idle; it caps the cores at the floor (through the governor, the one
  /// hotplug path) until the sliding period frees the quota again. The kernel stops every
  /// thread of the group for the rest of a period once its quota is spent; the pacer
  /// holds back only the extra core. CPU time is the process's own: other processes in
  /// the same group are not counted. Whole limits and floor/headroom rounding have no
  /// extra core and are not paced. Off by default: pacing keeps the throttled periods
  /// near zero, but its window is conservative, and on the VM of docs/latency.md an
  /// unpaced follower had the lower p99 at 60, 75 and 90 % of a 1.5 CPU limit.
  bool pace = false;
  /// process_cpu_ns is what the pacer reads as the CPU time used (ns, counting up); empty:
  /// the process's own (CLOCK_PROCESS_CPUTIME_ID). A program that shares its group with
  /// other processes can give the group's usage (cpu.stat usage_usec x 1000).
  std::function<std::int64_t()> process_cpu_ns;
  /// on_change runs on the follower's thread after every move; on_error when a check
  /// fails with an error different from the last one (the last good target is kept).
  std::function<void(const quota_change&)> on_change;
  /// on_error: see on_change.
  std::function<void(const cgroup_error&)> on_error;
};

/// quota_status is a snapshot of what the follower knows.
struct quota_status {
  bool enabled = false;  ///< the follower's thread runs
  cgroup_location cpu_group;         ///< where the quota is read (empty path: not found)
  cpu_limit limit;                   ///< the last good limit
  std::string limit_dir;             ///< which level set it
  bool cpuset_found = false;  ///< a cpuset file was found at some level
  std::vector<unsigned> cpuset;      ///< the last good effective cpus
  unsigned target = 0;               ///< the last target given to the governor (0: none)
  cgroup_error last_error;           ///< the error of the last check, empty when it was good
  std::string note;                  ///< e.g. "quota 0.50 CPUs is below one period: 1 core"
  std::uint64_t checks = 0;          ///< checks done (timer + events)
  std::uint64_t events = 0;          ///< checks woken by inotify
  std::uint64_t changes = 0;         ///< moves made
  std::uint64_t paced_moves = 0;     ///< moves the pacer made (extra core held back or freed)
  bool pacing = false;               ///< a fractional limit's extra core is paced
  bool paced = false;                ///< the pacer holds the extra core back now
  std::int64_t cpu_ns = 0;           ///< CPU time the follower's thread used, all runs
};

/// quota_follower watches the process's cpu (and cpuset) cgroup and keeps the runtime's
/// core limit at the target. While enabled it owns one thread that sleeps in poll() on
/// inotify and a timer; while disabled there is no thread. It must be destroyed before
/// the runtime.
class quota_follower {
 public:
  /// create() makes a follower (disabled). ec is set only for bad options (EINVAL).
  [[nodiscard]] static std::unique_ptr<quota_follower> create(runtime& rt,
                                                              quota_follower_options options,
                                                              std::error_code& ec);
  ~quota_follower();
  quota_follower(const quota_follower&) = delete;
  quota_follower& operator=(const quota_follower&) = delete;

  /// enable() sets the leave order, runs one check on the calling thread (so the runtime
  /// matches the quota when it returns) and starts the thread. Returns 0 even when that
  /// check found bad input (status().last_error says what); -EALREADY if enabled,
  /// -EDEADLK from a task or a hotplug callback, -EOPNOTSUPP for leave_policy::keep_together
  /// on a runtime with simulated_cores, or the errno of thread/fd creation.
  [[nodiscard]] int enable();
  /// disable() stops the thread and returns once it has exited. The core limit stays
  /// where it is (runtime::set_core_limit(0) lifts it). Idempotent.
  void disable();
  /// enabled() is true between enable() and disable().
  [[nodiscard]] bool enabled() const;
  /// check_now() runs one check on the calling thread (enabled or not) and returns 0, or
  /// the negative errno of the error it found (the error's own code is in status()).
  int check_now();
  /// status() is a snapshot of what the follower knows (quota_status).
  [[nodiscard]] quota_status status() const;

 private:
  struct impl;
  explicit quota_follower(std::unique_ptr<impl> p);
  std::unique_ptr<impl> _impl;
};

}  // namespace hotcore
