// runtime/hotplug/hotplug_thread.cpp — the per-core hotplug thread's request loop.
#include "hotplug/hotplug_thread.h"

#include <unistd.h>
#include <sys/syscall.h>

#include <cerrno>
#include <system_error>

namespace hotcore::detail {
namespace {
thread_local bool is_hotplug_thread = false;
}

bool hotplug_thread::on_hotplug_thread() noexcept { return is_hotplug_thread; }

int hotplug_thread::start() {
  if (_thread.joinable()) return 0;
  try {
    _thread = std::thread([this] { loop(); });
  } catch (const std::system_error& e) {
    return e.code().value() > 0 ? -e.code().value() : -EAGAIN;
  }
  // The tid is needed right away for pinning: wait until the thread published it.
  while (_tid.load(std::memory_order_acquire) == 0) _tid.wait(0, std::memory_order_acquire);
  return 0;
}

int hotplug_thread::run(function_ref fn) {
  _fn = &fn;
  // relaxed load: only the control thread writes _request.
  const std::uint32_t n = _request.load(std::memory_order_relaxed) + 1;
  // release: publishes _fn to the thread's acquire load of _request.
  _request.store(n, std::memory_order_release);
  _request.notify_one();
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
  _request.notify_one();
  _thread.join();
}

void hotplug_thread::loop() {
  is_hotplug_thread = true;
  // release: publishes the tid to start().
  _tid.store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_release);
  _tid.notify_all();
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t r;
    // acquire: pairs with run()/stop()'s release, so _fn and _stopping are visible.
    while ((r = _request.load(std::memory_order_acquire)) == seen)
      _request.wait(seen, std::memory_order_acquire);
    seen = r;
    if (_stopping) return;
    _result = (*_fn)();
    // release: publishes _result and fn's effects to run().
    _done.store(seen, std::memory_order_release);
    _done.notify_one();
  }
}

}  // namespace hotcore::detail
