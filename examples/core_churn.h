// SPDX-License-Identifier: MIT
// examples/core_churn.h — the servers' --churn-ms: a thread takes one worker core down and
// brings it back every churn_ms, round-robin over the cores, while the server serves.
#pragma once

#include <hotcore/hotcore.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

// core_churn runs the churn thread from construction to stop() (or destruction). It does
// nothing with churn_ms 0 or a single core, and never takes the last core down.
class core_churn {
 public:
  core_churn(hotcore::runtime& rt, long churn_ms) : _thread([this, &rt, churn_ms] {
    const auto& cores = rt.cores();
    for (std::size_t i = 0; churn_ms > 0 && cores.size() > 1 && !_stop; ++i)
      cycle(rt, cores[i % cores.size()], std::chrono::milliseconds(churn_ms / 2));
  }) {}
  ~core_churn() { stop(); }
  core_churn(const core_churn&) = delete;
  core_churn& operator=(const core_churn&) = delete;

  void stop() {
    _stop = true;
    if (_thread.joinable()) _thread.join();
  }
  // cycles() counts the completed down+up cycles.
  long cycles() const { return _cycles.load(std::memory_order_relaxed); }

 private:
  // cycle() takes core down for `half`, then brings it back up.
  void cycle(hotcore::runtime& rt, unsigned core, std::chrono::milliseconds half) {
    std::this_thread::sleep_for(half);
    if (const int r = rt.core_down(core); r != 0) {  // e.g. the governor has it down
      std::fprintf(stderr, "core_down(%u): %s\n", core, std::strerror(-r));
      return;
    }
    std::this_thread::sleep_for(half);
    int r;
    while ((r = rt.core_up(core)) != 0 && !_stop) {
      // -EHOSTDOWN: the kernel has the CPU offline (the machine's state): wait for it.
      if (r != -EHOSTDOWN) std::fprintf(stderr, "core_up(%u): %s\n", core, std::strerror(-r));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (r == 0) _cycles.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  }

  std::atomic<bool> _stop{false};
  std::atomic<long> _cycles{0};
  std::thread _thread;  // last: it starts once the members above exist
};
