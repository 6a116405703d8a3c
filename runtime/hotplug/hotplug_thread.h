// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_thread.h — a core's hotplug thread (the kernel's cpuhp/N): it
// sleeps until the control thread hands it work, runs it, and hands back the result.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "non_copyable.h"

namespace hotcore::detail {

// function_ref is a non-owning reference to a callable returning int (no allocation).
class function_ref {
 public:
  template <class F>
  function_ref(F& f) noexcept  // NOLINT: implicit by design
      : _obj(&f), _call([](void* o) { return (*static_cast<F*>(o))(); }) {}
  int operator()() const { return _call(_obj); }

 private:
  void* _obj;
  int (*_call)(void*);
};

// hotplug_thread runs one request at a time for the control thread. Requests are
// serialized by the hotplug lock and the state mutex, so there is never more than one
// per thread; an operation over every core posts one to each core's thread, then waits
// for all of them, so the cores run their callbacks at the same time. The wake-ups a
// request defers (sched/futex.h's wake queue) are issued once its result is handed back.
class hotplug_thread : non_copyable {
 public:
  ~hotplug_thread() { stop(); }

  // start() creates the thread (once), named `name` (at most 15 characters, shown by
  // `top -H` and in /proc/PID/task/TID/comm); returns 0 or a negative errno.
  [[nodiscard]] int start(const char* name = "hc-hotplug");
  [[nodiscard]] bool started() const noexcept { return _thread.joinable(); }
  // run() runs fn on the thread and returns what it returned.
  // linger: see post().
  int run(function_ref fn, bool linger = false) {
    post(fn, linger);
    return wait();
  }
  // post() hands fn to the thread and returns at once; wait() waits until it ran and
  // returns what it returned. fn must stay alive until wait() returns, and every post()
  // is followed by one wait() before the next post(). linger: after fn the thread looks
  // for the next request a few microseconds before it sleeps (the next one then costs no
  // wake-up); only for an fn after which the thread stays alone on its own CPU, which the
  // machine does not need (hotplug_engine::linger() is the rule).
  void post(const function_ref& fn, bool linger = false);
  int wait();
  // tid() is the thread's kernel id (for placement: platform/placement.h).
  [[nodiscard]] pid_t tid() const noexcept { return _tid.load(std::memory_order_acquire); }
  // stop() ends and joins the thread.
  void stop();

  // on_hotplug_thread() is true on any runtime's hotplug thread.
  [[nodiscard]] static bool on_hotplug_thread() noexcept;

 private:
  void loop();

  std::thread _thread;
  std::atomic<pid_t> _tid{0};
  std::atomic<std::uint32_t> _request{0};  // bumped by run() / stop()
  std::atomic<std::uint32_t> _done{0};     // set to the request number when it finished
  // sleeping: the thread is in (or about to enter) futex_wait on _request, so post() has
  // to wake it; seq_cst on both sides (see post() and loop()).
  std::atomic<bool> _sleeping{false};
  const function_ref* _fn = nullptr;       // published by _request (release/acquire)
  bool _linger = false;                    // published by _request
  int _result = 0;                         // published by _done (release/acquire)
  bool _stopping = false;                  // published by _request
};

}  // namespace hotcore::detail
