// SPDX-License-Identifier: MIT
// tools/control_cpu.h — where a thread that times a core's moves runs: on a control CPU
// (the CPUs it may use but the core's own), as the kernel's cpu_down() runs on a CPU
// other than the one it takes down, or on the core's own CPU, to measure that case too.
// Shared by `hotcore cycle` and bench/.
#pragma once

#include <pthread.h>
#include <sched.h>

#include "hotcore/runtime.h"

namespace hotcore::tools {

// caller_place says where the timing thread runs while it moves a core.
enum class caller_place { control_cpu, core_cpu };

// caller_pin pins the calling thread for its lifetime and gives it back its mask after.
// control_cpu: every CPU the thread may use but the core's (no change when that leaves
// none); core_cpu: the core's CPU alone.
class caller_pin {
 public:
  caller_pin(const runtime& rt, unsigned core, caller_place where) noexcept {
    const int cpu = rt.cpu_of(core);
    if (cpu < 0 || pthread_getaffinity_np(pthread_self(), sizeof _old, &_old) != 0) return;
    cpu_set_t want = _old;
    if (where == caller_place::core_cpu) {
      CPU_ZERO(&want);
      CPU_SET(static_cast<unsigned>(cpu), &want);
    } else {
      CPU_CLR(static_cast<unsigned>(cpu), &want);
    }
    if (CPU_COUNT(&want) == 0) return;
    _pinned = pthread_setaffinity_np(pthread_self(), sizeof want, &want) == 0;
  }
  ~caller_pin() {
    if (_pinned) (void)pthread_setaffinity_np(pthread_self(), sizeof _old, &_old);
  }
  caller_pin(const caller_pin&) = delete;
  caller_pin& operator=(const caller_pin&) = delete;
  // pinned() is true when the thread runs where it was asked to.
  [[nodiscard]] bool pinned() const noexcept { return _pinned; }

 private:
  cpu_set_t _old{};
  bool _pinned = false;
};

}  // namespace hotcore::tools
