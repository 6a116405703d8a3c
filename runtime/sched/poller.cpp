// SPDX-License-Identifier: MIT
// runtime/sched/poller.cpp — core pollers (hotcore/core_poller.h) on a core's worker:
// attaching and detaching them, the polling pass between tasks, and the idle sleep in
// ppoll() on their fds and deadlines instead of the futex.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <thread>

#include "clock.h"
#include "sched/futex.h"
#include "sched/scheduler.h"

namespace hotcore::detail {
worker::~worker() {
  // relaxed: the worker thread is joined; nothing else uses the fd.
  if (const int fd = wake_event.load(std::memory_order_relaxed); fd >= 0) ::close(fd);
}

int scheduler::attach_poller(unsigned core, core_poller* p) {
  worker* w = find(core);
  if (w == nullptr || p == nullptr) return -EINVAL;
  {
    std::lock_guard lk(w->poller_mutex);
    int free_slot = -1;
    for (unsigned i = 0; i < worker::max_pollers; ++i) {
      // relaxed: slots are only written under poller_mutex, which we hold.
      core_poller* q = w->pollers[i].load(std::memory_order_relaxed);
      if (q == p) return -EEXIST;
      if (q == nullptr && free_slot < 0) free_slot = static_cast<int>(i);
    }
    if (free_slot < 0) return -ENOSPC;
    // relaxed: written under the mutex; published by the release store below.
    if (w->wake_event.load(std::memory_order_relaxed) < 0) {
      const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (fd < 0) return -errno;
      // release: the worker reads it (acquire) before it sleeps in ppoll().
      w->wake_event.store(fd, std::memory_order_release);
    }
    w->poller_fds[static_cast<unsigned>(free_slot)] = p->wake_fd();
    // seq_cst: publishes poller_fds to the worker's pass (which loads the slot seq_cst),
    // and is one half of the Dekker pair detach_poller() describes.
    w->pollers[static_cast<unsigned>(free_slot)].store(p, std::memory_order_seq_cst);
    // relaxed: a hint; the kick below makes a sleeping worker look at the slots.
    w->poller_count.fetch_add(1, std::memory_order_relaxed);
  }
  kick(core);
  return 0;
}

int scheduler::detach_poller(unsigned core, core_poller* p) {
  worker* w = find(core);
  if (w == nullptr || p == nullptr) return -EINVAL;
  {
    std::lock_guard lk(w->poller_mutex);
    unsigned i = 0;
    // relaxed: slots are only written under poller_mutex, which we hold.
    while (i < worker::max_pollers && w->pollers[i].load(std::memory_order_relaxed) != p) ++i;
    if (i == worker::max_pollers) return -ENOENT;
    // seq_cst: Dekker with poll_all(): it bumps poll_seq and then loads the slots, we
    // clear the slot and then load poll_seq. Either its pass no longer sees p, or we see
    // the pass (odd poll_seq) and wait for it to end.
    w->pollers[i].store(nullptr, std::memory_order_seq_cst);
    w->poller_count.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a hint
  }
  // On the worker itself (a task, or another poller's poll()) no pass of ours can be
  // running p concurrently: do not wait for ourselves.
  if (tls_ctx != &w->ctx) {
    // seq_cst: see above.
    const std::uint32_t seq = w->poll_seq.load(std::memory_order_seq_cst);
    if ((seq & 1u) != 0)
      // acquire: pairs with the pass's release end, so what p->poll() did happens before
      // the caller destroys p. poll() does not block, so this wait is short.
      while (w->poll_seq.load(std::memory_order_acquire) == seq) std::this_thread::yield();
  }
  kick(core);  // a worker asleep on p's fd builds its set again
  return 0;
}

void scheduler::kick(unsigned core) noexcept {
  worker* w = find(core);
  if (w == nullptr) return;
  // full fence: what the caller did just before (armed an earlier timer) is ordered before
  // our look at `sleeping`; the worker raises `sleeping` (seq_cst, then full_fence())
  // before it reads the deadlines. Either it sees the new deadline or we see it asleep.
  full_fence();
  // relaxed: ordered by the fence; try_wake()'s CAS decides.
  if (w->sleeping.load(std::memory_order_relaxed) != 0) (void)try_wake(*w);
}

unsigned scheduler::poll_all(worker& w) noexcept {
  // relaxed: a hint; attach_poller() kicks the worker, so a poller is never left unpolled.
  if (w.poller_count.load(std::memory_order_relaxed) == 0) return 0;
  // seq_cst: see detach_poller().
  w.poll_seq.fetch_add(1, std::memory_order_seq_cst);
  unsigned did = 0;
  for (auto& slot : w.pollers)
    // seq_cst: see detach_poller().
    if (core_poller* p = slot.load(std::memory_order_seq_cst)) did += p->poll();
  // release: see detach_poller().
  w.poll_seq.fetch_add(1, std::memory_order_release);
  return did;
}

void scheduler::wake_sleeper(worker& w, std::uint32_t kind) noexcept {
  if (kind == sleep_futex) {
    futex_wake(w.sleeping, 1);
    return;
  }
  if (kind == sleep_parked) {  // it waits on its command word (worker_main())
    futex_wake(w.command, 1);
    return;
  }
  // relaxed: the worker stored sleep_fds only after it read the fd (acquire), and our CAS
  // of `sleeping` acquired that store.
  const std::uint64_t one = 1;
  ssize_t r;
  do r = ::write(w.wake_event.load(std::memory_order_relaxed), &one, sizeof one);
  while (r < 0 && errno == EINTR);  // EAGAIN: the counter is full, the worker wakes anyway
}

// sleep_on_fds() is idle()'s sleep for a worker with pollers: it joins the sleeper set as
// idle() does (see there), looks once more for work and at the pollers, then waits in
// ppoll() on its wake event and the pollers' fds until their earliest deadline.
task_node* scheduler::sleep_on_fds(worker& w, std::uint32_t cmd) noexcept {
  // acquire: pairs with attach_poller()'s release store.
  const int event = w.wake_event.load(std::memory_order_acquire);
  if (event < 0) return nullptr;  // the attach that made it is not visible yet: go round
  pollfd fds[1 + worker::max_pollers];
  fds[0] = {event, POLLIN, 0};
  const bool was_spinning = join_sleepers(w, sleep_fds);  // idle.cpp
  // seq_cst: see command().
  if (w.command.load(std::memory_order_seq_cst) != cmd) {
    leave_sleepers(w, was_spinning);
    return nullptr;
  }
  if (task_node* t = last_look(w, was_spinning)) return t;
  if (poll_all(w) != 0) {
    cancel_sleep(w);
    return nullptr;
  }
  // The fds and the earliest deadline, read inside a pass so detach_poller() waits for us.
  nfds_t n = 1;
  std::int64_t deadline = -1;
  w.poll_seq.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see detach_poller()
  for (unsigned i = 0; i < worker::max_pollers; ++i) {
    // seq_cst: see detach_poller().
    core_poller* p = w.pollers[i].load(std::memory_order_seq_cst);
    if (p == nullptr) continue;
    if (w.poller_fds[i] >= 0) fds[n++] = {w.poller_fds[i], POLLIN, 0};
    const std::int64_t d = p->next_deadline_ns();
    if (d >= 0 && (deadline < 0 || d < deadline)) deadline = d;
  }
  w.poll_seq.fetch_add(1, std::memory_order_release);  // release: see detach_poller()
  timespec timeout{};
  const timespec* tp = nullptr;
  if (deadline >= 0) {
    const std::int64_t left = deadline - monotonic_ns();
    if (left <= 0) {
      cancel_sleep(w);
      return nullptr;
    }
    timeout.tv_sec = static_cast<time_t>(left / 1'000'000'000);
    timeout.tv_nsec = static_cast<long>(left % 1'000'000'000);
    tp = &timeout;
  }
  (void)::ppoll(fds, n, tp, nullptr);
  cancel_sleep(w);  // woken by a poller's fd or the deadline: leave the set ourselves
  if ((fds[0].revents & POLLIN) != 0) {
    std::uint64_t count;
    (void)::read(event, &count, sizeof count);  // EAGAIN: someone else's wake came later
  }
  return nullptr;
}

}  // namespace hotcore::detail
