// SPDX-License-Identifier: MIT
// examples/core_timers.cpp — per-core timers: a task arms a timeout on its own core's
// wheel; the core goes down before it is due, and the timeout still fires once, on a core
// that stays. Memory for the request comes from the per-core allocator.
#include <hotcore/hotcore.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return 1;
  auto mem = hotcore::arena::create(*rt, ec);             // mm/arena:prepare + :online
  auto timers = hotcore::timer_service::create(*rt, ec);  // timers:prepare + :online
  if (!mem || !timers) {
    std::fprintf(stderr, "create: %s\n", ec.message().c_str());
    return 1;
  }
  const unsigned core = rt->cores().back();
  std::atomic<int> fired_on{-2};
  std::atomic<bool> armed{false};
  // A "request" on the last core: a buffer from its cache, and a 20 ms timeout.
  int ret = rt->submit_on(core, [&] {
    char* request = static_cast<char*>(mem->allocate(256));
    std::strcpy(request, "GET /");
    timers->arm_after(std::chrono::milliseconds(20), [&, request] {
      std::printf("timeout for \"%s\" fired on core %d\n", request, rt->this_core());
      mem->deallocate(request);  // freed on whichever core it fired: fine
      fired_on = rt->this_core();
    });
    armed = true;
  });
  if (ret != 0) return 1;
  while (!armed) std::this_thread::yield();
  if (rt->cores().size() > 1) {
    ret = rt->core_down(core);  // "timers:online" teardown moves the timer away
    std::printf("core %u down: %s\n", core, ret == 0 ? "ok" : std::strerror(-ret));
  }
  while (fired_on == -2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  timers.reset();  // before the runtime
  const hotcore::arena_stats s = mem->stats();
  mem.reset();
  return fired_on >= 0 && s.allocated == s.freed ? 0 : 1;
}
