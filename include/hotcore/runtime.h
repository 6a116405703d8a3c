// SPDX-License-Identifier: MIT
/// @file
/// hotcore/runtime.h — the runtime: worker cores that come and go through the kernel's CPU
/// hotplug state machine, and the API to register states, add instances and move cores.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "hotcore/core_poller.h"
#include "hotcore/detail/read_side.h"
#include "hotcore/instance.h"
#include "hotcore/states.h"
#include "hotcore/stats.h"
#include "hotcore/task.h"
#include "hotcore/topology.h"
#include "hotcore/trace.h"

namespace hotcore {

namespace detail {
class runtime_impl;
class scheduler;
struct task_access;
struct quota_access;
}  // namespace detail

/// callback is a single-instance startup or teardown: it gets the core (the OS CPU number)
/// and returns 0 or a negative errno. An empty callback is skipped, like a NULL one.
using callback = std::function<int(unsigned core)>;

/// multi_callback is the same for a multi-instance state; it also gets the instance.
using multi_callback = std::function<int(unsigned core, instance_node* node)>;

/// runtime_options configures a runtime.
struct runtime_options {
  /// cores lists the OS CPU numbers to use as worker cores; empty means every PU that hwloc
  /// reports and the process's affinity mask allows.
  std::vector<unsigned> cores;
  /// online_at_start brings every core up to ONLINE in create(); otherwise they stay OFFLINE.
  bool online_at_start = true;
  /// policy picks the worker cores when `cores` is empty: one per PU (hardware thread, the
  /// default) or one per physical core (its first online, allowed PU).
  worker_policy policy = worker_policy::per_pu;
  /// physical (root only) adds the state "cpu:physical" (CPU_PHYSICAL, PREPARE section):
  /// its startup writes 1 to /sys/devices/system/cpu/cpuN/online before the core's threads
  /// go to the CPU, its teardown writes 0 after every thread of the runtime left it. A core
  /// whose CPU has no online file (cpu0: the kernel cannot offline it) stays logical; see
  /// core_physical(). create() fails with EACCES/EPERM/EROFS when the process may not write
  /// the online file of a core that has one, and with ENODEV when no core has one; nothing
  /// is started then.
  /// A physical-mode runtime holds a lock per CPU (/run/hotcore/cpuN.lock): create() fails
  /// with EBUSY while another physical-mode runtime (of any process) holds one of its
  /// CPUs. It forks a small guardian process that, if this process dies by any signal,
  /// brings back online exactly the CPUs the runtime took offline (records under
  /// /run/hotcore/; `hotcore restore` repairs them if the guardian died too). Destruction
  /// leaves each CPU as it was found: online CPUs are not taken offline on the way out,
  /// and CPUs the runtime took offline come back.
  bool physical = false;
  /// follow_cpu_hotplug listens to the kernel's CPU uevents (NETLINK_KOBJECT_UEVENT): a
  /// worker core whose CPU the kernel offlines (an operator, another tool) is taken down
  /// through the one hotplug path, via set_core_available(core, false). create() fails with
  /// the socket's error if the listener cannot be opened.
  /// Whatever this option, a core whose CPU the kernel has offline at create() is created
  /// down (its threads' masks keep the CPU); with this option it comes up when the kernel
  /// onlines the CPU, without it core_up() brings it up then. create() fails with
  /// EHOSTDOWN if every core's CPU is offline.
  bool follow_cpu_hotplug = false;
  /// follow_affinity polls the process's affinity mask every affinity_poll_ms: a core that
  /// leaves it is taken down, one that comes back is brought back up (set_core_available).
  /// The process's mask is its main thread's (tid == pid): what `taskset -p MASK PID`
  /// changes. Do not turn it on in a program whose main thread pins itself to some CPUs.
  bool follow_affinity = false;
  unsigned affinity_poll_ms = 20;  ///< how often follow_affinity polls the mask, in milliseconds
  /// come_back says what happens when a core's CPU becomes available again (online in the
  /// kernel and in the process mask): true brings the core back up if the runtime took it
  /// down because the CPU went away; false leaves it down until core_up().
  bool come_back = true;
  /// parallel_calls: setup_state() with calls, add_instance(), remove_instance() and
  /// remove_state() hand a STARTING or ONLINE callback to every core's hotplug thread at
  /// once and then wait for all of them, instead of one core after another (PREPARE
  /// callbacks run on the caller, one core after another, either way). Each callback still
  /// runs on the core it serves, but callbacks of different cores then run at the same
  /// time: they must not share unsynchronized state, and their order across cores is not
  /// fixed. When a startup fails on some cores, every core whose startup succeeded (cores
  /// after the first failing one too) is torn down, and the first failing core's error is
  /// returned. A governor step that moves several cores (set_core_limit(),
  /// set_leave_order(), set_core_available() and the machine's triggers) walks them
  /// together the same way, as the kernel brings CPUs up in parallel: their PREPARE steps
  /// here one core after another, then all their STARTING and ONLINE steps at once; a core
  /// that fails walks back alone to where it was, and the others reach the target.
  bool parallel_calls = false;
  /// simulated_cores (0: off) runs this many worker cores, numbered 0..N-1, whatever the
  /// machine has: core i's threads are pinned to the i-th of the CPUs the runtime would
  /// otherwise use (`cores`, or the PUs that `policy` picks), round-robin, so several
  /// cores share a CPU (cpu_of() says which). It is for measuring how costs grow with the
  /// core count on a small machine; cores that share a CPU do not run in parallel. At most
  /// max_simulated_cores. create() fails with EINVAL over that, and with EOPNOTSUPP when
  /// combined with physical, follow_cpu_hotplug or follow_affinity (each acts on a real
  /// CPU per core). The quota follower reads a cpuset through cpu_of(); its keep_together
  /// leave order is refused (-EOPNOTSUPP from enable()).
  unsigned simulated_cores = 0;
  /// idle_spin is how long a worker with nothing to run keeps looking for tasks before it
  /// sleeps (at most one looking worker per CPU). Longer bridges the gaps of fork-join
  /// work without a wake-up (tens of microseconds on a VM); shorter spends less CPU at
  /// partial load, where every request ends in an idle period. Under a CPU limit the
  /// spin is paid out of the quota: the quota follower sets it to its idle_spin_limited
  /// while a limit applies (set_idle_spin()). At most max_idle_spin (EINVAL).
  std::chrono::microseconds idle_spin{50};
};

/// max_idle_spin is the longest idle spin runtime_options::idle_spin and set_idle_spin()
/// take.
inline constexpr std::chrono::microseconds max_idle_spin{100000};

/// max_simulated_cores is the most runtime_options::simulated_cores may ask for.
inline constexpr unsigned max_simulated_cores = 1024;

/// state_row is one line of the state listing: a state number, its name and, for a
/// multi-instance state, how many instances it has now (-1 for a single-instance state).
/// A multi-instance state is one row however many instances (arenas, timer services,
/// io_contexts) it has.
struct state_row {
  int state;  ///< the state number
  std::string name;  ///< its name ("sched:active")
  int instances = -1;  ///< instances of a multi-instance state, -1 for a single-instance one
};

/// runtime owns the worker cores, their pinned hotplug threads and the state table.
///
/// Every function that returns int follows the kernel: 0 (or a positive allocated state) on
/// success, a negative errno on error. Errors name what was wrong:
/// @code
/// -EINVAL   bad state, core, name or argument      -EBUSY   slot taken, hotplug disabled,
/// -ENOSPC   dynamic range full                               or the last active core
/// -EAGAIN   failure injected with set_fail()       -EDEADLK called from a hotplug callback
/// -ENOENT   nothing installed / node not added                (or under cpus_read_lock,
/// -EEXIST   node already added                               or from inside a task)
/// -ENOLCK   a _cpuslocked variant called without cpus_read_lock held
/// -ENOTEMPTY multi state has instances             -ENODEV  submit_on(): core not active
/// -ESHUTDOWN submit*() after shutdown()
/// -EHOSTDOWN core_up() of a core whose CPU the kernel has offline (someone wrote 0 to
///            cpuN/online): the machine's state, not a failure; the core stays down
///            and, with follow_cpu_hotplug, comes up when the kernel onlines the CPU
/// @endcode
/// Example:
/// @code
/// std::error_code ec;
/// auto rt = hotcore::runtime::create({}, ec);
/// int st = rt->setup_state(hotcore::ONLINE_DYN, "mysub:online",
///                          [](unsigned core) { return init_cache(core); },
///                          [](unsigned core) { return free_cache(core); });
/// if (st < 0) return st;          // st > 0: the allocated dynamic state
/// rt->core_down(1);               // free_cache(1) runs on core 1's hotplug thread
/// rt->core_up(1);                 // init_cache(1) runs there again
/// rt->remove_state(st);           // free_cache(core) on every online core
/// @endcode
class runtime {
 public:
  /// create() discovers the cores, starts their hotplug threads and (by default) brings
  /// every core ONLINE. On error it returns nullptr and sets ec.
  [[nodiscard]] static std::unique_ptr<runtime> create(const runtime_options& options,
                                                       std::error_code& ec);
  /// The destructor takes every core down to OFFLINE (running the teardowns of every
  /// installed state) and joins every thread the runtime started.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // ---- cores
  /// cores() lists the worker cores (OS CPU numbers, or 0..N-1 with simulated_cores),
  /// ascending.
  [[nodiscard]] const std::vector<unsigned>& cores() const noexcept;
  /// cpu_of() is the OS CPU the core's hotplug thread and worker are pinned to while it
  /// is up: the core's own number, or with simulated_cores the CPU it was mapped to.
  /// -EINVAL for a core that is not a worker core.
  [[nodiscard]] int cpu_of(unsigned core) const;
  /// simulated() is true for a runtime created with simulated_cores.
  [[nodiscard]] bool simulated() const noexcept;
  /// core_up() walks a core up to ONLINE; on failure it rolls back to where it was.
  /// -EHOSTDOWN (logical mode) when the kernel has the core's CPU offline.
  [[nodiscard]] int core_up(unsigned core);
  /// core_down() walks a core down to OFFLINE; on failure it rolls back up. -EBUSY for the
  /// last core taking tasks.
  [[nodiscard]] int core_down(unsigned core);
  /// state() is the core's current state (sysfs cpuN/hotplug/state), or -EINVAL.
  [[nodiscard]] int state(unsigned core) const;
  /// target() is the state the core is moving to or was last moved to (cpuN/hotplug/target).
  [[nodiscard]] int target(unsigned core) const;
  /// set_target() moves the core to any named, stoppable state and returns like core_up.
  /// It tells the governor, as core_up()/core_down() do: at ONLINE the core is the
  /// governor's again; below ONLINE the user holds it there (the governor takes it down
  /// only if it becomes unavailable, and never brings it up) until the user moves it.
  [[nodiscard]] int set_target(unsigned core, int state);
  /// fail() is the state armed to fail on this core, or -1.
  [[nodiscard]] int fail(unsigned core) const;
  /// set_fail() arms a one-shot -EAGAIN at `state` on this core (cpuN/hotplug/fail); -1
  /// clears it. Rejected (-EINVAL) for STARTING states, states without callbacks, and
  /// PREPARE states while the core is past BRINGUP_CORE (they could only fail on the way
  /// down, which PREPARE teardowns may not).
  [[nodiscard]] int set_fail(unsigned core, int state);
  /// core_online() is true between sched:starting up and down; core_active() between
  /// sched:active up and down (the core takes tasks).
  [[nodiscard]] bool core_online(unsigned core) const;
  /// core_active(): see core_online().
  [[nodiscard]] bool core_active(unsigned core) const;
  /// online_cores() lists the cores whose state is ONLINE.
  [[nodiscard]] std::vector<unsigned> online_cores() const;

  // ---- the governor: which cores should be up
  /// Triggers other than the user (the kernel offlining a CPU, the process's affinity mask
  /// changing, the container's CPU quota) do not call core_up()/core_down(): they tell the
  /// governor, which moves cores through the same hotplug path. A core the user took down
  /// with core_down() (or set_target() below ONLINE) stays down whatever they say, until
  /// core_up().
  ///
  /// Example:
  /// @code
  /// rt->set_core_limit(1);             // quota of one CPU: core 1 goes down
  /// rt->set_core_available(0, false);  // cpu0 left the affinity mask: 0 down, 1 up
  /// rt->set_core_limit(0);             // no limit: 1 stays up, 0 stays unavailable
  /// @endcode
  /// set_core_available() says whether a core can run at all (its CPU is online in the
  /// kernel and in the process's affinity mask). An unavailable core is taken down; when
  /// it is available again, it comes back up if the governor took it down. Returns 0, or
  /// the first error of the moves it made (-EBUSY: the last active core stays up);
  /// -EINVAL bad core; -EDEADLK from a callback, a task, or under cpus_read_lock().
  [[nodiscard]] int set_core_available(unsigned core, bool available);
  /// core_available() is what set_core_available() (or a trigger) last said of the core.
  [[nodiscard]] bool core_available(unsigned core) const;
  /// set_core_limit() keeps at most n cores up (0: no limit). Cores over the limit go
  /// down in leave order; when the limit rises, cores the governor took down come back.
  /// Never below one core (-EBUSY). Errors as set_core_available().
  [[nodiscard]] int set_core_limit(unsigned n);
  /// core_limit() is the limit set_core_limit() set (0: no limit).
  [[nodiscard]] unsigned core_limit() const;
  /// set_idle_spin() changes runtime_options::idle_spin live. Returns 0, or -EINVAL below
  /// zero or over max_idle_spin. Any thread, any time; never blocks.
  [[nodiscard]] int set_idle_spin(std::chrono::microseconds spin) noexcept;
  /// idle_spin() is the idle spin in force now.
  [[nodiscard]] std::chrono::microseconds idle_spin() const noexcept;
  /// leave_order_fn gets the cores the governor may keep up (available, not taken down by
  /// the user), ascending, and returns them in the order they should leave; cores it
  /// leaves out leave last. The default is highest core id first.
  using leave_order_fn = std::function<std::vector<unsigned>(const std::vector<unsigned>&)>;
  /// set_leave_order() sets it (empty: the default) and applies it to the current limit.
  [[nodiscard]] int set_leave_order(leave_order_fn order);

  // ---- core pollers (hotcore/core_poller.h)
  /// attach_poller() adds p to the core's worker (at most 8 per core). The worker polls it
  /// while the core is active, between tasks and when idle, and sleeps on its fd and
  /// deadline. Typically called from the startup of an ONLINE state or instance: every
  /// ONLINE_DYN state lies below sched:active, so a core's worker starts polling after
  /// your startup ran, and has stopped (and moved its tasks) before your teardown runs.
  /// -EINVAL bad core or null, -EEXIST already attached, -ENOSPC 8 attached already, or
  /// the eventfd's error.
  [[nodiscard]] int attach_poller(unsigned core, core_poller* p);
  /// detach_poller() removes p and returns once the worker is no longer inside p->poll()
  /// (unless called from that worker itself): afterwards p may be destroyed. Safe from a
  /// hotplug callback and from a task. -EINVAL bad core or null, -ENOENT not attached.
  int detach_poller(unsigned core, core_poller* p);
  /// kick_core() wakes the core's worker if it sleeps, so it polls and reads the pollers'
  /// deadlines again (after arming an earlier timer from another thread, say).
  void kick_core(unsigned core) noexcept;
  /// run_on_worker() runs fn on the core's worker thread, between two tasks, and returns
  /// once it ran: for resources tied to the thread that uses them (an io_uring ring with
  /// IORING_SETUP_SINGLE_ISSUER, a registered ring fd). Meant for the callbacks of a
  /// core's ONLINE states: between "workers:online" up and down the worker exists and is
  /// pinned to the core; below "sched:active" it runs no task, so fn runs at once. From
  /// the worker itself fn runs inline. Elsewhere outside a callback it takes
  /// cpus_read_lock().
  /// -EINVAL bad core or empty fn, -ENODEV the core's worker is not online. Do not call it
  /// for core N from a task that core N's worker is running a hotplug operation for (it
  /// would wait for itself).
  int run_on_worker(unsigned core, const std::function<void()>& fn);

  // ---- states (kernel: cpuhp_setup_state*, cpuhp_remove_state*)
  /// setup_state() installs callbacks at a static slot or allocates one (state ==
  /// PREPARE_DYN or ONLINE_DYN) and runs startup on every core whose state is at or past
  /// it. If core N fails, cores before it are torn down (with parallel_calls, every core
  /// whose startup succeeded), nothing stays installed and a dynamic slot is freed. Returns 0 (static), the allocated state (>0), or <0.
  [[nodiscard]] int setup_state(int state, std::string_view name, callback startup,
                                callback teardown);
  /// setup_state_nocalls() only installs.
  [[nodiscard]] int setup_state_nocalls(int state, std::string_view name, callback startup,
                                        callback teardown);
  /// The _cpuslocked variants are for callers that hold cpus_read_lock().
  [[nodiscard]] int setup_state_cpuslocked(int state, std::string_view name,
                                           callback startup, callback teardown);
  /// setup_state_nocalls_cpuslocked() is setup_state_nocalls() under cpus_read_lock().
  [[nodiscard]] int setup_state_nocalls_cpuslocked(int state, std::string_view name,
                                                   callback startup, callback teardown);
  /// setup_state_multi() installs a multi-instance state; callbacks run per instance.
  [[nodiscard]] int setup_state_multi(int state, std::string_view name,
                                      multi_callback startup, multi_callback teardown);
  /// setup_state_multi_shared() is setup_state_multi() for a library whose instances share
  /// one state per runtime (hotcore's timers and arenas use it): the first call installs
  /// the state, a later call with the same name and the same startup callable type returns
  /// the state number installed then (for PREPARE_DYN/ONLINE_DYN, the slot it got).
  /// Returns the state number or a negative errno.
  [[nodiscard]] int setup_state_multi_shared(int state, std::string_view name,
                                             multi_callback startup, multi_callback teardown);
  /// remove_state() runs teardown on every core at or past the state, then uninstalls it
  /// (and frees a dynamic slot). A failing teardown is reported (its error is returned)
  /// but removal goes on: the state is removed either way.
  [[nodiscard]] int remove_state(int state);
  /// remove_state_nocalls() only uninstalls (no teardown runs).
  [[nodiscard]] int remove_state_nocalls(int state);
  /// remove_state_nocalls_cpuslocked() is remove_state_nocalls() under cpus_read_lock().
  [[nodiscard]] int remove_state_nocalls_cpuslocked(int state);
  /// remove_multi_state() uninstalls a multi-instance state; -ENOTEMPTY while it has
  /// instances.
  [[nodiscard]] int remove_multi_state(int state);

  // ---- instances (kernel: cpuhp_state_add_instance*, cpuhp_state_remove_instance*)
  /// add_instance() runs the state's startup for this instance on every core at or past
  /// the state; if core N fails, cores before it are torn down (with parallel_calls, every
  /// core whose startup succeeded) and the node is not added.
  [[nodiscard]] int add_instance(int state, instance_node* node);
  /// add_instance_nocalls() only adds the node (no startup runs).
  [[nodiscard]] int add_instance_nocalls(int state, instance_node* node);
  /// remove_instance() runs teardown for this instance on every core at or past the state
  /// and removes it; a failing teardown is reported, removal goes on.
  [[nodiscard]] int remove_instance(int state, instance_node* node);
  /// remove_instance_nocalls() only removes the node (no teardown runs).
  [[nodiscard]] int remove_instance_nocalls(int state, instance_node* node);

  // ---- serialization
  /// cpus_read_lock() keeps every hotplug operation out until cpus_read_unlock(). Readers
  /// never write a shared cache line in the uncontended case, so they do not slow each
  /// other; the lock nests within one thread. Inside a hotplug callback the running
  /// operation already holds it, so there these calls do nothing (and never deadlock).
  ///
  /// Both are inline: uncontended, a lock+unlock is four plain stores to the calling
  /// thread's own record and one load (hotcore/detail/read_side.h), with no call into the
  /// library; nested holds, a writer in, a callback and the first lock of a thread take
  /// the general way.
  void cpus_read_lock() noexcept {
    if (!detail::read_enter(*_gate)) cpus_read_lock_slow();
  }
  /// cpus_read_trylock() is cpus_read_lock() without waiting: false (nothing held) when a
  /// hotplug operation holds the lock or is taking it, true when it took it.
  [[nodiscard]] bool cpus_read_trylock() noexcept;
  /// cpus_read_unlock() releases one cpus_read_lock() (or a successful cpus_read_trylock()).
  void cpus_read_unlock() noexcept {
    if (!detail::read_exit(*_gate)) cpus_read_unlock_slow();
  }
  /// cpu_hotplug_disable() makes core_up/core_down/set_target return -EBUSY until the
  /// matching cpu_hotplug_enable(); it counts. enable() without disable() is -EINVAL; both
  /// return -EDEADLK from inside a hotplug callback.
  int cpu_hotplug_disable();
  /// cpu_hotplug_enable() undoes one cpu_hotplug_disable().
  [[nodiscard]] int cpu_hotplug_enable();

  // ---- introspection
  /// states() lists every named state as the kernel's /sys/.../hotplug/states does.
  [[nodiscard]] std::vector<state_row> states() const;
  /// states_text() is that listing formatted "%3d: name\n" per line, a multi-instance
  /// state's line ending in its instance count: " 33: io/uring:online (2 instances)".
  [[nodiscard]] std::string states_text() const;
  /// set_trace() switches the per-callback trace on or off; take_trace() returns and
  /// clears what was recorded.
  void set_trace(bool on);
  /// take_trace() returns the recorded trace events and clears them.
  [[nodiscard]] std::vector<trace_event> take_trace();
  /// stats() is a snapshot per core (state, walks with their durations, tasks run, stolen
  /// and moved, parked time) and of the quota followers' and the machine watch's
  /// counters (hotcore/stats.h). It takes no lock a task or a walk waits for; safe from
  /// any thread, a task and a callback included.
  [[nodiscard]] runtime_stats stats() const;

  // ---- the machine under the runtime (physical mode, kernel CPU hotplug, affinity)
  /// core_physical() is true when the core's CPU is taken offline/online in the kernel by
  /// "cpu:physical" (runtime_options::physical, and the CPU has an online file).
  [[nodiscard]] bool core_physical(unsigned core) const;
  /// kernel_offlines() counts the times the kernel took the core's CPU away while the
  /// runtime followed it (follow_cpu_hotplug): offline uevents it did not cause itself.
  [[nodiscard]] unsigned long kernel_offlines(unsigned core) const;
  /// kernel_state() is the kernel's own /sys/devices/system/cpu/cpuN/hotplug/state of the
  /// core's CPU (the kernel's CPUHP_ONLINE is 236 on Linux 6.18, CPUHP_OFFLINE 0), or a
  /// negative errno.
  [[nodiscard]] int kernel_state(unsigned core) const;
  /// topology_snapshot() is the machine as hwloc saw it when the runtime last looked: at
  /// create(), and again after each CPU uevent or process-mask change it followed.
  [[nodiscard]] topology topology_snapshot() const;

  // =====================================================================================
  // ---- tasks (hotcore/task_group.h and hotcore/parallel.h build fork-join on these)
  //
  // Every core whose state is at or past "workers:online" has one worker thread pinned to
  // it; between "sched:active" up and down the core takes tasks. Each core has a deque of
  // its own (its worker pushes and pops, idle workers of other active cores steal) and an
  // injection queue for tasks from other threads. Idle workers sleep on a futex.
  //
  // Guarantees:
  //  - Every accepted task runs exactly once. A task queued on a core that goes down runs
  //    on another active core instead, even one given to submit_on(): submit_on() picks
  //    where a task starts its wait, not a promise it runs there if the core leaves.
  //  - core_down() lets the task the core is running finish (it waits for it) and moves
  //    the core's queued tasks to the other active cores before the worker parks.
  //  - Destroying the runtime runs every task already accepted (none is dropped), then
  //    takes the cores down; the last core runs whatever is left before its worker parks.
  //  - submit()/submit_on()/shutdown() never take the hotplug lock or a global mutex.
  //  - Ordering: what a thread did before submit()/submit_on()/task_group::run() happens
  //    before the task runs; what a group's tasks did happens before wait() returns.
  //  - The callable is moved (copied, if you pass an lvalue) into the task once, never
  //    copied afterwards; move-only callables work. One of up to 96 bytes (align <= 16)
  //    lives inside the task's node, and nodes are recycled per thread: no malloc in the
  //    steady state. A larger callable costs one heap allocation. Only std::bad_alloc (or
  //    what the callable's move constructor throws) comes out of submit().
  // Rules for tasks: a task must not call core_up/core_down/set_target (-EDEADLK) nor
  // destroy the runtime; calling setup_state()/cpus_read_lock() from a task can deadlock
  // with a concurrent core_down(), which waits for that task. An exception escaping a
  // task given to submit()/submit_on() calls std::terminate (like std::thread); use a
  // task_group to get it back.

  // Example:
  //   std::atomic<int> done{0};
  //   int ret = rt->submit([&] { handle_request(); done++; });   // any active core
  //   if (ret == -ESHUTDOWN) ...;
  //   ret = rt->submit_on(1, [] { flush_core_local_cache(); });  // core 1's worker
  //   if (ret == -ENODEV) ...;                                    // core 1 not active
  //   hotcore::task_group g(*rt);                                 // fork-join
  //   g.run([&] { left(); });
  //   right();
  //   g.wait();

  /// submit() queues fn (moved in once) to run on some active core. Returns 0, or
  /// -ESHUTDOWN after shutdown() began (fn is then destroyed without running). When no
  /// core is active yet (online_at_start = false), the task waits for the first core
  /// that becomes active. From a worker the task goes on that core's own deque.
  template <class F>
  [[nodiscard]] int submit(F&& fn) {
    return submit_node(detail::make_task(std::forward<F>(fn)));
  }
  /// submit_on() queues fn on one core (its worker runs it unless the core goes down
  /// first, see above). Returns 0, -EINVAL if core is not a worker core, -ENODEV if the
  /// core is not active (not online, or going down or up right now), -ESHUTDOWN after
  /// shutdown() began. On error fn is destroyed without running.
  template <class F>
  [[nodiscard]] int submit_on(unsigned core, F&& fn) {
    return submit_node_on(detail::make_task(std::forward<F>(fn)), core);
  }
  /// shutdown() stops accepting submit()/submit_on() (-ESHUTDOWN from then on) and returns
  /// once every task accepted before has run (none is dropped; it returns 0). Task groups
  /// and parallel_for keep working until the runtime is destroyed. -EDEADLK from inside a
  /// task. The destructor calls it.
  int shutdown();
  /// this_core() is the core the calling thread works for as one of this runtime's
  /// workers, or -1.
  [[nodiscard]] int this_core() const noexcept;

  // ---- helper threads
  /// adopt_thread() keeps the calling thread, one that works for no core (a program's own
  /// helper thread, a quota follower), off the cores that are down: it runs on the
  /// process's CPUs minus the down cores, and every core that goes down or comes up
  /// places it again. release_thread() stops that; the thread must call it before it
  /// exits (so a reused thread id is never placed). Both wait for a running hotplug
  /// operation.
  void adopt_thread();
  /// release_thread() undoes adopt_thread() for the calling thread.
  void release_thread();

 private:
  friend struct detail::task_access;
  friend struct detail::quota_access;  // a quota follower's sums (runtime/quota/)
  /// submit_node() (any core) and submit_node_on() (that core) take the node in every
  /// case: queued, or dropped on error.
  int submit_node(detail::task_node* node) noexcept;
  int submit_node_on(detail::task_node* node, unsigned core) noexcept;

  /// The general way of cpus_read_lock() / cpus_read_unlock().
  void cpus_read_lock_slow() noexcept;
  void cpus_read_unlock_slow() noexcept;

  explicit runtime(std::unique_ptr<detail::runtime_impl> impl);
  std::unique_ptr<detail::runtime_impl> _impl;
  const detail::read_gate* _gate;  ///< the hotplug lock's, for the inline read side
};

namespace detail {
/// task_access lets task_group reach a runtime's scheduler without exposing it.
struct task_access {
  static scheduler& sched(runtime& rt) noexcept;
};
}  // namespace detail

/// cpus_read_guard holds cpus_read_lock() for a scope.
///
/// Example:
/// @code
/// { hotcore::cpus_read_guard g(*rt); int s = rt->setup_state_cpuslocked(...); }
/// @endcode
class cpus_read_guard {
 public:
  /// cpus_read_guard() takes rt's cpus_read_lock(); the destructor releases it.
  explicit cpus_read_guard(runtime& rt) noexcept : _rt(rt) { _rt.cpus_read_lock(); }
  ~cpus_read_guard() { _rt.cpus_read_unlock(); }
  cpus_read_guard(const cpus_read_guard&) = delete;
  cpus_read_guard& operator=(const cpus_read_guard&) = delete;

 private:
  runtime& _rt;
};

}  // namespace hotcore
