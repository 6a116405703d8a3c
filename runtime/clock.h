// SPDX-License-Identifier: MIT
// runtime/clock.h — the runtime's one clock: CLOCK_MONOTONIC in nanoseconds, for timer
// deadlines, walk and parked-time statistics, poller deadlines and quota reaction times.
#pragma once

#include <time.h>

#include <cstdint>

namespace hotcore::detail {

inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace hotcore::detail
