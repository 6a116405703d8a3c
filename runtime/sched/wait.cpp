// SPDX-License-Identifier: MIT
// runtime/sched/wait.cpp — task_group's side of the scheduler: spawn() and wait_group(),
// the waiting thread that helps (a worker, or an outside thread lent a helper deque), and
// this_core().
#include <chrono>
#include <climits>
#include <thread>

#include "sched/futex.h"
#include "sched/scheduler.h"

namespace hotcore {

int this_core() noexcept {
  const detail::thread_ctx* c = detail::tls_ctx;
  return c != nullptr ? c->core : -1;
}

namespace detail {
namespace {
// How long a waiter with nothing to run keeps looking for tasks (pausing, then yielding
// its CPU between looks) before it sleeps on the group. While asleep it takes no other
// work and costs a wake-up (tens of us on a VM) when the group finishes, so it spins as
// long as an idle worker does: the group's last task is often a stolen subtree of that
// order.
constexpr auto wait_pause_time = std::chrono::microseconds(20);
constexpr auto wait_spin_time = std::chrono::microseconds(500);
}  // namespace

void spawn(scheduler& s, task_node* node) { s.spawn(node); }
void wait_group(scheduler& s, group_state& g) noexcept { s.wait(g); }

helper_slot* scheduler::acquire_helper() {
  // relaxed: a starting guess for the CAS.
  std::uint32_t mask = _helper_mask.load(std::memory_order_relaxed);
  while (mask != (1u << helper_slots) - 1) {
    const unsigned i = static_cast<unsigned>(__builtin_ctz(~mask));
    // acq_rel: acquire the slot from its last user's release (its deque is empty and
    // quiet); release so thieves that see the bit see the slot as ours.
    if (_helper_mask.compare_exchange_weak(mask, mask | (1u << i), std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
      return &_helpers[i];
  }
  // Every shared slot is taken: a private one (not stolen from; its owner runs it all).
  auto* h = new helper_slot;
  h->ctx.sched = this;
  h->ctx.deque = &h->deque;
  h->ctx.counters = &_external[0];
  return h;
}

void scheduler::release_helper(helper_slot* h) noexcept {
  // Normally empty: what a waiter spawns belongs to groups it waits for. A task that ran
  // another group's run() from here left it behind: queue it where workers find it.
  while (task_node* n = h->deque.pop()) push_external(n);
  if (h->index < 0) {
    delete h;
    return;
  }
  // release: see acquire_helper().
  _helper_mask.fetch_and(~(1u << static_cast<unsigned>(h->index)), std::memory_order_release);
}

void scheduler::wait(group_state& g) noexcept {
  thread_ctx* const saved = tls_ctx;
  thread_ctx* c = saved;
  helper_slot* h = nullptr;
  if (c == nullptr || c->sched != this || c->deque == nullptr) {
    // acquire: a quick way out for a group that is already done (no slot needed).
    if ((g.word.load(std::memory_order_acquire) & ~group_state::waiting_bit) == 0) return;
    h = acquire_helper();
    c = &h->ctx;
    tls_ctx = c;
  }
  wait_loop(*c, g);
  if (h != nullptr) {
    tls_ctx = saved;
    release_helper(h);
  }
}

// wait_loop() runs tasks until the group's count is 0 (the group's own tasks are usually
// on top of our deque); with nothing to run it spins a little, then sleeps on the group.
void scheduler::wait_loop(thread_ctx& c, group_state& g) noexcept {
  constexpr std::uint32_t count_mask = ~group_state::waiting_bit;
  auto idle_since = std::chrono::steady_clock::time_point{};
  unsigned idle_rounds = 0;
  for (;;) {
    // acquire: pairs with the last task's acq_rel decrement; after wait() the caller
    // sees everything the group's tasks did.
    if ((g.word.load(std::memory_order_acquire) & count_mask) == 0) break;
    if (task_node* n = find_work(c)) {
      run_task(*c.counters, n);
      idle_rounds = 0;
      continue;
    }
    if (idle_rounds == 0) idle_since = std::chrono::steady_clock::now();
    const auto spent = idle_rounds < 6 ? std::chrono::steady_clock::duration{}
                                       : std::chrono::steady_clock::now() - idle_since;
    if (spent < wait_spin_time) {
      if (spent > wait_pause_time)
        std::this_thread::yield();
      else
        for (unsigned i = 0, k = 1u << std::min(idle_rounds, 6u); i < k; ++i) cpu_relax();
      ++idle_rounds;
      continue;
    }
    // acq_rel: announce the sleeper; the task whose decrement sees count 1 with this bit
    // wakes us (its RMW comes after ours in the word's modification order).
    const std::uint32_t v = g.word.fetch_or(group_state::waiting_bit, std::memory_order_acq_rel);
    if ((v & count_mask) == 0) break;
    futex_wait(g.word, v | group_state::waiting_bit);
    idle_rounds = 0;
  }
  // relaxed: the count is 0, no task of the group is left to touch the word.
  if (g.word.load(std::memory_order_relaxed) & group_state::waiting_bit)
    g.word.fetch_and(count_mask, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace hotcore
