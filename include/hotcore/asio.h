// SPDX-License-Identifier: MIT
/// @file
/// hotcore/asio.h — an executor for standalone Asio (1.22, <asio.hpp>) whose work runs on a
/// runtime's worker cores: asio::post, dispatch, co_spawn, strand<> and bind_executor take it.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <asio/execution.hpp>
#include <asio/execution_context.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <type_traits>
#include <utility>

#include "hotcore/runtime.h"

namespace hotcore {

class asio_executor;

/// asio_context is the asio::execution_context of a runtime: it holds the Asio services
/// that executors need (a strand's, say) and hands out asio_executor objects whose work
/// runs on the runtime's worker cores.
///
/// Its destructor waits for every function submitted through its executors to finish
/// (functions that tasks submit meanwhile included), then shuts its services down: destroy
/// it before the runtime, after whatever still posts to it (an io_context whose handlers
/// use its executors, say).
///
/// Example:
///
///     hotcore::asio_context ctx(*rt);
///     asio::co_spawn(ctx.get_executor(), serve(), asio::detached);
class asio_context : public asio::execution_context {
 public:
  /// asio_executor is the executor type, as Asio's io_context::executor_type.
  using executor_type = asio_executor;
  /// asio_context() binds the context to rt, which must outlive it.
  explicit asio_context(runtime& rt) noexcept : _rt(rt) {}
  /// ~asio_context() waits for the functions in flight, then shuts the services down.
  ~asio_context() {
    if (_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) return;  // none in flight
    std::unique_lock lock(_mutex);
    _idle.wait(lock, [this] { return _drained; });
  }
  asio_context(const asio_context&) = delete;
  asio_context& operator=(const asio_context&) = delete;

  /// get_executor() is an executor of this context: blocking.possibly, relationship.fork,
  /// outstanding_work.untracked.
  [[nodiscard]] executor_type get_executor() noexcept;
  /// get_runtime() is the runtime whose cores run the work.
  [[nodiscard]] runtime& get_runtime() const noexcept { return _rt; }

 private:
  friend class asio_executor;
  /// ticket counts one submitted function while it lives; it is moved with the function.
  class ticket {
   public:
    explicit ticket(asio_context* ctx) noexcept : _ctx(ctx) {
      // relaxed: the count only has to be right; the decrement publishes the work.
      _ctx->_pending.fetch_add(1, std::memory_order_relaxed);
    }
    ticket(ticket&& other) noexcept : _ctx(std::exchange(other._ctx, nullptr)) {}
    ticket& operator=(ticket&&) = delete;
    ~ticket() {
      if (_ctx != nullptr) _ctx->release();
    }

   private:
    asio_context* _ctx;
  };

  /// release() drops one count; the last one (the destructor's own count gone first) wakes
  /// the destructor under its mutex, so the destructor cannot return before this is done.
  void release() noexcept {
    // acq_rel: the function's effects happen before the destructor's return.
    if (_pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::lock_guard lock(_mutex);
    _drained = true;
    _idle.notify_all();
  }

  runtime& _rt;
  /// 1 for the context itself, plus one per function submitted and not yet destroyed.
  std::atomic<long> _pending{1};
  std::mutex _mutex;
  std::condition_variable _idle;
  bool _drained = false;
};

/// asio_executor is an Asio standard executor (asio::execution::executor) whose functions
/// run on the worker cores of an asio_context's runtime, through runtime::submit(): a
/// function queued on a core that goes down runs on another core, exactly once.
///
/// Properties (asio::require, asio::prefer, asio::query):
///  - blocking.possibly (the default): execute() called on one of the runtime's workers
///    runs the function at once, inline; elsewhere it submits it. blocking.never always
///    submits (asio::post asks for it). blocking.always is not supported.
///  - relationship.fork / continuation: recorded and reported; both submit the same way.
///  - outstanding_work.tracked / untracked: recorded and reported; the runtime's workers
///    run whether or not tracked work exists, so tracking keeps nothing alive.
///  - context: the asio_context.
///
/// After the runtime's shutdown() began, execute() throws asio::execution::bad_executor
/// (through asio::detail::throw_exception, so a build without exceptions calls
/// asio::detail::throw_exception's handler instead) and the function is destroyed without
/// running. A function that throws calls std::terminate, as a task given to submit() does.
class asio_executor {
 public:
  /// asio_executor() is an executor of ctx with the default properties.
  explicit asio_executor(asio_context& ctx) noexcept : _ctx(&ctx) {}

  /// require(blocking.possibly) is this executor, running inline on a worker.
  [[nodiscard]] asio_executor require(asio::execution::blocking_t::possibly_t) const noexcept {
    return with(&asio_executor::_never, false);
  }
  /// require(blocking.never) is this executor, always submitting.
  [[nodiscard]] asio_executor require(asio::execution::blocking_t::never_t) const noexcept {
    return with(&asio_executor::_never, true);
  }
  /// require(relationship.fork) is this executor, marked fork.
  [[nodiscard]] asio_executor require(asio::execution::relationship_t::fork_t) const noexcept {
    return with(&asio_executor::_continuation, false);
  }
  /// require(relationship.continuation) is this executor, marked continuation.
  [[nodiscard]] asio_executor require(
      asio::execution::relationship_t::continuation_t) const noexcept {
    return with(&asio_executor::_continuation, true);
  }
  /// require(outstanding_work.tracked) is this executor, marked tracked.
  [[nodiscard]] asio_executor require(
      asio::execution::outstanding_work_t::tracked_t) const noexcept {
    return with(&asio_executor::_tracked, true);
  }
  /// require(outstanding_work.untracked) is this executor, marked untracked.
  [[nodiscard]] asio_executor require(
      asio::execution::outstanding_work_t::untracked_t) const noexcept {
    return with(&asio_executor::_tracked, false);
  }

  /// query(context) is the asio_context.
  [[nodiscard]] asio_context& query(asio::execution::context_t) const noexcept { return *_ctx; }
  /// query(blocking) is blocking.never or blocking.possibly.
  [[nodiscard]] asio::execution::blocking_t query(asio::execution::blocking_t) const noexcept {
    return _never ? asio::execution::blocking_t(asio::execution::blocking.never)
                  : asio::execution::blocking_t(asio::execution::blocking.possibly);
  }
  /// query(relationship) is relationship.continuation or relationship.fork.
  [[nodiscard]] asio::execution::relationship_t query(
      asio::execution::relationship_t) const noexcept {
    return _continuation
               ? asio::execution::relationship_t(asio::execution::relationship.continuation)
               : asio::execution::relationship_t(asio::execution::relationship.fork);
  }
  /// query(outstanding_work) is outstanding_work.tracked or outstanding_work.untracked.
  [[nodiscard]] asio::execution::outstanding_work_t query(
      asio::execution::outstanding_work_t) const noexcept {
    return _tracked ? asio::execution::outstanding_work_t(asio::execution::outstanding_work.tracked)
                    : asio::execution::outstanding_work_t(
                          asio::execution::outstanding_work.untracked);
  }

  /// execute() runs f on a worker core (inline when blocking.possibly and the caller is a
  /// worker of the runtime). Throws asio::execution::bad_executor after shutdown() began,
  /// std::bad_alloc when no memory is left for the task.
  template <class F>
  void execute(F&& f) const {
    runtime& rt = _ctx->_rt;
    if (!_never && rt.this_core() >= 0) {
      std::forward<F>(f)();
      return;
    }
    if (rt.submit(task<std::decay_t<F>>{asio_context::ticket(_ctx), std::forward<F>(f)}) ==
        -ESHUTDOWN) {
      asio::detail::throw_exception(asio::execution::bad_executor());
    }
  }

  /// Two executors are equal when they have the same context and the same properties.
  friend bool operator==(const asio_executor& a, const asio_executor& b) noexcept {
    return a._ctx == b._ctx && a._never == b._never && a._continuation == b._continuation &&
           a._tracked == b._tracked;
  }
  /// Two executors differ when their contexts or properties do.
  friend bool operator!=(const asio_executor& a, const asio_executor& b) noexcept {
    return !(a == b);
  }

 private:
  /// task is what runtime::submit() gets: the function, and its ticket (destroyed last,
  /// after the function, so the context outlives whatever the function held).
  template <class F>
  struct task {
    asio_context::ticket ticket;
    F fn;
    void operator()() { fn(); }
  };

  asio_executor with(bool asio_executor::*flag, bool value) const noexcept {
    asio_executor copy = *this;
    copy.*flag = value;
    return copy;
  }

  asio_context* _ctx;
  bool _never = false;
  bool _continuation = false;
  bool _tracked = false;
};

inline asio_executor asio_context::get_executor() noexcept { return asio_executor(*this); }

}  // namespace hotcore
