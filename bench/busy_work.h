// SPDX-License-Identifier: MIT
// bench/busy_work.h — calibrated CPU work for bench/pool_server: a dependent xorshift chain
// whose iterations per microsecond are measured on CPU time (not wall time), so a
// throttled or preempted calibration still counts only the CPU it got.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ctime>

namespace bench {

// spin() runs `iterations` dependent xorshift steps and returns the last value.
inline std::uint64_t spin(std::uint64_t iterations) noexcept {
  std::uint64_t x = 88172645463325252ULL;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    asm volatile("" : "+r"(x));  // one step at a time: no vectorising, no folding
  }
  return x;
}

inline double thread_cpu_us() noexcept {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// calibrate_spin() is spin()'s iterations per µs of this thread's CPU time, the best of
// a few 20 ms rounds.
inline double calibrate_spin() noexcept {
  constexpr std::uint64_t round = 1'000'000;
  std::uint64_t sink = spin(round);  // warm up
  double best = 1e300;
  std::uint64_t n = round;
  for (int r = 0; r < 7; ++r) {
    const double t0 = thread_cpu_us();
    sink ^= spin(n);
    const double us = thread_cpu_us() - t0;
    if (us < 1000) n *= 4;  // too short to time: longer rounds
    else best = std::min(best, us / static_cast<double>(n));
  }
  asm volatile("" : : "r"(sink));
  return best < 1e300 ? 1.0 / best : 1.0;
}

}  // namespace bench
