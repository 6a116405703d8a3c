// SPDX-License-Identifier: MIT
// runtime/io/io_context.cpp — io_uring_state (the multi-instance state "io/uring:online")
// and io_context (its instances): a ring per core kept for the io_context's life and
// handed to the core's worker at startup, taken back at teardown; where a new operation
// goes, how completions become tasks, and where a leaving core's operations go on.
#include "hotcore/io_context.h"


#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "hotcore/states.h"
#include "io/io_impl.h"

namespace hotcore {
namespace detail {

io_context_impl::io_context_impl(io_state_impl& state, unsigned ring_entries)
    : st(state), rt(state.rt), entries(ring_entries), cores(state.rt.cores()) {
  const unsigned top = cores.empty() ? 0 : *std::max_element(cores.begin(), cores.end());
  slots.resize(top + 1);
  for (const unsigned c : cores) slots[c] = std::make_unique<core_slot>(*this, c);
}

int io_context_impl::make_ring(unsigned core, core_slot* s) noexcept {
  int ret = s->make(entries, st.features.setup_flags, st.features.registered_ring_fd);
  if (ret < 0) return ret;
  // The worker exists and is pinned here (ONLINE_DYN lies above "workers:online"); it
  // enables the ring and so becomes its single issuer. It lives as long as the runtime,
  // so it stays the ring's issuer through every later cycle of the core.
  int enabled = -ENODEV;
  ret = rt.run_on_worker(core, [&] { enabled = s->enable(); });
  if (ret == 0) ret = enabled;
  if (ret < 0) s->close();
  return ret;
}

int io_context_impl::ring_up(unsigned core) noexcept {
  core_slot* s = slot(core);
  if (s == nullptr) return -EINVAL;
  if (!s->made())
    if (const int ret = make_ring(core, s); ret < 0) return ret;
  s->hand_over();
  // Attach last: on a running core (add_instance) the worker polls from here on.
  if (const int ret = rt.attach_poller(core, s); ret < 0) {
    hand_on(take_back(core, s), core);  // nothing was issued yet: this hands on nothing
    return ret;
  }
  s->queue.open();
  rings.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  return 0;
}

io_op* io_context_impl::take_back(unsigned core, core_slot* s) noexcept {
  io_op* rest = nullptr;
  // A core going down reaches this state with its worker running no task (sched:active
  // is above): fn runs at once. On a running core (remove_instance, or an add_instance
  // rolled back) the worker may be inside a task that submits to the ring: fn runs
  // between two tasks. Either way the ring's single issuer cancels and drains it.
  if (rt.run_on_worker(core, [&] { rest = s->take_back(); }) != 0)
    rest = s->take_back();  // no worker (cannot happen between workers:online up and down)
  // Not drained (it ran on another thread than the issuer): the next bring-up makes a
  // new ring rather than reuse this one.
  if (!s->idle()) s->close();
  return rest;
}

int io_context_impl::ring_down(unsigned core) noexcept {
  core_slot* s = slot(core);
  if (s == nullptr || !s->live()) return -EINVAL;
  // Detach first: after this the worker is not inside poll() and will not enter it.
  (void)rt.detach_poller(core, s);
  io_op* rest = take_back(core, s);
  rings.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a statistic
  hand_on(rest, core);
  return 0;
}

int io_context_impl::submit(io_op* op) noexcept {
  // seq_cst: pairs with the destructor's store; an operation accepted after closing was
  // set would have nobody to cancel it.
  if (closing.load(std::memory_order_seq_cst)) return -ESHUTDOWN;
  submitted.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  // relaxed: the counter is only waited for after closing; the waiter's acquire pairs
  // with finish()'s acq_rel decrement.
  outstanding.fetch_add(1, std::memory_order_relaxed);
  const int here = rt.this_core();
  if (here >= 0) {
    core_slot* s = slot(static_cast<unsigned>(here));
    if (s != nullptr && s->live()) {
      // This core's worker owns the ring: submit now. Full: its next poll() does it
      // (the queue is open while the ring is live).
      if (!s->issue(op) && !s->queue.push(op)) hand_on(op, s->core());
      return 0;
    }
  }
  const std::size_t n = cores.size();
  // relaxed: only spreads submissions; any core will do.
  const unsigned start = next_core.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned c = cores[(start + i) % n];
    if (slots[c]->queue.push(op)) {
      rt.kick_core(c);
      return 0;
    }
  }
  // relaxed: undoing our own increments; nothing was published.
  submitted.fetch_sub(1, std::memory_order_relaxed);
  outstanding.fetch_sub(1, std::memory_order_relaxed);
  return -ENODEV;
}

namespace {
// finish() frees a completed operation and counts it out.
void finish(io_context_impl& ctx, io_op* op) noexcept {
  delete op;
  ctx.completed.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  // acq_rel: the continuation's effects happen before the destructor's acquire sees 0.
  if (ctx.outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) ctx.outstanding.notify_all();
}
}  // namespace

void io_context_impl::deliver(io_op* op) noexcept {
  io_context_impl* self = this;
  auto task = [self, op] {
    struct finish_after {
      io_context_impl* ctx;
      io_op* op;
      ~finish_after() { finish(*ctx, op); }
    } guard{self, op};
    op->done(op->result);
  };
  // From the core's poller (its worker) submit() queues the task on that core's own deque:
  // it runs there, unless an idle core steals it, as any task may be (that is what keeps
  // connections spread over the cores after a core left and came back). From a hotplug
  // thread it goes to an active core.
  if (rt.submit(std::move(task)) != 0) {  // the runtime is shutting down: run it here
    op->done(op->result);
    finish(*this, op);
  }
}

void io_context_impl::hand_on(io_op* list, unsigned from) noexcept {
  while (list != nullptr) {
    io_op* op = list;
    list = op->next;
    op->next = nullptr;
    bool placed = false;
    // seq_cst: see submit().
    if (!closing.load(std::memory_order_seq_cst)) {
      const std::size_t n = cores.size();
      const std::size_t at = static_cast<std::size_t>(
          std::find(cores.begin(), cores.end(), from) - cores.begin());
      // An active core first (one parked half way up would hold the operation back).
      for (std::size_t i = 1; i <= 2 * n && !placed; ++i) {
        const unsigned c = cores[(at + i) % n];
        if (c == from || (i <= n && !rt.core_active(c)) || !slots[c]->queue.push(op)) continue;
        placed = true;
        reissued.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
        rt.kick_core(c);
      }
    }
    if (!placed) {
      op->result = -ECANCELED;
      deliver(op);
    }
  }
}

int probe_io_features(io_features& out) noexcept {
  // try_flags() is 0 when a ring with these flags comes up, -EINVAL when the kernel does
  // not know a flag, or why io_uring is unavailable.
  auto try_flags = [](unsigned flags, bool register_ring) {
    io_uring ring;
    io_uring_params params{};
    params.flags = flags;
    int ret = io_uring_queue_init_params(2, &ring, &params);
    if (ret < 0) return ret;
    if (register_ring) {
      const int reg = io_uring_register_ring_fd(&ring);  // 1: one ring registered
      ret = reg == 1 ? 0 : reg < 0 ? reg : -EINVAL;
      if (reg == 1) (void)io_uring_unregister_ring_fd(&ring);
    }
    io_uring_queue_exit(&ring);
    return ret;
  };
  if (const int ret = try_flags(0, false); ret < 0) return ret;
  const auto has = [&](unsigned flags, bool reg = false) { return try_flags(flags, reg) == 0; };
  out.coop_taskrun = has(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
  out.submit_all = has(IORING_SETUP_SUBMIT_ALL);
  out.r_disabled = has(IORING_SETUP_R_DISABLED);
  out.single_issuer = has(IORING_SETUP_SINGLE_ISSUER);
  out.defer_taskrun = has(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                          IORING_SETUP_TASKRUN_FLAG);
  out.registered_ring_fd = has(0, true);
  const unsigned base = out.submit_all ? IORING_SETUP_SUBMIT_ALL : 0u;
  const unsigned coop =
      out.coop_taskrun ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG : 0u;
  // The worker must enable the ring to become its single issuer: SINGLE_ISSUER only with
  // R_DISABLED. DEFER_TASKRUN runs completions only when the worker enters the ring; the
  // eventfd still wakes it (the kernel signals it when deferred work is queued).
  unsigned flags = base | coop;
  if (out.single_issuer && out.r_disabled) {
    flags = base | IORING_SETUP_R_DISABLED | IORING_SETUP_SINGLE_ISSUER |
            (out.defer_taskrun ? IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG : coop);
    if (!has(flags)) flags = base | coop;  // the combination refused: the plain flags
  }
  out.setup_flags = flags;
  return 0;
}

}  // namespace detail

// ---- io_uring_state

io_uring_state::io_uring_state(std::unique_ptr<detail::io_state_impl> impl)
    : _impl(std::move(impl)) {}

std::unique_ptr<io_uring_state> io_uring_state::install(runtime& rt, std::error_code& ec) {
  auto impl = std::make_unique<detail::io_state_impl>(detail::io_state_impl{rt, -1, {}});
  if (const int ret = detail::probe_io_features(impl->features); ret < 0) {
    ec.assign(-ret, std::system_category());
    return nullptr;
  }
  const int st = rt.setup_state_multi(
      ONLINE_DYN, "io/uring:online",
      [](unsigned core, instance_node* n) {
        return static_cast<detail::io_context_impl*>(n)->ring_up(core);
      },
      [](unsigned core, instance_node* n) {
        return static_cast<detail::io_context_impl*>(n)->ring_down(core);
      });
  if (st < 0) {
    ec.assign(-st, std::system_category());
    return nullptr;
  }
  impl->state = st;
  ec.clear();
  return std::unique_ptr<io_uring_state>(new io_uring_state(std::move(impl)));
}

io_uring_state::~io_uring_state() { (void)_impl->rt.remove_multi_state(_impl->state); }

int io_uring_state::state() const noexcept { return _impl->state; }
const io_features& io_uring_state::features() const noexcept { return _impl->features; }
runtime& io_uring_state::rt() const noexcept { return _impl->rt; }

// ---- io_context

io_context::io_context(std::unique_ptr<detail::io_context_impl> impl) : _impl(std::move(impl)) {}

std::unique_ptr<io_context> io_context::create(io_uring_state& state, std::error_code& ec,
                                               unsigned ring_entries) {
  if (ring_entries == 0 || ring_entries > 32768) {
    ec.assign(EINVAL, std::system_category());
    return nullptr;
  }
  auto impl = std::make_unique<detail::io_context_impl>(*state._impl, ring_entries);
  if (const int ret = state.rt().add_instance(state.state(), impl.get()); ret < 0) {
    ec.assign(-ret, std::system_category());
    return nullptr;
  }
  ec.clear();
  return std::unique_ptr<io_context>(new io_context(std::move(impl)));
}

io_context::~io_context() {
  detail::io_context_impl& ctx = *_impl;
  // seq_cst: see submit().
  ctx.closing.store(true, std::memory_order_seq_cst);
  (void)ctx.rt.remove_instance(ctx.st.state, &ctx);
  std::uint64_t left;
  // acquire: pairs with finish(); every continuation has run when this reads 0.
  while ((left = ctx.outstanding.load(std::memory_order_acquire)) != 0)
    ctx.outstanding.wait(left, std::memory_order_acquire);
}

namespace {
int make_op(detail::io_context_impl& ctx, detail::op_kind kind, int fd, void* buf,
            unsigned len, int flags, std::uint64_t offset, io_callback&& done) {
  if (fd < 0 || !done) return -EINVAL;
  auto* op = new (std::nothrow) detail::io_op;
  if (op == nullptr) return -ENOMEM;
  op->kind = kind;
  op->fd = fd;
  op->buf = buf;
  op->len = len;
  op->flags = flags;
  op->offset = offset;
  op->done = std::move(done);
  const int ret = ctx.submit(op);
  if (ret < 0) delete op;
  return ret;
}
}  // namespace

int io_context::read(int fd, void* buf, unsigned len, std::uint64_t offset, io_callback done) {
  return make_op(*_impl, detail::op_kind::read, fd, buf, len, 0, offset, std::move(done));
}
int io_context::write(int fd, const void* buf, unsigned len, std::uint64_t offset,
                      io_callback done) {
  return make_op(*_impl, detail::op_kind::write, fd, const_cast<void*>(buf), len, 0, offset,
                 std::move(done));
}
int io_context::recv(int fd, void* buf, unsigned len, int flags, io_callback done) {
  return make_op(*_impl, detail::op_kind::recv, fd, buf, len, flags, 0, std::move(done));
}
int io_context::send(int fd, const void* buf, unsigned len, int flags, io_callback done) {
  return make_op(*_impl, detail::op_kind::send, fd, const_cast<void*>(buf), len, flags, 0,
                 std::move(done));
}
int io_context::accept(int fd, io_callback done) {
  return make_op(*_impl, detail::op_kind::accept, fd, nullptr, 0, 0, 0, std::move(done));
}
int io_context::poll(int fd, unsigned events, io_callback done) {
  if (events == 0) return -EINVAL;
  return make_op(*_impl, detail::op_kind::poll, fd, nullptr, 0, static_cast<int>(events), 0,
                 std::move(done));
}

unsigned io_context::rings() const noexcept {
  return _impl->rings.load(std::memory_order_relaxed);  // relaxed: a statistic
}

io_stats io_context::stats() const noexcept {
  // relaxed: statistics, each a snapshot.
  return {_impl->submitted.load(std::memory_order_relaxed),
          _impl->completed.load(std::memory_order_relaxed),
          _impl->reissued.load(std::memory_order_relaxed)};
}

}  // namespace hotcore
