// SPDX-License-Identifier: MIT
/// @file
/// hotcore/io_context.h — io_uring on hot-pluggable cores: the multi-instance state
/// "io/uring:online" (io_uring_state) and its instances (io_context), one ring per core
/// that has been online, made by the core's hotplug thread at its first bring-up, kept
/// while the io_context lives, and used by the core's worker, its single issuer, while
/// the core is online.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

namespace hotcore {

class runtime;

namespace detail {
struct io_state_impl;
struct io_context_impl;
}  // namespace detail

/// io_features says what the kernel's io_uring offers (probed once, by creating small
/// rings) and which setup flags hotcore's rings use.
struct io_features {
  bool coop_taskrun = false;        ///< IORING_SETUP_COOP_TASKRUN (+ TASKRUN_FLAG)
  bool submit_all = false;          ///< IORING_SETUP_SUBMIT_ALL: used
  bool r_disabled = false;          ///< IORING_SETUP_R_DISABLED
  bool single_issuer = false;       ///< IORING_SETUP_SINGLE_ISSUER
  bool defer_taskrun = false;       ///< IORING_SETUP_DEFER_TASKRUN
  bool registered_ring_fd = false;  ///< io_uring_register_ring_fd(): used when offered
  unsigned setup_flags = 0;         ///< the IORING_SETUP_* flags every ring is created with
  // A core's ring is created on its hotplug thread at the core's first bring-up, disabled
  // (R_DISABLED), and enabled once on the core's worker with runtime::run_on_worker(),
  // which makes the worker its single issuer (SINGLE_ISSUER); the worker thread lives as
  // long as the runtime, so it stays the issuer. Completions then wait as deferred task
  // work until the worker enters the ring (DEFER_TASKRUN; the kernel signals the ring's
  // eventfd when such work is queued, so a sleeping worker wakes); TASKRUN_FLAG tells the
  // worker when to enter. While the core is online the worker registers the ring fd with
  // itself (at most 16 rings per worker; more just use the plain fd). When the core goes
  // down, its worker (between workers:online and sched:active it runs no task) cancels
  // and drains the ring through run_on_worker() and unregisters its fd; the ring stays,
  // idle, and the next bring-up hands it to the worker again with no system call. The
  // io_context's destructor closes the rings. Without R_DISABLED or SINGLE_ISSUER, the
  // rings use COOP_TASKRUN | TASKRUN_FLAG (and SUBMIT_ALL); without DEFER_TASKRUN,
  // SINGLE_ISSUER | COOP_TASKRUN.
};

/// io_uring_state owns the state "io/uring:online", installed with setup_state_multi() in
/// the ONLINE dynamic range. Each io_context added to it gets one ring per online core.
///
/// Example:
/// @code
/// std::error_code ec;
/// auto io = hotcore::io_uring_state::install(*rt, ec);      // state registered
/// auto ctx = hotcore::io_context::create(*io, ec);          // a ring on every online core
/// rt->submit([&] {                                          // from a task: this core's ring
///   ctx->recv(fd, buf, sizeof buf, 0, [](int n) { /* runs as a task */ });
/// });
/// ctx.reset();                                              // rings gone on every core
/// io.reset();                                               // state removed
/// @endcode
class io_uring_state {
 public:
  /// install() probes the kernel and registers the state. nullptr and ec set on error (the
  /// negative errno of setup_state_multi, as a system error).
  [[nodiscard]] static std::unique_ptr<io_uring_state> install(runtime& rt, std::error_code& ec);
  /// The destructor removes the state. Destroy every io_context of it first.
  ~io_uring_state();
  io_uring_state(const io_uring_state&) = delete;
  io_uring_state& operator=(const io_uring_state&) = delete;

  /// state() is the allocated state number (for set_fail, the trace, the listing).
  [[nodiscard]] int state() const noexcept;
  /// features() is what the kernel's io_uring offers (probed once at install()).
  [[nodiscard]] const io_features& features() const noexcept;
  /// rt() is the runtime the state is installed on.
  [[nodiscard]] runtime& rt() const noexcept;

 private:
  friend class io_context;
  explicit io_uring_state(std::unique_ptr<detail::io_state_impl> impl);
  std::unique_ptr<detail::io_state_impl> _impl;
};

/// io_callback gets an operation's result as io_uring reports it: bytes, a new fd (accept),
/// a poll mask, or a negative errno. It runs once, as a task queued on the core whose ring
/// completed the operation (like any task, an idle core may steal it, and it moves if the
/// core leaves first).
using io_callback = std::function<void(int result)>;

/// io_stats counts what an io_context did (each a snapshot).
struct io_stats {
  std::uint64_t submitted = 0;  ///< operations accepted by read/write/recv/send/accept/poll
  std::uint64_t completed = 0;  ///< continuations run
  std::uint64_t reissued = 0;   ///< operations cancelled on a leaving core and issued again
};

/// io_context is one instance of "io/uring:online": a ring on every online core (kept,
/// idle, while the core is offline, and closed with the io_context).
///
/// Where an operation goes: from a task, to the ring of the core running it
/// (hotcore::this_core()), submitted right away by that core's worker; from any other
/// thread, to some online core's ring, handed over through a lock-free queue that the
/// core's worker drains. The worker reaps completions between tasks and queues each
/// continuation as a task on its own core.
///
/// When a core goes down, its ring's in-flight operations are cancelled
/// (IORING_ASYNC_CANCEL_ANY) and drained before the worker lets go of the ring. Each operation has
/// exactly one completion, so each ends in exactly one of two ways: it completed (also
/// when it completed while the cancel ran) and its continuation runs with the result; or
/// it was cancelled (-ECANCELED, nothing was transferred) and it is issued again, the same
/// operation with the same arguments, on another online core's ring. So no operation is
/// lost or completed twice, and a recv/accept/read/send is never re-issued after it moved
/// data. Destroying the io_context cancels what is in flight: those continuations get
/// -ECANCELED, and the destructor returns after every continuation has run.
///
/// Rules: buffers stay valid until the continuation runs; do not destroy the io_context
/// from a task or a hotplug callback, nor while other threads still submit to it.
class io_context {
 public:
  /// create() adds an instance: a ring on every online core (add_instance). If one core's
  /// ring fails to come up, the rings made so far are torn down, and nullptr is returned
  /// with ec set (e.g. EMFILE, ENOMEM, or EAGAIN from set_fail()).
  [[nodiscard]] static std::unique_ptr<io_context> create(io_uring_state& state,
                                                          std::error_code& ec,
                                                          unsigned ring_entries = 256);
  /// The destructor removes the instance after cancelling what is in flight, waits for
  /// every continuation and closes every ring.
  ~io_context();
  io_context(const io_context&) = delete;
  io_context& operator=(const io_context&) = delete;

  /// Operations: each returns 0 (done will run exactly once), or a negative errno and done
  /// does not run: -EINVAL bad argument (negative fd, empty callback), -ENODEV no core has
  /// a ring (none online), -ESHUTDOWN the io_context is being destroyed. `offset` is the
  /// file offset of read/write; std::uint64_t(-1) means the file's current position (and
  /// pipes, sockets and eventfds take 0 or -1).
  [[nodiscard]] int read(int fd, void* buf, unsigned len, std::uint64_t offset, io_callback done);
  /// write() writes len bytes of buf to fd at offset; the result is the bytes written.
  [[nodiscard]] int write(int fd, const void* buf, unsigned len, std::uint64_t offset,
                          io_callback done);
  /// recv() receives up to len bytes from socket fd (recv(2) flags); the result is the
  /// bytes received, 0 at the end of the stream.
  [[nodiscard]] int recv(int fd, void* buf, unsigned len, int flags, io_callback done);
  /// send() sends up to len bytes of buf on socket fd (send(2) flags); the result is the
  /// bytes sent.
  [[nodiscard]] int send(int fd, const void* buf, unsigned len, int flags, io_callback done);
  /// accept() takes the next connection; the result is the new fd (SOCK_CLOEXEC).
  [[nodiscard]] int accept(int fd, io_callback done);
  /// poll() waits (one shot) for `events` (POLLIN, ...) on fd; the result is the mask.
  [[nodiscard]] int poll(int fd, unsigned events, io_callback done);

  /// rings() is how many cores have a ring of this context now.
  [[nodiscard]] unsigned rings() const noexcept;
  /// stats() is a snapshot of the context's counters (hotcore::io_stats).
  [[nodiscard]] io_stats stats() const noexcept;

 private:
  explicit io_context(std::unique_ptr<detail::io_context_impl> impl);
  std::unique_ptr<detail::io_context_impl> _impl;
};

}  // namespace hotcore
