// SPDX-License-Identifier: MIT
// runtime/sched/scheduler.h — the task scheduler: one pinned worker per core with a
// Chase–Lev deque and two injection queues, stealing between active cores, futex sleep,
// the hotplug hooks ("workers:online" and "sched:active" up and down) and shutdown.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "hotcore/core_poller.h"
#include "hotcore/task.h"
#include "hotcore/task_group.h"
#include "sched/closeable_stack.h"
#include "sched/ws_deque.h"

namespace hotcore::detail {

class scheduler;

// inbox is a core's injection queue of tasks (closed while the core takes no tasks).
using inbox = closeable_stack<task_node>;
struct worker;

// counter_slot counts root tasks (submit/submit_on) per thread: submitted where they were
// submitted, completed where they ran. Sums over all slots tell shutdown() when every
// accepted task has run, without a counter every task would share.
struct alignas(64) counter_slot {
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> completed{0};
};

// thread_ctx is what a thread running tasks for a scheduler owns: a worker's, or that of
// an outside thread while it helps inside task_group::wait() (a "helper").
struct thread_ctx {
  scheduler* sched = nullptr;
  ws_deque* deque = nullptr;       // where tasks it spawns go
  counter_slot* counters = nullptr;
  worker* w = nullptr;             // null for a helper
  int core = -1;                   // -1 for a helper
};

// The thread's current context (null: not running tasks for any scheduler).
extern __attribute__((tls_model("initial-exec"))) thread_local thread_ctx* tls_ctx;

// A worker's command word is (generation << 2) | mode; every command bumps the
// generation, so an acknowledgement names exactly the command it answers.
enum mode : std::uint32_t { mode_parked = 0, mode_inactive = 1, mode_run = 2, mode_exit = 3 };

// How a worker in the sleeper set sleeps (worker::sleeping), and what became of a worker
// that activate() put in the set while it waited for its command (worker.cpp):
// parked_woken, a waker took it out and counted it as a spinner; parked_claimed,
// deactivate() took it out (it never ran while its core was active). Either is out of the
// set; the worker clears the word itself (settle_parked()).
enum sleep_kind : std::uint32_t {
  sleep_futex = 1,
  sleep_fds = 2,
  sleep_parked = 3,
  parked_woken = 4,
  parked_claimed = 5,
};
constexpr std::uint32_t mode_of(std::uint32_t cmd) noexcept { return cmd & 3u; }

// worker is one core's worker thread and queues.
struct worker {
  worker(scheduler& s, unsigned core_, unsigned cpu_, unsigned index_);
  const unsigned core;
  const unsigned cpu;  // the CPU it is pinned to while its core is up (runtime cpu_of())
  const unsigned index;
  ws_deque deque;   // the worker's own tasks; active cores' idle workers steal from it
  inbox shared;     // tasks from other threads; any active core may take them
  inbox pinned;     // submit_on() tasks: only this worker takes them (moved if it leaves)
  task_node* pinned_head = nullptr;  // taken from `pinned`, oldest first (worker only)
  unsigned since_inbox = 0;          // tasks popped since the inbox was last looked at
  std::uint32_t rng;                 // victim choice (worker only)
  bool spinning = false;             // counted in scheduler::_spinning (worker only)

  // active: the core takes tasks (between sched:active up and down). Submitters read it
  // as a hint (acquire); the closed inboxes are what keep tasks out of a leaving core.
  alignas(64) std::atomic<bool> active{false};
  // sleeping: non-zero while the worker is in the sleeper set: sleep_futex while it
  // futex-waits on this word, sleep_fds while it waits in ppoll() on its pollers' fds and
  // wake_event, sleep_parked while it waits on `command` (activate() put it there).
  // Whoever CASes it out of those takes it out of the set and wakes it (see sleep_kind).
  std::atomic<std::uint32_t> sleeping{0};
  // command: what the hotplug thread wants (futex word for a parked/inactive worker);
  // acked: the last command the worker carried out (futex word for the hotplug thread);
  // deactivate() writes it for a worker that slept through its core's active time.
  alignas(64) std::atomic<std::uint32_t> command{mode_parked};
  std::atomic<std::uint32_t> acked{mode_parked};
  std::atomic<pid_t> tid{0};

  counter_slot counters;
  thread_ctx ctx;
  std::thread thread;
  // stolen: tasks this worker took from other cores' queues. Only the worker writes it
  // (a relaxed load and store: a plain move, no read-modify-write); stats() reads it.
  // moved: tasks queued here that went to other cores as the core left: written by the
  // hotplug thread in deactivate() and by the worker in its drain, one after the other
  // (the command hands over); relaxed fetch_add, off the task path. Both are statistics.
  std::atomic<std::uint64_t> stolen{0};
  std::atomic<std::uint64_t> moved{0};

  // ---- core_poller slots (poller.cpp). attach/detach write them under poller_mutex; the
  // worker reads them (seq_cst, see detach_poller()) inside a polling pass.
  static constexpr unsigned max_pollers = 8;
  std::array<std::atomic<core_poller*>, max_pollers> pollers{};
  std::array<int, max_pollers> poller_fds{};  // wake_fd() of each slot, written before it
  // poller_count: attached pollers; the worker skips polling and sleeps on the futex while
  // it is 0. relaxed: a hint, the slots themselves are what is read with ordering.
  std::atomic<unsigned> poller_count{0};
  // poll_seq: odd while the worker is inside a polling pass; detach_poller() waits for
  // the pass to end (it is a futex word).
  std::atomic<std::uint32_t> poll_seq{0};
  // wake_event: an eventfd that wakes a worker sleeping in ppoll(); made by the first
  // attach_poller() and published to the worker with that slot's store.
  std::atomic<int> wake_event{-1};
  std::mutex poller_mutex;  // serializes attach/detach (never taken by the worker)
  unsigned since_poll = 0;  // tasks run since the last polling pass (worker only)
  // A call for the worker to run (call_on_worker): written by the caller under call_mutex
  // before the command that carries it, cleared by the worker before it acknowledges.
  // Atomic: the worker looks at it at every acknowledgement, also of commands that carry
  // no call and that nobody waits for; orders are given where it is read and written.
  std::atomic<void (*)(void*)> call_fn{nullptr};
  void* call_arg = nullptr;
  std::mutex call_mutex;
  ~worker();

  // open() (worker only) is true while the worker's command is run.
  [[nodiscard]] bool open() const noexcept {
    // relaxed: a stale answer is harmless, a task pushed to a closing core's own deque is
    // moved when the worker reaches its drain.
    return mode_of(command.load(std::memory_order_relaxed)) == mode_run;
  }
};

// helper_slot gives an outside thread inside wait() a deque that workers steal from.
struct helper_slot {
  ws_deque deque{256};
  counter_slot counters;
  thread_ctx ctx;
  int index = -1;  // bit in scheduler::_helper_mask, or -1 for a private overflow slot
};

class scheduler {
 public:
  // cpus[i] is the CPU of cores[i] (placement's table, runtime_impl::cpu_of()).
  scheduler(const std::vector<unsigned>& cores, const std::vector<unsigned>& cpus);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // ---- hotplug hooks, called on the core's hotplug thread (worker.cpp)
  // unpark() ("workers:online" up) creates the worker on first use and leaves it inactive
  // (parking needs no call: see worker.cpp). Where it runs is placement's.
  int unpark(unsigned core);
  // activate() ("sched:active" up) opens the core to tasks. deactivate() (down) closes it,
  // waits for the running task to finish and for the worker to move its queued tasks to
  // the other active cores (or, with none left, to run them itself).
  int activate(unsigned core);
  void deactivate(unsigned core);
  // stop() closes any core still open and ends and joins every worker thread.
  void stop();
  // worker_tid() is the kernel id of the core's worker thread, or 0 before it exists.
  // Read by the hotplug path (under the hotplug lock) to pin or vacate it.
  [[nodiscard]] pid_t worker_tid(unsigned core) const noexcept;

  // set_idle_spin() sets how long an idle worker looks for tasks before it sleeps
  // (idle.cpp); idle_spin() reads it. Any thread, any time.
  void set_idle_spin(std::chrono::nanoseconds spin) noexcept {
    // relaxed: a tuning value that orders nothing; idle() reads it once per idle period.
    _idle_spin_ns.store(spin.count(), std::memory_order_relaxed);
  }
  [[nodiscard]] std::chrono::nanoseconds idle_spin() const noexcept {
    return std::chrono::nanoseconds(_idle_spin_ns.load(std::memory_order_relaxed));  // as above
  }

  // task_counts is what one core's worker did with tasks (runtime::stats()).
  struct task_counts {
    std::uint64_t run = 0, stolen = 0, moved = 0;
  };
  [[nodiscard]] task_counts counts(unsigned core) const noexcept;

  // call_on_worker() runs fn(arg) on the core's worker thread, between tasks, and returns
  // when it ran. The caller holds the hotplug lock (a callback, or cpus_read_lock).
  int call_on_worker(unsigned core, void (*fn)(void*), void* arg);

  // ---- core pollers (poller.cpp): see hotcore/core_poller.h and runtime.h
  int attach_poller(unsigned core, core_poller* p);
  int detach_poller(unsigned core, core_poller* p);
  void kick(unsigned core) noexcept;

  // ---- tasks (scheduler.cpp, wait.cpp)
  // where: any active core (the submitter's own first), or only `core` (submit_on()).
  enum where { any_core, on_core };
  int submit(task_node* node, where w, unsigned core) noexcept;
  void spawn(task_node* node);
  void wait(group_state& g) noexcept;
  int shutdown() noexcept;
  // in_task() is true on a thread running tasks for this scheduler.
  [[nodiscard]] bool in_task() const noexcept;
  [[nodiscard]] int this_core() const noexcept;

 private:
  friend struct worker;
  static constexpr unsigned external_slots = 16;
  static constexpr unsigned helper_slots = 8;

  worker* find(unsigned core) const noexcept;
  counter_slot& my_counters() noexcept;
  static void drop(task_node* node) noexcept;

  // queues (scheduler.cpp)
  // push_to_active() queues node on an active core other than exclude: the one it chose,
  // or null when none is active.
  worker* push_to_active(task_node* node, const worker* exclude);
  // move_off() gives a task queued on the leaving core `from` to another active core
  // (probe hotcore:task_moved); false when none is active.
  bool move_off(task_node* node, worker& from);
  void push_external(task_node* node);
  void park_orphan(task_node* node);
  void adopt_orphans();
  [[nodiscard]] bool any_active() const noexcept;
  // searching and sleeping (idle.cpp)
  void wake_after_push(worker* prefer, const worker* exclude) noexcept;
  void notify(const worker* self) noexcept;
  void wake_one(worker* prefer, const worker* exclude) noexcept;
  bool try_wake(worker& w) noexcept;
  bool try_spin(worker& w) noexcept;
  void stop_spinning(worker& w) noexcept;
  void hand_over_search(worker& w) noexcept;
  bool join_sleepers(worker& w, std::uint32_t kind) noexcept;
  void leave_sleepers(worker& w, bool was_spinning) noexcept;
  task_node* last_look(worker& w, bool was_spinning);
  // finding work (scheduler.cpp). A full look (`full`) tries every other core; otherwise
  // steal() tries steal_tries cores from a random one on.
  task_node* find_work(thread_ctx& c, bool full = false);
  task_node* take_pinned(worker& w) noexcept;
  task_node* take_list(thread_ctx& c, task_node* list);
  task_node* steal(thread_ctx& c, bool full);
  task_node* steal_from_others(thread_ctx& c, unsigned tries);
  // work_visible() is true when a queue that any worker may take from holds a task.
  [[nodiscard]] bool work_visible() const noexcept;
  void run_task(counter_slot& counters, task_node* node) noexcept;
  [[nodiscard]] bool quiescent() const noexcept;

  // polling (poller.cpp)
  unsigned poll_all(worker& w) noexcept;
  task_node* sleep_on_fds(worker& w, std::uint32_t cmd) noexcept;
  static void wake_sleeper(worker& w, std::uint32_t kind) noexcept;

  // the worker thread (worker.cpp)
  void worker_main(worker& w);
  task_node* idle(worker& w, std::uint32_t cmd);  // idle.cpp
  void cancel_sleep(worker& w) noexcept;          // idle.cpp
  // join_parked() puts a worker that waits for its next command in the sleeper set
  // (activate(); false when it could not). claim_parked() takes it out again if it slept
  // all along (deactivate(): true then). settle_parked() is the worker's side, before it
  // acts on a command: it leaves the set if it is to take tasks (`leave`), and learns who
  // took it out; true when deactivate() did (its command has changed since).
  bool join_parked(worker& w) noexcept;
  bool claim_parked(worker& w) noexcept;
  bool settle_parked(worker& w, bool leave) noexcept;
  void close_and_drain(worker& w);
  // command() gives the worker a new command and wakes it: now, or (wake::after_request,
  // on a hotplug thread) once the request has handed its result back (futex.h), or not
  // (wake::none: the caller wakes it with wake_for_command() when it has to).
  enum class wake { now, after_request, none };
  std::uint32_t command(worker& w, mode m, wake when = wake::now) noexcept;
  void wake_for_command(worker& w, wake when) noexcept;
  static void run_call(worker& w) noexcept;
  static void await_ack(worker& w, std::uint32_t cmd) noexcept;
  static void ack(worker& w, std::uint32_t cmd) noexcept;

  // helpers (wait.cpp)
  helper_slot* acquire_helper();
  void release_helper(helper_slot* h) noexcept;
  void wait_loop(thread_ctx& c, group_state& g) noexcept;

  std::vector<std::unique_ptr<worker>> _workers;  // by index, ascending core
  std::vector<worker*> _by_core;                  // by core id
  std::array<helper_slot, helper_slots> _helpers;
  // _helper_mask: bit i set while _helpers[i] is in use (acquire/release with its user).
  alignas(64) std::atomic<std::uint32_t> _helper_mask{0};
  // _sleepers: workers in the sleeper set. _spinning: workers awake and looking for tasks
  // (idle()'s spin, or woken and not yet running a task), at most _max_spinning of them
  // by their own choice. Pushers read both (relaxed, after full_fence()) and wake a
  // sleeper only when someone sleeps and nobody looks (idle.cpp says why that loses no
  // task). One cache line: a pusher reads them with one miss.
  alignas(64) std::atomic<int> _sleepers{0};
  std::atomic<int> _spinning{0};
  // _wake_skipped: a pusher left a sleeper asleep because a spinner was looking; the
  // spinner that stops last without a last look wakes one (hand_over_search()).
  std::atomic<bool> _wake_skipped{false};
  int _max_spinning = 1;  // the number of distinct CPUs the workers run on
  std::atomic<std::int64_t> _idle_spin_ns{50'000};  // set_idle_spin()
  // _closing: set by shutdown() (seq_cst, a Dekker pair with submit()'s counter bump).
  alignas(64) std::atomic<bool> _closing{false};
  inbox _orphans;  // tasks submitted while no core is active
  std::array<counter_slot, external_slots> _external;
};

}  // namespace hotcore::detail
