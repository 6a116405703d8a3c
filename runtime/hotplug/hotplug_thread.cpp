// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_thread.cpp — the per-core hotplug thread's request loop.
#include "hotplug/hotplug_thread.h"
#include "chaos.h"
#include "sched/futex.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sched.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace hotcore::detail {
namespace {
thread_local bool is_hotplug_thread = false;

// linger_for is how long a hotplug thread that stays on its CPU looks for the next
// request before it sleeps: a core_up() followed by a core_down(), a core_down() followed
// by a core_up(), or the next instance call, finds it awake.
constexpr std::chrono::microseconds linger_for{50};

}  // namespace

bool hotplug_thread::on_hotplug_thread() noexcept { return is_hotplug_thread; }

int hotplug_thread::start(const char* name) {
  if (_thread.joinable()) return 0;
  try {
    _thread = std::thread([this] { loop(); });
  } catch (const std::system_error& e) {
    return e.code().value() > 0 ? -e.code().value() : -EAGAIN;
  }
  // The tid is needed right away for pinning: wait until the thread published it.
  while (_tid.load(std::memory_order_acquire) == 0) _tid.wait(0, std::memory_order_acquire);
  (void)pthread_setname_np(_thread.native_handle(), name);
  return 0;
}

void hotplug_thread::post(const function_ref& fn, bool linger) {
  HOTCORE_CHAOS_POINT("handover:request");
  _fn = &fn;
  _linger = linger;
  // relaxed: only the control thread writes _request.
  const std::uint32_t n = _request.load(std::memory_order_relaxed) + 1;
  // seq_cst (a release too: publishes _fn and _linger to the thread's acquire load of
  // _request): ordered before the load of _sleeping below, against the thread's seq_cst
  // store of _sleeping before its last look at _request. Either the thread sees this
  // request, or this sees it sleeping and wakes it; a lingering thread costs no syscall.
  _request.store(n, std::memory_order_seq_cst);
  if (_sleeping.load(std::memory_order_seq_cst)) futex_wake(_request, 1);
}

int hotplug_thread::wait() {
  HOTCORE_CHAOS_POINT("handover:wait");
  // relaxed: only the control thread writes _request; the last post()'s number.
  const std::uint32_t n = _request.load(std::memory_order_relaxed);
  // The hand-over is short (a walk of callbacks): look for the answer a while before
  // sleeping, so it does not cost a second wake-up. First with pauses, briefly, then
  // yielding the CPU between looks: the hotplug thread may run on this very CPU (cores
  // that share a CPU, or a core going down that leaves its CPU to the machine in
  // core:bringup), where a pausing spin would keep it from finishing (it did, for 0.5 ms,
  // in `hotcore cycle`).
  for (int spin = 0; spin < 64; ++spin) {
    if (_done.load(std::memory_order_acquire) == n) return _result;
    cpu_relax();
  }
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::microseconds(100)) {
    if (_done.load(std::memory_order_acquire) == n) return _result;
    sched_yield();
  }
  std::uint32_t d;
  // acquire: pairs with the thread's release store of _done, publishing _result and every
  // effect of fn (the state it advanced, the trace it wrote).
  while ((d = _done.load(std::memory_order_acquire)) != n) _done.wait(d, std::memory_order_acquire);
  return _result;
}

void hotplug_thread::stop() {
  if (!_thread.joinable()) return;
  _stopping = true;
  // release: publishes _stopping.
  _request.fetch_add(1, std::memory_order_release);
  futex_wake(_request, 1);
  _thread.join();
}

void hotplug_thread::loop() {
  is_hotplug_thread = true;
  // release: publishes the tid to start().
  _tid.store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_release);
  _tid.notify_all();
  std::uint32_t seen = 0;
  bool linger = false;
  for (;;) {
    if (linger) {
      // Yielding, not pausing, between looks: the caller (or the core's worker) may share
      // this CPU, and must not wait for the linger to end.
      const auto until = std::chrono::steady_clock::now() + linger_for;
      // relaxed: only a hint; the acquire load below reads the request for real.
      while (_request.load(std::memory_order_relaxed) == seen &&
             std::chrono::steady_clock::now() < until)
        sched_yield();
    }
    std::uint32_t r;
    // acquire: pairs with post()/stop()'s store, so _fn, _linger and _stopping are visible.
    while ((r = _request.load(std::memory_order_acquire)) == seen) {
      // seq_cst: see post(); the flag is raised before the last look at _request.
      _sleeping.store(true, std::memory_order_seq_cst);
      // A raw futex (sched/futex.h), right away, without the spinning std::atomic::wait
      // does first: a thread that sleeps can be re-pinned cheaply, one still spinning on
      // its core has to be migrated by the kernel.
      if (_request.load(std::memory_order_seq_cst) == seen) futex_wait(_request, seen);
      _sleeping.store(false, std::memory_order_relaxed);  // relaxed: only saves a wake
    }
    seen = r;
    if (_stopping) return;
    linger = _linger;  // read now: once _done is stored, the next post() may write it
    HOTCORE_CHAOS_POINT("handover:run");
    defer_wakes();  // the wake-ups fn may defer are issued once the caller has its result
    _result = (*_fn)();
    HOTCORE_CHAOS_POINT("handover:done");
    // release: publishes _result and fn's effects to run().
    _done.store(seen, std::memory_order_release);
    _done.notify_one();
    flush_wakes();
  }
}

}  // namespace hotcore::detail
