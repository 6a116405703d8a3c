// SPDX-License-Identifier: MIT
// examples/two_timer_services.cpp — two timer services on one runtime: each is an
// instance of the multi-instance states "timers:prepare" and "timers:online". A core
// that goes down hands the pending timers of both to a core that stays; each fires once.
#include <hotcore/hotcore.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return 1;
  // Request timeouts and retry back-offs, kept apart: two instances of the same states.
  auto timeouts = hotcore::timer_service::create(*rt, ec);
  auto retries = hotcore::timer_service::create(*rt, ec);
  if (!timeouts || !retries) {
    std::fprintf(stderr, "timer_service::create: %s\n", ec.message().c_str());
    return 1;
  }
  const unsigned last = rt->cores().back();
  std::atomic<int> fired{0};
  std::atomic<bool> armed{false};
  // Both armed from a task on the last core: they sit on that core's wheels.
  const int ret = rt->submit_on(last, [&] {
    timeouts->arm_after(std::chrono::milliseconds(20), [&] {
      std::printf("timeout fired on core %d\n", rt->this_core());
      fired++;
    });
    retries->arm_after(std::chrono::milliseconds(30), [&] {
      std::printf("retry fired on core %d\n", rt->this_core());
      fired++;
    });
    armed = true;
  });
  if (ret != 0) return 1;
  while (!armed) std::this_thread::yield();
  if (rt->cores().size() > 1 && rt->core_down(last) != 0) return 1;  // both timers move
  std::fputs(rt->states_text().c_str(), stdout);  // "  3: timers:prepare (2 instances)"
  while (fired < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Removing one service leaves the other working.
  timeouts.reset();
  std::atomic<bool> later{false};
  retries->arm_after(std::chrono::milliseconds(1), [&] { later = true; });
  while (!later) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const hotcore::timer_stats s = retries->stats();
  std::printf("retries: armed %llu, fired %llu, moved off a leaving core %llu\n",
              static_cast<unsigned long long>(s.armed), static_cast<unsigned long long>(s.fired),
              static_cast<unsigned long long>(s.migrated));
  retries.reset();  // before the runtime
  return fired == 2 ? 0 : 1;
}
