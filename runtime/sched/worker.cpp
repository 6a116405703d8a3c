// SPDX-License-Identifier: MIT
// runtime/sched/worker.cpp — a core's worker thread and its life under hotplug: the loop
// that runs tasks (idle.cpp looks for more and sleeps), the commands the hotplug thread
// sends (unpark, activate, deactivate, park, exit) and the drain that moves a leaving
// core's queued tasks to the cores that stay.
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <thread>

#include "sched/futex.h"
#include "sched/scheduler.h"
#include "chaos.h"
#include "trace/probes.h"

namespace hotcore::detail {
namespace {
// A busy worker still runs its core's pollers every this many tasks.
constexpr unsigned poll_period = 64;
}  // namespace

// ---- commands from the hotplug thread

std::uint32_t scheduler::command(worker& w, mode m, wake when) noexcept {
  HOTCORE_CHAOS_POINT("worker:command");
  // relaxed load: commands to one worker are serialized by the hotplug lock (or come from
  // the destructor after every hotplug operation).
  const std::uint32_t cmd = (((w.command.load(std::memory_order_relaxed) >> 2) + 1) << 2) | m;
  // seq_cst: Dekker with idle(): the worker raises `sleeping` (seq_cst) and then reads the
  // command; we store the command and then CAS `sleeping` in try_wake(). Either it sees
  // the command or we see it asleep and wake it.
  w.command.store(cmd, std::memory_order_seq_cst);
  wake_for_command(w, when);
  return cmd;
}

void scheduler::wake_for_command(worker& w, wake when) noexcept {
  // A parked or inactive worker waits on the command word.
  if (when == wake::now) futex_wake(w.command, 1);
  else if (when == wake::after_request) futex_wake_later(w.command, 1);
  else return;
  (void)try_wake(w);  // a running worker may be asleep waiting for tasks
}

void scheduler::ack(worker& w, std::uint32_t cmd) noexcept {
  HOTCORE_CHAOS_POINT("worker:ack");
  // release: the hotplug thread that sees the ack sees everything the worker did for it
  // (the drained queues, the finished task).
  w.acked.store(cmd, std::memory_order_release);
  futex_wake(w.acked, 1);
}

void scheduler::await_ack(worker& w, std::uint32_t cmd) noexcept {
  std::uint32_t seen;
  // acquire: pairs with ack().
  while ((seen = w.acked.load(std::memory_order_acquire)) != cmd) futex_wait(w.acked, seen);
}

// A worker that is not active sleeps on its command word (mode_parked or mode_inactive,
// the same wait), so parking and unparking it send no command: no wake-up, no context
// switch on the core's CPU. Parking needs no call at all: the worker is not active by
// then (sched:active went down first, or never came up on a rollback, and deactivate()
// waited for its acknowledgement), so it already sleeps there. Where it sleeps is
// placement's: the row workers:online pins it to its core after unpark() and moves it off
// when it goes down.
int scheduler::unpark(unsigned core) {
  HOTCORE_CHAOS_POINT("unpark");
  worker* w = find(core);
  if (w == nullptr) return -EINVAL;
  if (!w->thread.joinable()) {
    try {
      w->thread = std::thread([this, w] { worker_main(*w); });
    } catch (const std::system_error& e) {
      return e.code().value() > 0 ? -e.code().value() : -EAGAIN;
    }
    // acquire: pairs with worker_main()'s release store of its tid.
    while (w->tid.load(std::memory_order_acquire) == 0) w->tid.wait(0, std::memory_order_acquire);
    const std::string name = "hc-worker/" + std::to_string(core);  // shown by top -H
    (void)pthread_setname_np(w->thread.native_handle(), name.substr(0, 15).c_str());
    // Wait until the new worker acknowledged: from then on it waits for its next command,
    // where activate() may leave it asleep.
    await_ack(*w, command(*w, mode_parked));
  }
  return 0;
}

// call_on_worker() sends the worker a command that keeps its mode and carries a call; the
// worker runs it between tasks (or, inactive, right away) and acknowledges.
int scheduler::call_on_worker(unsigned core, void (*fn)(void*), void* arg) {
  worker* w = find(core);
  if (w == nullptr || fn == nullptr) return -EINVAL;
  if (!w->thread.joinable()) return -ENODEV;
  if (tls_ctx == &w->ctx) {  // on the worker itself: between tasks already
    fn(arg);
    return 0;
  }
  std::lock_guard lk(w->call_mutex);
  w->call_arg = arg;
  // release: a worker that sees fn (even while it acknowledges an earlier command) sees
  // call_arg; running the call early is fine, the acknowledgement we wait for follows it.
  w->call_fn.store(fn, std::memory_order_release);
  // relaxed: commands are serialized by the hotplug lock, which the caller holds.
  const auto m = static_cast<mode>(mode_of(w->command.load(std::memory_order_relaxed)));
  await_ack(*w, command(*w, m));  // command() publishes call_fn (seq_cst store)
  return 0;
}

void scheduler::run_call(worker& w) noexcept {
  // acquire: pairs with call_on_worker()'s release store.
  void (*fn)(void*) = w.call_fn.load(std::memory_order_acquire);
  if (fn == nullptr) return;
  fn(w.call_arg);
  // relaxed: the caller sees it cleared through ack()'s release.
  w.call_fn.store(nullptr, std::memory_order_relaxed);
}

pid_t scheduler::worker_tid(unsigned core) const noexcept {
  const worker* w = find(core);
  // acquire: pairs with worker_main()'s release store of its tid.
  return w == nullptr ? 0 : w->tid.load(std::memory_order_acquire);
}

int scheduler::activate(unsigned core) {
  worker* w = find(core);
  if (w == nullptr || !w->thread.joinable()) return -ENODEV;
  // A worker without pollers that waits for its next command (it acknowledged the last
  // one) has nothing to do until a task comes: it joins the sleeper set where it waits,
  // and the first push wakes it as it wakes any sleeper. The command goes before the
  // inboxes open, so a push that wakes it comes after it. relaxed: poller_count is a hint
  // (attach_poller() kicks the worker); acquire: pairs with ack().
  const bool asleep = w->poller_count.load(std::memory_order_relaxed) == 0 &&
                      w->acked.load(std::memory_order_acquire) ==
                          w->command.load(std::memory_order_relaxed) &&
                      join_parked(*w);
  if (asleep) {
    (void)command(*w, mode_run, wake::none);
    // seq_cst: Dekker with try_wake() between join_parked() and the command: a waker
    // that took the worker out may have woken it before the command changed; then it
    // may sleep on, and we wake it.
    if (w->sleeping.load(std::memory_order_seq_cst) == parked_woken) futex_wake(w->command, 1);
  }
  w->shared.open();
  w->pinned.open();
  // seq_cst: Dekker with park_orphan() (see there); also a release for submitters.
  w->active.store(true, std::memory_order_seq_cst);
  // Nothing waits for a woken worker to see this: on the hotplug thread, it is woken once
  // the walk has handed its result back (futex.h, the wake queue). Until then the other
  // active cores take its shared tasks; its pinned ones wait those microseconds.
  if (!asleep) (void)command(*w, mode_run, wake::after_request);
  adopt_orphans();
  return 0;
}

void scheduler::deactivate(unsigned core) {
  worker* w = find(core);
  if (w == nullptr || !w->thread.joinable()) return;
  // seq_cst: as in activate(); stealers and submitters stop choosing this core.
  w->active.store(false, std::memory_order_seq_cst);
  HOTCORE_CHAOS_POINT("queue:close");
  // Close the inboxes and move what waits there right away: none of it has to wait for
  // the running task (which may itself be waiting for one of them). A push that loses to
  // the close fails and goes to another core. With no other core active (the last core,
  // at shutdown) they go to the orphans, which the worker runs in its drain.
  task_node* list = w->shared.close_and_take();
  task_node* pinned = w->pinned.close_and_take();
  for (task_node* l : {list, pinned})
    while (l != nullptr) {
      task_node* n = l;
      l = n->next;
      if (!move_off(n, *w)) (void)_orphans.push(n);
    }
  const std::uint32_t cmd = command(*w, mode_inactive, wake::none);
  HOTCORE_CHAOS_POINT("worker:claim");
  // A worker that slept through its core's whole active time runs no task and has
  // nothing queued of its own: it sleeps on, and we acknowledge for it. release: as ack().
  if (claim_parked(*w)) {
    w->acked.store(cmd, std::memory_order_release);
    return;
  }
  // Otherwise it finishes its task, moves its own deque and acknowledges.
  wake_for_command(*w, wake::now);
  await_ack(*w, cmd);
}

void scheduler::stop() {
  for (const auto& w : _workers)
    // relaxed: stop() runs after every hotplug operation, on the thread that ran them.
    if (w->thread.joinable() && w->active.load(std::memory_order_relaxed)) deactivate(w->core);
  for (const auto& w : _workers)
    if (w->thread.joinable()) {
      (void)command(*w, mode_exit);
      w->thread.join();
    }
}

// ---- the worker thread

void scheduler::worker_main(worker& w) {
  tls_ctx = &w.ctx;
  // The worker's ppoll() sleeps end at its pollers' deadlines (timers): without the
  // kernel's default 50 us of timer slack, they end on time.
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // release: publishes the tid to unpark().
  w.tid.store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_release);
  w.tid.notify_all();
  for (;;) {
    // acquire: pairs with command()'s store, so the hotplug thread's setup before it (the
    // sleeper set's word, and for a woken worker its opened inboxes and active flag) is
    // visible before we act on the command.
    const std::uint32_t cmd = w.command.load(std::memory_order_acquire);
    // A worker activate() put in the sleeper set settles before it acts on a command: it
    // leaves the set to take tasks, and reads its command again when deactivate() took it
    // out (idle.cpp). relaxed: a quick look, settle_parked() reads it for real.
    if (w.sleeping.load(std::memory_order_relaxed) >= sleep_parked) [[unlikely]] {
      HOTCORE_CHAOS_POINT("worker:settle");
      if (settle_parked(w, mode_of(cmd) == mode_run)) continue;
    }
    if (mode_of(cmd) == mode_run) {
      // relaxed: only this thread writes acked while it takes tasks.
      if (w.acked.load(std::memory_order_relaxed) != cmd) {
        run_call(w);
        ack(w, cmd);
      }
      // The core's pollers run between tasks, at least every poll_period tasks, and
      // before the worker goes idle.
      if (++w.since_poll >= poll_period) {
        w.since_poll = 0;
        (void)poll_all(w);
      }
      task_node* n = find_work(w.ctx);
      if (n == nullptr && poll_all(w) != 0) continue;  // a poller may have made work
      if (n == nullptr) n = idle(w, cmd);
      if (n == nullptr) continue;
      if (w.spinning) stop_spinning(w);  // found work: no longer looking (idle.cpp)
      run_task(w.counters, n);
      continue;
    }
    // Not taking tasks: the task we ran has finished (we are between tasks); hand what is
    // queued here to the cores that stay, then report and wait for the next command.
    if (w.spinning) stop_spinning(w);  // no longer looking: another worker takes over
    close_and_drain(w);
    if (mode_of(cmd) == mode_exit) return;
    run_call(w);
    ack(w, cmd);
    // acquire: as above. relaxed: a worker a pusher took out of the sleeper set (it is a
    // spinner now) stops waiting and settles at the top; wake_sleeper() wakes it here.
    while (w.command.load(std::memory_order_acquire) == cmd &&
           w.sleeping.load(std::memory_order_relaxed) != parked_woken)
      futex_wait(w.command, cmd);
  }
}

bool scheduler::move_off(task_node* node, worker& from) {
  const worker* to = push_to_active(node, &from);
  if (to == nullptr) return false;
  // relaxed: a statistic (see worker::moved); from is the leaving worker.
  from.moved.fetch_add(1, std::memory_order_relaxed);
  HOTCORE_PROBE(task_moved, from.core, to->core, node);
  return true;
}

// close_and_drain() runs on the worker between tasks once it is told to stop taking
// them. deactivate() has closed both inboxes and moved what was in them (they are closed
// from the start, and only activate() opens them: the worker never touches them here, so
// a late drain cannot close a core that came up again). It gives every task of its own
// to another active core; with none left (the last core at shutdown) it runs them itself,
// with the orphans and whatever they spawn, until nothing is left.
void scheduler::close_and_drain(worker& w) {
  HOTCORE_CHAOS_POINT("queue:drain");
  task_node* list = nullptr;
  auto append = [&list](task_node* more) {
    while (more != nullptr) {
      task_node* n = more;
      more = n->next;
      n->next = list;
      list = n;
    }
  };
  append(w.pinned_head);
  w.pinned_head = nullptr;
  for (;;) {
    while (task_node* n = w.deque.pop()) {
      n->next = list;
      list = n;
    }
    if (list == nullptr && !any_active()) append(_orphans.take_all());
    if (list == nullptr) return;
    while (list != nullptr) {
      task_node* n = list;
      list = n->next;
      if (!move_off(n, w)) run_task(w.counters, n);  // no other core: run it here
    }
  }
}

}  // namespace hotcore::detail
