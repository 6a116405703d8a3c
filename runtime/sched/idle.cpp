// SPDX-License-Identifier: MIT
// runtime/sched/idle.cpp — how a worker with nothing to run looks for tasks and sleeps,
// and whom a pusher wakes: the spinners, the sleeper set and the hand-over between them.
//
// - A worker with nothing to run becomes a *spinner* (counted in _spinning; at most
//   _max_spinning by their own choice, one per CPU) and looks for tasks for spin_time,
//   a few cores per look. One that may not spin, or whose spin found nothing, joins the
//   *sleeper set* (_sleepers) and, after full_fence(), makes a *last look* at every core
//   before it sleeps.
// - A pusher stores its task, calls full_fence() and wakes a sleeper when someone
//   sleeps and nobody spins. try_wake() counts the woken worker as a spinner before it
//   runs, so the pushes that follow wake nobody more: a burst of tasks wakes one worker,
//   not one per task (no thundering herd). A pusher that leaves a sleeper asleep because
//   a spinner looks sets _wake_skipped (wake_after_push()).
// - No task is lost: a pusher that skipped the wake-up saw a spinner counted whose
//   decrement (seq_cst) comes later. That spinner decrements either on its way to sleep,
//   before the fence of its last look, which then sees the task (the Dekker pair of
//   the two full_fence()s), or because it found a task or got a command; then,
//   if it is the last spinner and _wake_skipped is set or a task is still queued, it
//   wakes a sleeper, who is a spinner from then on (hand_over_search(); Go's scheduler
//   hands over the same way, unconditionally). The flag and _spinning form a second
//   Dekker pair (all seq_cst): the pusher stores the flag and then reads _spinning, the
//   spinner decrements _spinning and then reads the flag; either the pusher sees no
//   spinner left and wakes a sleeper itself, or the spinner sees the flag. With nothing
//   skipped and nothing queued nobody hands over: a lone task wakes one worker, not two.
// - activate() puts a worker that waits for its next command in the sleeper set
//   (sleep_parked, join_parked()) instead of waking it; its core has nothing queued yet
//   (its inboxes open after), so it needs no last look. A waker takes it out as any
//   sleeper (parked_woken), and deactivate() takes back one that slept throughout
//   (parked_claimed). The worker settles before it acts on a command (settle_parked()).
#include <algorithm>
#include <chrono>
#include <thread>

#include "sched/futex.h"
#include "sched/scheduler.h"

namespace hotcore::detail {
namespace {
// A spinner keeps looking for tasks before it sleeps: first with pauses, then yielding
// its CPU between looks (to a thread that wants it more), for the scheduler's idle spin
// in all (set_idle_spin(); runtime_options::idle_spin, 50 us by default). The pause phase is kept short because it does not give the CPU away: with 20
// us, the core's own hotplug thread, woken on the same CPU, waited for it (sched:active
// up took 24 us in `hotcore cycle`; with 2 us it takes 0.3 us, and sched_bench's
// fork-join ratios did not move).
constexpr auto pause_time = std::chrono::microseconds(2);
// Round-robin start of wake_one()'s look for a sleeper (per thread, no shared counter).
__attribute__((tls_model("initial-exec"))) thread_local unsigned tls_wake_start = 0;
}  // namespace

// ---- the pushers' side

void scheduler::wake_after_push(worker* prefer, const worker* exclude) noexcept {
  // relaxed: the caller pushed and then called full_fence(), which with the sleepers'
  // full_fence() orders these loads after its push (see the top of this file).
  if (_sleepers.load(std::memory_order_relaxed) == 0) return;
  if (_spinning.load(std::memory_order_relaxed) != 0) {
    // relaxed: already set, a spinner's hand-over stands for this push too: it wakes a
    // sleeper whose last look, after full_fence(), sees the push.
    if (_wake_skipped.load(std::memory_order_relaxed)) return;
    // seq_cst store, then seq_cst load: the Dekker pair with hand_over_search().
    _wake_skipped.store(true, std::memory_order_seq_cst);
    if (_spinning.load(std::memory_order_seq_cst) != 0) return;
  }
  wake_one(prefer, exclude);
}

void scheduler::notify(const worker* self) noexcept {
  full_fence();
  wake_after_push(nullptr, self);
}

bool scheduler::try_wake(worker& w) noexcept {
  // relaxed: the CAS below decides; a stale kind only makes it fail.
  std::uint32_t kind = w.sleeping.load(std::memory_order_relaxed);
  if (kind == 0 || kind > sleep_parked) return false;  // not in the set
  // A worker activate() put in the set learns from the word that it was woken.
  const std::uint32_t out = kind == sleep_parked ? std::uint32_t{parked_woken} : 0u;
  // seq_cst: exactly one of the wakers / the worker itself takes it out of the set (an
  // acq_rel RMW would do for that); seq_cst also for activate(), which stores the command
  // and then looks for parked_woken (see there).
  if (!w.sleeping.compare_exchange_strong(kind, out, std::memory_order_seq_cst,
                                          std::memory_order_relaxed))
    return false;
  // seq_cst: the woken worker is a spinner from now on (it sets worker::spinning when it
  // sees itself woken); every change of _spinning is seq_cst, one order with the
  // decrements the protocol relies on. Counted before it leaves _sleepers, so pushers
  // in between see a spinner rather than nobody.
  _spinning.fetch_add(1, std::memory_order_seq_cst);
  // relaxed: a count for the pushers' quick check; the CAS above is the real hand-off.
  _sleepers.fetch_sub(1, std::memory_order_relaxed);
  wake_sleeper(w, kind);
  return true;
}

void scheduler::wake_one(worker* prefer, const worker* exclude) noexcept {
  // relaxed loads of sleeping: hints; try_wake()'s CAS decides.
  if (prefer != nullptr && prefer->sleeping.load(std::memory_order_relaxed) != 0 &&
      try_wake(*prefer))
    return;
  const unsigned n = static_cast<unsigned>(_workers.size());
  const unsigned start = tls_wake_start++;
  for (unsigned i = 0; i < n; ++i) {
    worker* w = _workers[(start + i) % n].get();
    if (w == prefer || w == exclude) continue;
    if (w->sleeping.load(std::memory_order_relaxed) != 0 && try_wake(*w)) return;
  }
}

// ---- the spinners' side

bool scheduler::try_spin(worker& w) noexcept {
  if (w.spinning) return true;  // woken: try_wake() counted us already
  // relaxed: a first guess for the CAS.
  int s = _spinning.load(std::memory_order_relaxed);
  while (s < _max_spinning)
    // seq_cst: see try_wake(); relaxed on failure: only a new guess.
    if (_spinning.compare_exchange_weak(s, s + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
      w.spinning = true;
      return true;
    }
  return false;
}

void scheduler::stop_spinning(worker& w) noexcept {
  w.spinning = false;
  // seq_cst: ordered before hand_over_search()'s loads (see there).
  _spinning.fetch_sub(1, std::memory_order_seq_cst);
  hand_over_search(w);
}

// hand_over_search() runs after a spinner stopped looking without a last look that found
// nothing. When it was the last spinner, someone sleeps and there is more to do (a pusher
// skipped a wake-up, or a task is queued), it wakes a sleeper to look on: a chain of
// hand-overs runs while tasks wait, also when each of them blocks its worker.
void scheduler::hand_over_search(worker& w) noexcept {
  // seq_cst loads after our seq_cst decrement: the Dekker pair with wake_after_push().
  const bool skipped = _wake_skipped.load(std::memory_order_seq_cst);
  // A spinner still counted stands for the rest: it comes here when it stops.
  if (_spinning.load(std::memory_order_seq_cst) != 0) return;
  // seq_cst: one stopping spinner takes the flag; it is in the same single order.
  bool more = skipped && _wake_skipped.exchange(false, std::memory_order_seq_cst);
  if (!more) more = work_visible();
  // seq_cst: a worker that joins the sleeper set after this load makes its last look
  // after the pushes above; one counted here is woken.
  if (more && _sleepers.load(std::memory_order_seq_cst) != 0) wake_one(nullptr, &w);
}

// join_sleepers() puts the worker in the sleeper set, drops its spinner's count and
// fences: whatever was pushed before a pusher's full_fence() that did not see it here
// is seen by its last look. True when the worker was a spinner.
bool scheduler::join_sleepers(worker& w, std::uint32_t kind) noexcept {
  // seq_cst: see command().
  w.sleeping.store(kind, std::memory_order_seq_cst);
  // seq_cst: an RMW the pushers' relaxed loads will see once full_fence() returned.
  _sleepers.fetch_add(1, std::memory_order_seq_cst);
  const bool was_spinning = w.spinning;
  if (was_spinning) {
    w.spinning = false;
    // seq_cst: see try_wake(); the last look after full_fence() replaces the hand-over.
    _spinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  full_fence();
  return was_spinning;
}

// leave_sleepers() takes the worker out of the sleeper set before it sleeps; a spinner
// that leaves without a last look that found nothing hands over.
void scheduler::leave_sleepers(worker& w, bool was_spinning) noexcept {
  cancel_sleep(w);
  // A worker woken meanwhile is a spinner again: worker_main() hands over for it.
  if (was_spinning && !w.spinning) hand_over_search(w);
}

// last_look() looks at every core once; a task found means the worker does not sleep.
task_node* scheduler::last_look(worker& w, bool was_spinning) {
  task_node* t = find_work(w.ctx, /*full=*/true);
  if (t != nullptr) leave_sleepers(w, was_spinning);
  return t;
}

// ---- a worker in the sleeper set while it waits for its command (worker.cpp)

bool scheduler::join_parked(worker& w) noexcept {
  // seq_cst: counted before it is in the set (a pusher may count one sleeper too many for
  // a moment and find nobody to wake, never one too few).
  _sleepers.fetch_add(1, std::memory_order_seq_cst);
  // relaxed: a first guess; the CAS decides against the worker's settle_parked().
  std::uint32_t k = w.sleeping.load(std::memory_order_relaxed);
  // The worker waits for its next command: the word is 0, or parked_claimed when the
  // worker has not settled since the last deactivate(). seq_cst: in the set before the
  // command that activate() stores next (a worker that reads that command sees it here).
  while (k == 0 || k == parked_claimed)
    if (w.sleeping.compare_exchange_weak(k, sleep_parked, std::memory_order_seq_cst,
                                         std::memory_order_relaxed))
      return true;
  _sleepers.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in try_wake()
  return false;
}

bool scheduler::claim_parked(worker& w) noexcept {
  std::uint32_t k = sleep_parked;
  // acq_rel: races try_wake() and settle_parked(); whoever wins takes the worker out of
  // the set. The release orders the caller's command before it: a worker that finds the
  // word claimed reads that command next.
  if (!w.sleeping.compare_exchange_strong(k, parked_claimed, std::memory_order_acq_rel,
                                          std::memory_order_relaxed))
    return false;
  _sleepers.fetch_sub(1, std::memory_order_relaxed);  // relaxed: as in try_wake()
  return true;
}

bool scheduler::settle_parked(worker& w, bool leave) noexcept {
  // relaxed: a first guess. The command the worker read (acquire) orders the CAS that put
  // it in the set before this load; the CAS below reads the latest value.
  std::uint32_t k = w.sleeping.load(std::memory_order_relaxed);
  while (k >= sleep_parked) {
    // A worker that stays parked stays in the set: the CAS only reads the latest value.
    const std::uint32_t to = k == sleep_parked && !leave ? std::uint32_t{sleep_parked} : 0u;
    // acq_rel: races try_wake() and claim_parked() while k is sleep_parked, and acquires
    // their command; relaxed on failure: k is only the next guess.
    if (!w.sleeping.compare_exchange_weak(k, to, std::memory_order_acq_rel,
                                          std::memory_order_relaxed))
      continue;
    if (k == sleep_parked && leave) _sleepers.fetch_sub(1, std::memory_order_relaxed);  // as above
    if (k == parked_woken) w.spinning = true;  // try_wake() counted us as a spinner
    return k == parked_claimed;
  }
  return false;
}

void scheduler::cancel_sleep(worker& w) noexcept {
  // relaxed: only this thread makes it non-zero; the CAS below decides.
  std::uint32_t kind = w.sleeping.load(std::memory_order_relaxed);
  // acq_rel: races try_wake(); whoever wins takes the worker out of the count.
  if (kind != 0 && w.sleeping.compare_exchange_strong(kind, 0, std::memory_order_acq_rel,
                                                      std::memory_order_relaxed)) {
    _sleepers.fetch_sub(1, std::memory_order_relaxed);  // relaxed: see try_wake()
    return;
  }
  w.spinning = true;  // a waker took us out first and counted us as a spinner
}

// idle() spins for a while looking for tasks, then sleeps until a pusher or a command
// wakes it. Returns a task, or null to go round the main loop again.
task_node* scheduler::idle(worker& w, std::uint32_t cmd) {
  // relaxed: a tuning value; a stale one only changes how long this one idle period spins.
  const std::chrono::nanoseconds spin_time(_idle_spin_ns.load(std::memory_order_relaxed));
  if (try_spin(w)) {
    const auto start = std::chrono::steady_clock::now();
    for (unsigned round = 0;; ++round) {
      const auto spent = round < 6 ? std::chrono::steady_clock::duration{}
                                   : std::chrono::steady_clock::now() - start;
      if (spent >= spin_time) break;
      if (spent > pause_time)
        std::this_thread::yield();
      else
        for (unsigned i = 0, n = 1u << std::min(round, 6u); i < n; ++i) cpu_relax();
      // relaxed: a quick check; the sleep path below re-reads with seq_cst.
      if (w.command.load(std::memory_order_relaxed) != cmd) return nullptr;
      if (task_node* t = find_work(w.ctx)) return t;
      if (poll_all(w) != 0) return nullptr;  // go round: it may have made work
    }
  }
  // relaxed: a hint written by attach/detach under their mutex; a poller attached after
  // this look is not lost, attach_poller() wakes the worker.
  if (w.poller_count.load(std::memory_order_relaxed) != 0) return sleep_on_fds(w, cmd);
  bool was_spinning = join_sleepers(w, sleep_futex);
  for (;;) {
    // seq_cst: see command().
    if (w.command.load(std::memory_order_seq_cst) != cmd) break;
    if (task_node* t = last_look(w, was_spinning)) return t;
    was_spinning = false;  // the look found nothing: nothing it stood for is left
    futex_wait(w.sleeping, sleep_futex);
    // acquire: pairs with try_wake()'s CAS.
    if (w.sleeping.load(std::memory_order_acquire) == 0) {
      w.spinning = true;  // try_wake() counted us as a spinner
      return nullptr;
    }
  }
  leave_sleepers(w, was_spinning);
  return nullptr;
}

}  // namespace hotcore::detail
