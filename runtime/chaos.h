// SPDX-License-Identifier: MIT
// runtime/chaos.h — reproducible chaos for the concurrent parts, for tests only: with
// `meson -Dchaos=true`, HOTCORE_CHAOS_POINT("name") at a synchronisation point makes the
// thread yield, spin or sleep a few µs there, chosen by a per-thread PRNG from one seed;
// without the option it compiles to nothing.
//
// The choice is PCT-style (probabilistic concurrency testing): each thread draws a
// priority, and a few change points (its Nth point) where its priority drops to the
// lowest; the lower a thread's priority, the more often it sleeps at a point, so other
// threads overtake it in places a quiet machine never shows. The seed is HOTCORE_SEED
// (or a fresh one) and is printed once per process, so any failing run names it; the
// same seed makes the same choices per thread (which thread gets which stream follows
// the order in which threads first reach a point).
#pragma once

#ifndef HOTCORE_CHAOS
#define HOTCORE_CHAOS_POINT(name) ((void)0)
#else
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace hotcore::detail::chaos {

// splitmix64: a small, good PRNG step.
inline std::uint64_t next(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// seed() is HOTCORE_SEED, or one drawn from the clock; printed once, at the first point.
inline std::uint64_t seed() noexcept {
  static const std::uint64_t s = [] {
    const char* v = std::getenv("HOTCORE_SEED");
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const std::uint64_t x = v != nullptr && *v != '\0'
                                ? std::strtoull(v, nullptr, 10)
                                : (static_cast<std::uint64_t>(now.tv_nsec) ^ static_cast<std::uint64_t>(::getpid())) % 1000000007u;
    std::fprintf(stderr, "hotcore chaos: seed %llu (HOTCORE_SEED=%llu repeats it)\n",
                 static_cast<unsigned long long>(x), static_cast<unsigned long long>(x));
    return x;
  }();
  return s;
}

constexpr unsigned priorities = 8;
constexpr unsigned change_points = 3;
constexpr std::uint32_t horizon = 4096;  // change points fall among a thread's first points

struct thread_state {
  std::uint64_t rng;
  std::uint32_t hits = 0;
  std::uint32_t change[change_points];
  unsigned priority;
};

inline thread_state make_thread_state() noexcept {
  // relaxed: only hands out stream numbers.
  static std::atomic<std::uint64_t> threads{0};
  thread_state t{};
  t.rng = seed() ^ (0xd1b54a32d192ed03ull * (threads.fetch_add(1, std::memory_order_relaxed) + 1));
  t.priority = static_cast<unsigned>(next(t.rng) % priorities);
  for (auto& c : t.change) c = 1 + static_cast<std::uint32_t>(next(t.rng) % horizon);
  return t;
}

// point() delays the calling thread, or not, as its stream says.
inline void point(const char* /*name*/) noexcept {
  thread_local thread_state t = make_thread_state();
  ++t.hits;
  for (std::uint32_t c : t.change)
    if (t.hits == c) t.priority = 0;
  const unsigned low = priorities - 1 - t.priority;  // 0 (highest) .. 7 (lowest priority)
  const unsigned r = static_cast<unsigned>(next(t.rng) % 1000);
  if (r < 4 + low * 6) {
    const timespec d{0, static_cast<long>(1000 + next(t.rng) % 40000)};  // 1-40 µs
    ::nanosleep(&d, nullptr);
  } else if (r < 60 + low * 10) {
    ::sched_yield();
  } else if (r < 160) {
    for (std::uint64_t i = 0, n = next(t.rng) % 2000; i < n; ++i) __asm__ __volatile__("" ::: "memory");
  }
}

}  // namespace hotcore::detail::chaos

#define HOTCORE_CHAOS_POINT(name) ::hotcore::detail::chaos::point(name)
#endif
