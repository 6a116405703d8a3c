// SPDX-License-Identifier: MIT
// runtime/sched/scheduler.cpp — where tasks go and where workers find them: submit and
// spawn, the injection and orphan queues, stealing between active cores (a few at a time),
// running a task, and shutdown's wait for every accepted task.
#include "sched/scheduler.h"
#include "chaos.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <exception>
#include <thread>

#include "sched/futex.h"

namespace hotcore::detail {

__attribute__((tls_model("initial-exec"))) thread_local thread_ctx* tls_ctx = nullptr;

namespace {
// The core this thread last queued a task on (push_to_active() starts there), and the
// round-robin start of an outside thread's steals: per thread, no shared counter.
__attribute__((tls_model("initial-exec"))) thread_local unsigned tls_push_core = 0;
__attribute__((tls_model("initial-exec"))) thread_local unsigned tls_steal_start = 0;
// An outside thread's counter slot number, handed out once per thread.
__attribute__((tls_model("initial-exec"))) thread_local unsigned tls_slot = UINT_MAX;
std::atomic<unsigned> next_slot{0};

// inbox_period: a worker busy with its own deque still looks at its injection queue every
// this many tasks, so tasks from outside are not starved by a long fork-join.
constexpr unsigned inbox_period = 61;

// steal_tries: the cores a thread with nothing to run tries per look, from a random one
// on, as oneTBB and Cilk do. Trying every core makes a look cost O(cores) and, with many
// idle workers, O(cores^2) in all; a worker that found nothing in its spin still makes
// one full look before it sleeps (idle.cpp), so bounding the spin's looks loses nothing.
constexpr unsigned steal_tries = 4;
}  // namespace

worker::worker(scheduler& s, unsigned core_, unsigned cpu_, unsigned index_)
    : core(core_), cpu(cpu_), index(index_), rng(core_ * 2654435761u + 0x9e3779b9u) {
  ctx.sched = &s;
  ctx.deque = &deque;
  ctx.counters = &counters;
  ctx.w = this;
  ctx.core = static_cast<int>(core_);
}

scheduler::scheduler(const std::vector<unsigned>& cores, const std::vector<unsigned>& cpus) {
  _by_core.assign(cores.empty() ? 0 : cores.back() + 1, nullptr);
  for (unsigned i = 0; i < cores.size(); ++i) {
    _workers.push_back(std::make_unique<worker>(*this, cores[i], cpus[i], i));
    _by_core[cores[i]] = _workers.back().get();
  }
  std::vector<unsigned> distinct(cpus);
  std::sort(distinct.begin(), distinct.end());
  _max_spinning = std::max(1, static_cast<int>(std::unique(distinct.begin(), distinct.end()) -
                                               distinct.begin()));
  for (unsigned i = 0; i < helper_slots; ++i) {
    helper_slot& h = _helpers[i];
    h.index = static_cast<int>(i);
    h.ctx.sched = this;
    h.ctx.deque = &h.deque;
    h.ctx.counters = &h.counters;
  }
  _orphans.open();
}

scheduler::~scheduler() { stop(); }

worker* scheduler::find(unsigned core) const noexcept {
  return core < _by_core.size() ? _by_core[core] : nullptr;
}

counter_slot& scheduler::my_counters() noexcept {
  thread_ctx* c = tls_ctx;
  if (c != nullptr && c->sched == this) return *c->counters;
  // relaxed: only hands out distinct-ish numbers.
  if (tls_slot == UINT_MAX) tls_slot = next_slot.fetch_add(1, std::memory_order_relaxed);
  return _external[tls_slot % external_slots];
}

void scheduler::drop(task_node* node) noexcept {
  node->ops->drop(node);
  task_free(node);
}

bool scheduler::in_task() const noexcept {
  const thread_ctx* c = tls_ctx;
  return c != nullptr && c->sched == this;
}

int scheduler::this_core() const noexcept {
  const thread_ctx* c = tls_ctx;
  return c != nullptr && c->sched == this ? c->core : -1;
}

// ---- submitting

int scheduler::submit(task_node* node, where w, unsigned core) noexcept {
  const bool pinned = w == on_core;
  worker* target = nullptr;
  if (pinned && (target = find(core)) == nullptr) {
    drop(node);
    return -EINVAL;
  }
  node->flags |= task_node::root;
  counter_slot& counters = my_counters();
  // seq_cst: a Dekker pair with shutdown(), which stores _closing and then scans the
  // counters (all seq_cst): either its scan counts this submission, or we see _closing.
  counters.submitted.fetch_add(1, std::memory_order_seq_cst);
  HOTCORE_CHAOS_POINT("submit");
  int err = 0;
  if (_closing.load(std::memory_order_seq_cst)) {
    err = -ESHUTDOWN;
  } else if (pinned) {
    // acquire: a hint paired with activate(); the push decides (it fails once the inbox
    // is closed by the core's drain).
    if (!target->active.load(std::memory_order_acquire) || !target->pinned.push(node)) {
      err = -ENODEV;
    } else {
      full_fence();
      // relaxed: ordered after the push by full_fence() on both sides.
      if (target->sleeping.load(std::memory_order_relaxed) != 0) try_wake(*target);
    }
  } else {
    thread_ctx* c = tls_ctx;
    if (c != nullptr && c->sched == this && c->w != nullptr && c->w->open()) {
      c->w->deque.push(node);
      notify(c->w);
    } else {
      push_external(node);
    }
  }
  if (err != 0) {
    drop(node);
    // seq_cst: the cancelled submission counts as completed, in the same order as above.
    counters.completed.fetch_add(1, std::memory_order_seq_cst);
  }
  return err;
}

void scheduler::spawn(task_node* node) {
  thread_ctx* c = tls_ctx;
  if (c != nullptr && c->sched == this && c->deque != nullptr) {
    c->deque->push(node);
    notify(c->w);
    return;
  }
  push_external(node);
}

worker* scheduler::push_to_active(task_node* node, const worker* exclude) {
  const unsigned n = static_cast<unsigned>(_workers.size());
  // An outside thread prefers the core of the CPU it runs on: waking a worker there is a
  // local wake-up, where one on another CPU costs an inter-processor interrupt (on these
  // VMs 30-45 us against about 4 us, measured by sched_bench's wake_latency), and the
  // task's data is still in this CPU's cache. Among those it prefers an awake worker,
  // starting from the one it pushed to last: a burst of tasks goes to one awake worker
  // (the others steal from it) rather than waking a worker per task.
  // Passes: 0 an awake core on this CPU among the next steal_tries from the last one,
  // 1 any core on this CPU, 2 a core on another CPU.
  const int here = n > 1 ? ::sched_getcpu() : -1;
  const unsigned start = tls_push_core < n ? tls_push_core : 0;
  for (unsigned pass = 0; pass < 3; ++pass)
    for (unsigned i = 0, index = start; i < (pass == 0 ? std::min(n, steal_tries) : n);
         ++i, index = index + 1 == n ? 0 : index + 1) {
      worker* w = _workers[index].get();
      if (w == exclude || (pass < 2) != (static_cast<int>(w->cpu) == here)) continue;
      // relaxed: a hint; a sleeping worker is still a valid target (pass 1).
      if (pass == 0 && w->sleeping.load(std::memory_order_relaxed) != 0) continue;
      // acquire: a hint paired with activate(); a closed inbox refuses the push anyway.
      if (!w->active.load(std::memory_order_acquire)) continue;
      if (!w->shared.push(node)) continue;
      tls_push_core = index;
      full_fence();
      wake_after_push(w, nullptr);
      return w;
    }
  return nullptr;
}

void scheduler::push_external(task_node* node) {
  if (!push_to_active(node, nullptr)) park_orphan(node);
}

bool scheduler::any_active() const noexcept {
  for (const auto& w : _workers)
    // seq_cst: Dekker with activate() in park_orphan()/adopt_orphans().
    if (w->active.load(std::memory_order_seq_cst)) return true;
  return false;
}

// park_orphan() keeps a task while no core is active; the next activate() adopts it.
void scheduler::park_orphan(task_node* node) {
  (void)_orphans.push(node);  // the orphan inbox is never closed
  // full fence: Dekker with activate(), which stores active (seq_cst) and then adopts
  // the orphans: either it sees our push, or we see its core active.
  full_fence();
  if (any_active()) adopt_orphans();
}

void scheduler::adopt_orphans() {
  for (;;) {
    task_node* list = _orphans.take_all();
    if (list == nullptr) return;
    bool parked_again = false;
    while (list != nullptr) {
      task_node* n = list;
      list = n->next;
      if (!push_to_active(n, nullptr)) {
        (void)_orphans.push(n);
        parked_again = true;
      }
    }
    if (!parked_again) return;
    // full fence: as in park_orphan().
    full_fence();
    if (!any_active()) return;
  }
}

// ---- finding work

task_node* scheduler::take_pinned(worker& w) noexcept {
  if (w.pinned_head == nullptr) {
    task_node* list = w.pinned.take_all();  // newest first: reverse into FIFO order
    if (list == nullptr) return nullptr;
    task_node* fifo = nullptr;
    while (list != nullptr) {
      task_node* n = list;
      list = n->next;
      n->next = fifo;
      fifo = n;
    }
    w.pinned_head = fifo;
  }
  task_node* n = w.pinned_head;
  w.pinned_head = n->next;
  return n;
}

// take_list() takes over an inbox list (newest first): it returns the oldest node to run
// now and pushes the others on the deque, oldest on top, so they pop in FIFO order and
// thieves take the newest. Other workers are told only if something was pushed.
task_node* scheduler::take_list(thread_ctx& c, task_node* list) {
  if (list == nullptr) return nullptr;
  bool pushed = false;
  while (list->next != nullptr) {
    task_node* n = list;
    list = n->next;
    c.deque->push(n);
    pushed = true;
  }
  if (pushed) notify(c.w);
  return list;
}

task_node* scheduler::find_work(thread_ctx& c, bool full) {
  if (worker* w = c.w; w != nullptr) {
    const bool open = w->open();
    if (open) {
      if (task_node* n = take_pinned(*w)) return n;
      if (++w->since_inbox >= inbox_period) {
        w->since_inbox = 0;
        if (task_node* n = take_list(c, w->shared.take_all())) return n;
      }
    }
    if (task_node* n = w->deque.pop()) return n;
    if (open) {
      if (task_node* n = take_list(c, w->shared.take_all())) return n;
    }
  } else if (c.deque != nullptr) {
    if (task_node* n = c.deque->pop()) return n;
  }
  return steal(c, full);
}

// steal() takes a task queued elsewhere; a worker counts it.
task_node* scheduler::steal(thread_ctx& c, bool full) {
  const auto n = static_cast<unsigned>(_workers.size());
  task_node* t = steal_from_others(c, full ? n : std::min(n, steal_tries));
  if (t != nullptr && c.w != nullptr)
    // relaxed load and store: only this worker writes the counter (see worker::stolen).
    c.w->stolen.store(c.w->stolen.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return t;
}

scheduler::task_counts scheduler::counts(unsigned core) const noexcept {
  const worker* w = find(core);
  if (w == nullptr) return {};
  // seq_cst for completed: the order shutdown() reads it in; relaxed for the statistics.
  return {w->counters.completed.load(std::memory_order_seq_cst),
          w->stolen.load(std::memory_order_relaxed), w->moved.load(std::memory_order_relaxed)};
}

// steal_from_others() tries `tries` cores from a random one on.
task_node* scheduler::steal_from_others(thread_ctx& c, unsigned tries) {
  const unsigned n = static_cast<unsigned>(_workers.size());
  unsigned start;
  if (c.w != nullptr) {
    c.w->rng ^= c.w->rng << 13;
    c.w->rng ^= c.w->rng >> 17;
    c.w->rng ^= c.w->rng << 5;
    start = c.w->rng;
  } else {
    start = tls_steal_start++;
  }
  // Deques of the other active cores first (the oldest, biggest pieces of work)...
  for (unsigned i = 0; i < tries; ++i) {
    worker* v = _workers[(start + i) % n].get();
    if (v == c.w) continue;
    // acquire: pairs with activate(); steal only from cores that take tasks.
    if (!v->active.load(std::memory_order_acquire)) continue;
    HOTCORE_CHAOS_POINT("steal");
    if (task_node* t = v->deque.steal()) return t;
  }
  if (c.deque == nullptr) return nullptr;
  // ...then their injection queues...
  for (unsigned i = 0; i < tries; ++i) {
    worker* v = _workers[(start + i) % n].get();
    // acquire: as above.
    if (v == c.w || !v->active.load(std::memory_order_acquire)) continue;
    if (task_node* t = take_list(c, v->shared.take_all())) return t;
  }
  // ...then the deques of outside threads helping in wait()...
  // acquire: pairs with acquire_helper()'s release, so the slot's deque is in use.
  std::uint32_t mask = _helper_mask.load(std::memory_order_acquire);
  while (mask != 0) {
    const int i = __builtin_ctz(mask);
    mask &= mask - 1;
    helper_slot& h = _helpers[static_cast<unsigned>(i)];
    if (&h.deque == c.deque) continue;
    if (task_node* t = h.deque.steal()) return t;
  }
  // ...then tasks submitted while no core was active.
  if (!_orphans.empty())
    if (task_node* t = take_list(c, _orphans.take_all())) return t;
  return nullptr;
}

bool scheduler::work_visible() const noexcept {
  for (const auto& w : _workers)
    // relaxed: a hint for hand_over_search(); a core that is not active takes no tasks.
    if (w->active.load(std::memory_order_relaxed) && (!w->deque.empty() || !w->shared.empty()))
      return true;
  // relaxed: a hint, as above.
  for (std::uint32_t mask = _helper_mask.load(std::memory_order_relaxed); mask != 0;
       mask &= mask - 1)
    if (!_helpers[static_cast<unsigned>(__builtin_ctz(mask))].deque.empty()) return true;
  return !_orphans.empty();
}

// ---- running

void scheduler::run_task(counter_slot& counters, task_node* node) noexcept {
  group_state* g = node->group;
  const bool root = (node->flags & task_node::root) != 0;
  try {
    node->ops->run(node);
  } catch (...) {
    if (g == nullptr) std::terminate();  // submit()/submit_on(): nobody to report to
    // acq_rel: the first failing task wins; its store of error is published to the
    // waiter by the group decrement below (release).
    if (!g->failed.exchange(true, std::memory_order_acq_rel)) g->error = std::current_exception();
  }
  task_free(node);
  if (g != nullptr) {
    // acq_rel: release publishes the task's effects to the waiter (acquire load of 0);
    // acquire chains the earlier decrements so the waiter sees every task's effects.
    const std::uint32_t prev = g->word.fetch_sub(1, std::memory_order_acq_rel);
    // After the decrement the group may be gone: futex_wake() only uses the address.
    if (prev == (1u | group_state::waiting_bit)) futex_wake(g->word, INT_MAX);
  }
  // seq_cst: shutdown()'s scan; see submit().
  if (root) counters.completed.fetch_add(1, std::memory_order_seq_cst);
}

// ---- shutdown

bool scheduler::quiescent() const noexcept {
  // All completed counts first, then all submitted counts (seq_cst, one total order):
  // a completion is always ordered after its submission, so equal sums mean that at the
  // moment between the two scans every submitted root task had completed.
  std::uint64_t done = 0, submitted = 0;
  for (const auto& w : _workers) done += w->counters.completed.load(std::memory_order_seq_cst);
  for (const auto& h : _helpers) done += h.counters.completed.load(std::memory_order_seq_cst);
  for (const auto& s : _external) done += s.completed.load(std::memory_order_seq_cst);
  for (const auto& w : _workers)
    submitted += w->counters.submitted.load(std::memory_order_seq_cst);
  for (const auto& h : _helpers) submitted += h.counters.submitted.load(std::memory_order_seq_cst);
  for (const auto& s : _external) submitted += s.submitted.load(std::memory_order_seq_cst);
  return done == submitted;
}

int scheduler::shutdown() noexcept {
  if (in_task()) return -EDEADLK;  // the calling task itself would never complete
  // seq_cst: see submit().
  _closing.store(true, std::memory_order_seq_cst);
  for (unsigned round = 0;; ++round) {
    if (quiescent()) return 0;
    if (!any_active()) {
      // No core takes tasks (online_at_start = false): run the orphans here.
      while (task_node* list = _orphans.take_all())
        while (list != nullptr) {
          task_node* n = list;
          list = n->next;
          run_task(my_counters(), n);
        }
    }
    if (round < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(round < 256 ? 50 : 500));
  }
}

}  // namespace hotcore::detail
