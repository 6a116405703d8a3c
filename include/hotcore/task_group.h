// SPDX-License-Identifier: MIT
/// @file
/// hotcore/task_group.h — fork-join: run() tasks on a runtime's worker cores, wait() for
/// all of them while helping to run tasks; an exception thrown by a task comes back out of
/// wait(), as with oneTBB's task_group.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <exception>
#include <utility>

#include "hotcore/detail/group_state.h"
#include "hotcore/runtime.h"
#include "hotcore/task.h"

namespace hotcore {

/// task_group runs tasks concurrently on the runtime's active cores and waits for them.
///
/// run() may be called from any thread, also from inside the group's own tasks; wait()
/// returns when every task run() so far has finished. The thread in wait() does not just
/// sleep: it runs queued tasks (its own group's first) until the group is done. If tasks
/// threw, wait() rethrows the first exception (the other tasks still ran) and the group
/// can be used again. The destructor waits too, but swallows an exception nobody waited
/// for. Tasks of a group queued on a core that goes down run on another core.
///
/// Example:
/// @code
/// long fib(hotcore::runtime& rt, int n) {
///   if (n < 20) return serial_fib(n);
///   long a = 0, b = 0;
///   hotcore::task_group g(rt);
///   g.run([&] { a = fib(rt, n - 1); });
///   b = fib(rt, n - 2);
///   g.wait();
///   return a + b;
/// }
/// @endcode
class task_group {
 public:
  /// task_group() makes an empty group whose tasks run on rt's cores.
  explicit task_group(runtime& rt) noexcept : _sched(&detail::task_access::sched(rt)) {}
  ~task_group() { detail::wait_group(*_sched, _state); }
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// run() queues fn (moved in once; copied if you pass an lvalue) as a task of the group.
  /// Small callables need no heap allocation. Throws std::bad_alloc only.
  template <class F>
  void run(F&& fn) {
    detail::task_node* n = detail::make_task(std::forward<F>(fn));
    n->group = &_state;
    // relaxed: the count only has to rise before the task can finish, and the task is
    // published by spawn()'s release; the finishing decrement (acq_rel) follows it in
    // the word's modification order.
    _state.word.fetch_add(1, std::memory_order_relaxed);
    detail::spawn(*_sched, n);
  }

  /// wait() returns when all tasks run() so far have finished, helping to run tasks
  /// meanwhile; it rethrows the first exception one of them threw.
  void wait() {
    detail::wait_group(*_sched, _state);
    // relaxed: wait_group() saw the count reach 0 with acquire, which orders the failing
    // task's stores of error and failed before this load.
    if (_state.failed.load(std::memory_order_relaxed)) {
      std::exception_ptr e = std::exchange(_state.error, nullptr);
      _state.failed.store(false, std::memory_order_relaxed);
      std::rethrow_exception(e);
    }
  }

 private:
  detail::scheduler* _sched;
  detail::group_state _state;
};

}  // namespace hotcore
