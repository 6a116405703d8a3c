// SPDX-License-Identifier: MIT
// tests/quota_pacer_test.cpp — Description: the pacer of a fractional CPU limit on a
// simulated clock: busy on every core, no period-long window ever uses more than the
// quota (the kernel would throttle), yet the extra core runs and most of the quota is
// used; whole limits, no limit and floor rounding are not paced; an idle process is
// looked at rarely.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "quota/quota_pacer.h"

using hotcore::detail::quota_pacer;

namespace {

constexpr std::int64_t ms = 1'000'000;

// busy_run() drives the pacer for `span` ns of a process whose cores are all busy, with
// `others` ns of CPU per ns outside the pool, and returns the CPU-time curve (time, cpu).
struct point {
  std::int64_t t, cpu;
};
// busy(t) says whether the cores have work at t (they idle otherwise).
template <class Busy>
std::vector<point> busy_run(quota_pacer& p, unsigned full, double others, std::int64_t span,
                            int& caps, int& frees, Busy busy) {
  std::vector<point> curve{{0, 0}};
  std::int64_t t = 0, cpu = 0;
  unsigned cap = p.look(t, cpu);
  while (t < span) {
    const std::int64_t dt = p.next_look_ns();
    const unsigned cores = !busy(t) ? 0 : cap == 0 ? full : cap;
    t += dt;
    cpu += static_cast<std::int64_t>(static_cast<double>(dt) * (cores + others));
    curve.push_back({t, cpu});
    const unsigned next = p.look(t, cpu);
    if (cap == 0 && next != 0) ++caps;
    if (cap != 0 && next == 0) ++frees;
    cap = next;
  }
  return curve;
}

// cpu_at() interpolates the curve (CPU grows linearly between looks).
double cpu_at(const std::vector<point>& c, double t) {
  auto it = std::lower_bound(c.begin(), c.end(), t, [](const point& p, double v) { return p.t < v; });
  if (it == c.begin()) return static_cast<double>(c.front().cpu);
  if (it == c.end()) return static_cast<double>(c.back().cpu);
  const point& b = *it;
  const point& a = *(it - 1);
  return static_cast<double>(a.cpu) + static_cast<double>(b.cpu - a.cpu) * (t - static_cast<double>(a.t)) /
                                          static_cast<double>(b.t - a.t);
}

// max_window_use() is the most CPU any window of `period` used: the curve is piecewise
// linear, so it is enough to try windows that start or end at a look.
double max_window_use(const std::vector<point>& c, std::int64_t period) {
  double most = 0;
  for (const point& p : c) {
    const auto t = static_cast<double>(p.t);
    if (p.t >= period) most = std::max(most, static_cast<double>(p.cpu) - cpu_at(c, t - static_cast<double>(period)));
    if (p.t + period <= c.back().t) most = std::max(most, cpu_at(c, t + static_cast<double>(period)) - static_cast<double>(p.cpu));
  }
  return most;
}

}  // namespace

TEST_CASE("Never throttle itself below the limit: 1.5 CPUs on 2 busy cores, no period-long "
          "window uses more than the quota, and the extra core still runs (most of the quota "
          "is spent)") {
  for (const double others : {0.0, 0.02}) {
    for (const std::int64_t period_us : {100'000, 50'000}) {
      quota_pacer p(2 * ms, 40 * ms);
      const std::int64_t quota_us = period_us * 3 / 2;
      p.set_limit(quota_us, period_us, 2, 1);
      REQUIRE(p.pacing());
      int caps = 0, frees = 0;
      const auto curve = busy_run(p, 2, others, 2000 * ms, caps, frees, [](std::int64_t) { return true; });
      const std::int64_t period = period_us * 1000, quota = quota_us * 1000;
      CAPTURE(others);
      CAPTURE(period_us);
      CHECK(max_window_use(curve, period) <= static_cast<double>(quota));
      CHECK(caps > 0);
      CHECK(frees > 0);
      // Over the run the process used more than the floor's 1 CPU: the extra core ran.
      const double rate = static_cast<double>(curve.back().cpu) / static_cast<double>(curve.back().t);
      CHECK(rate > 1.3);
    }
  }
}

TEST_CASE("Bursts after idle spells (30 ms busy, 50 ms idle, and 200 ms busy, 300 ms idle) "
          "stay within the quota in every period-long window") {
  for (const std::int64_t busy_ms : {30, 200}) {
    quota_pacer p(2 * ms, 40 * ms);
    p.set_limit(150'000, 100'000, 2, 1);
    int caps = 0, frees = 0;
    const std::int64_t cycle = busy_ms * ms * 8 / 3;
    const auto curve = busy_run(p, 2, 0.01, 3000 * ms, caps, frees,
                                [&](std::int64_t t) { return t % cycle < busy_ms * ms; });
    CAPTURE(busy_ms);
    CHECK(max_window_use(curve, 100 * ms) <= 150.0 * ms);
  }
}

TEST_CASE("Whole limits, no limit and floor rounding have no extra core and are not paced") {
  quota_pacer p(2 * ms, 40 * ms);
  p.set_limit(200'000, 100'000, 2, 2);  // 2 CPUs, 2 cores
  CHECK_FALSE(p.pacing());
  CHECK(p.look(0, 0) == 0);
  CHECK(p.next_look_ns() == 0);
  p.set_limit(-1, 100'000, 2, 0);  // no limit
  CHECK_FALSE(p.pacing());
  p.set_limit(150'000, 100'000, 1, 1);  // floor rounding: 1 core for 1.5 CPUs
  CHECK_FALSE(p.pacing());
  p.set_limit(50'000, 100'000, 1, 0);  // half a CPU: one core, never fewer
  CHECK_FALSE(p.pacing());
}

TEST_CASE("An idle process is looked at only as often as a burst could spend the room: "
          "every 19 ms at 1.5 CPUs (2 cores would spend what the floor's core leaves in "
          "21 ms); a new limit forgets the cap") {
  quota_pacer p(2 * ms, 40 * ms);
  p.set_limit(150'000, 100'000, 2, 1);
  for (std::int64_t t = 0; t < 500 * ms; t += p.next_look_ns()) {
    CHECK(p.look(t, 0) == 0);
    CHECK(p.next_look_ns() >= 19 * ms);
  }
  // Spent at once: capped, looked at again soon.
  CHECK(p.look(510 * ms, 140 * ms) == 1);
  CHECK(p.next_look_ns() <= 4 * ms);
  p.set_limit(250'000, 100'000, 3, 2);
  CHECK(p.cap() == 0);
  CHECK(p.pacing());
}
