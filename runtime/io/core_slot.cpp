// SPDX-License-Identifier: MIT
// runtime/io/core_slot.cpp — a core's ring: made on the hotplug thread at the core's first
// bring-up; enabled once, then fed, reaped, cancelled and drained on the core's worker (its
// single issuer); handed over and taken back at each cycle; closed with the io_context.
#include "io/core_slot.h"
#include "chaos.h"

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "io/io_impl.h"

namespace hotcore::detail {
namespace {
// take_back() waits for cancelled operations this long per round; an operation the kernel
// could not cancel at once (already running) completes on its own.
constexpr long drain_wait_ns = 10'000'000;
}  // namespace

core_slot::~core_slot() {
  // relaxed: the destructor runs after the instance was removed (no other user).
  if (_live.load(std::memory_order_relaxed)) (void)take_back();
  if (made()) close();
}

int core_slot::make(unsigned entries, unsigned setup_flags, bool register_ring_fd) noexcept {
  _flags = setup_flags;
  _register_ring_fd = register_ring_fd;
  _register_pending = register_ring_fd;
  _ring_fd_registered = false;
  io_uring_params params{};
  params.flags = setup_flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  params.cq_entries = entries * 4;  // room for a burst of completions between two polls
  int ret = io_uring_queue_init_params(entries, &_ring, &params);
  if (ret < 0) return ret;
  _efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (_efd < 0) ret = -errno;
  else ret = io_uring_register_eventfd(&_ring, _efd);
  if (ret < 0) {
    io_uring_queue_exit(&_ring);
    if (_efd >= 0) ::close(_efd);
    _efd = -1;
    return ret;
  }
  _in_flight = 0;
  return 0;
}

int core_slot::enable() noexcept {
  if ((_flags & IORING_SETUP_R_DISABLED) != 0) {
    // liburing 2.3 (Debian 12) has no io_uring_enable_rings(): the register call itself.
    // The kernel makes the calling task (this worker) the ring's single issuer.
    if (::syscall(__NR_io_uring_register, _ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
                  nullptr, 0) < 0)
      return -errno;
  }
  return 0;
}

void core_slot::hand_over() noexcept {
  // release: the ring is complete (made, enabled, drained by the last take_back()) before
  // anyone sees it live; the worker itself sees it through attach_poller().
  _live.store(true, std::memory_order_release);
}

void core_slot::register_ring_fd() noexcept {
  _register_pending = false;  // tried once per hand-over
  // 1: registered; the worker's io_uring_enter calls then skip the fd lookup. A failure
  // (-EBUSY: 16 rings registered with this worker already) just leaves the plain fd.
  _ring_fd_registered = io_uring_register_ring_fd(&_ring) == 1;
}

void core_slot::close() noexcept {
  io_uring_queue_exit(&_ring);
  ::close(_efd);
  _efd = -1;
}

bool core_slot::prepare(io_op* op) noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
  if (sqe == nullptr) {
    (void)io_uring_submit(&_ring);  // make room
    sqe = io_uring_get_sqe(&_ring);
    if (sqe == nullptr) return false;
  }
  switch (op->kind) {
    case op_kind::read: io_uring_prep_read(sqe, op->fd, op->buf, op->len, op->offset); break;
    case op_kind::write: io_uring_prep_write(sqe, op->fd, op->buf, op->len, op->offset); break;
    case op_kind::recv: io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags); break;
    case op_kind::send: io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags); break;
    case op_kind::accept: io_uring_prep_accept(sqe, op->fd, nullptr, nullptr, SOCK_CLOEXEC); break;
    case op_kind::poll: io_uring_prep_poll_add(sqe, op->fd, static_cast<unsigned>(op->flags)); break;
  }
  io_uring_sqe_set_data(sqe, op);
  ++_in_flight;
  return true;
}

bool core_slot::issue(io_op* op) noexcept {
  if (!prepare(op)) return false;
  // A failed submit leaves the SQE in the ring; the next submit (poll()) takes it.
  (void)io_uring_submit(&_ring);
  return true;
}

unsigned core_slot::poll() noexcept {
  // relaxed: poll() runs on the owner (the worker) only while the slot is attached.
  if (!_live.load(std::memory_order_relaxed)) return 0;
  if (_register_pending) register_ring_fd();
  unsigned did = 0;
  io_op* list = reverse_list(queue.take_all());
  while (list != nullptr) {
    io_op* op = list;
    list = op->next;
    if (!prepare(op)) {  // full: the rest waits for the next poll
      op->next = list;
      list = op;
      while (list != nullptr) {
        io_op* o = list;
        list = o->next;
        (void)queue.push(o);  // open while attached
      }
      break;
    }
    ++did;
  }
  if (io_uring_sq_ready(&_ring) > 0) (void)io_uring_submit(&_ring);
  eventfd_t drained;
  (void)eventfd_read(_efd, &drained);  // re-armed before reaping: a later CQE wakes us again
  did += reap(false, nullptr);
  // With DEFER_TASKRUN the kernel runs a bounded batch of deferred completions per enter
  // and signals the eventfd only when its list goes from empty to not empty: if some are
  // left (TASKRUN still set), poke our own eventfd so the worker polls again, not sleeps.
  if ((_flags & IORING_SETUP_DEFER_TASKRUN) != 0 &&
      (IO_URING_READ_ONCE(*_ring.sq.kflags) & IORING_SQ_TASKRUN) != 0)
    (void)eventfd_write(_efd, 1);
  return did;
}

unsigned core_slot::reap(bool for_take_back, io_op** cancelled_tail) noexcept {
  // With COOP_TASKRUN or DEFER_TASKRUN the kernel leaves completions as task work until
  // this thread enters it; TASKRUN_FLAG says so (and CQ_OVERFLOW that some wait in the
  // overflow list).
  const unsigned flags = IO_URING_READ_ONCE(*_ring.sq.kflags);
  if ((flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0) (void)io_uring_get_events(&_ring);
  unsigned head;
  unsigned n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&_ring, head, cqe) {
    auto* op = static_cast<io_op*>(io_uring_cqe_get_data(cqe));
    ++n;
    --_in_flight;
    // One CQE per operation: -ECANCELED only when our cancel got it before it did
    // anything, so issuing it again cannot repeat an effect.
    if (for_take_back && cqe->res == -ECANCELED) {
      op->next = nullptr;
      *cancelled_tail = op;
      cancelled_tail = &op->next;
      continue;
    }
    op->result = cqe->res;
    _ctx.deliver(op);
  }
  io_uring_cq_advance(&_ring, n);
  return n;
}

void core_slot::cancel_all() noexcept {
  io_uring_sync_cancel_reg reg{};
  reg.flags = IORING_ASYNC_CANCEL_ANY;
  reg.timeout.tv_sec = 0;
  reg.timeout.tv_nsec = drain_wait_ns;
  (void)io_uring_register_sync_cancel(&_ring, &reg);  // count, -ENOENT or -ETIME: reaped below
}

io_op* core_slot::take_back() noexcept {
  HOTCORE_CHAOS_POINT("ring:migrate");
  // release: pairs with live(); a task on this thread will not issue here any more.
  _live.store(false, std::memory_order_release);
  io_op* out = reverse_list(queue.close_and_take());  // never issued: they go on as they are
  io_op** tail = &out;
  while (*tail != nullptr) tail = &(*tail)->next;
  if (io_uring_sq_ready(&_ring) > 0) (void)io_uring_submit(&_ring);
  for (unsigned round = 0; _in_flight > 0; ++round) {
    if (round % 10 == 0) cancel_all();  // again every 10 rounds: some may have been running
    io_op* cancelled = nullptr;
    if (reap(true, &cancelled) == 0) {
      __kernel_timespec wait{0, drain_wait_ns};
      io_uring_cqe* cqe;
      // -EEXIST: this thread is not the ring's single issuer, so it can neither wait nor
      // cancel. ring_down() calls us on the worker; stop rather than spin (the kernel
      // cancels what is left when the ring closes, and those operations are lost).
      if (io_uring_wait_cqe_timeout(&_ring, &cqe, &wait) == -EEXIST) break;
      continue;
    }
    *tail = cancelled;
    while (*tail != nullptr) tail = &(*tail)->next;
  }
  // Unregistered each time: an idle ring's fd is then referenced by no thread's table,
  // so the io_context can close it from any thread while the core is offline.
  if (_ring_fd_registered) (void)io_uring_unregister_ring_fd(&_ring);  // this worker's
  _ring_fd_registered = false;
  _register_pending = _register_ring_fd;
  return out;
}

}  // namespace hotcore::detail
