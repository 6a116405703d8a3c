// SPDX-License-Identifier: MIT
// tests/stats_test.cpp — runtime::stats() (hotcore/stats.h) and its OpenMetrics rendering
// (hotcore/metrics.h): walks counted per core and direction, tasks moved off a leaving
// core, parked time, and the text format's rules.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <string>
#include <thread>

#include "allowed_cpus.h"
#include "hotcore/metrics.h"
#include "hotcore/runtime.h"

namespace {

using hotcore::core_stats;
using hotcore::runtime;
using hotcore::runtime_stats;

// One core is not enough: the last active core cannot go down.

std::unique_ptr<runtime> make() {
  std::error_code ec;
  auto rt = runtime::create({}, ec);
  REQUIRE_MESSAGE(rt != nullptr, "runtime::create: " << ec.message());
  return rt;
}

const core_stats& of(const runtime_stats& s, unsigned core) {
  for (const core_stats& c : s.cores)
    if (c.core == core) return c;
  FAIL("core " << core << " is not in stats()");
  return s.cores.front();
}

std::uint64_t bucket_sum(const hotcore::walk_stats& w) {
  return std::accumulate(w.buckets.begin(), w.buckets.end(), std::uint64_t{0});
}

}  // namespace

TEST_CASE("stats() lists every worker core, ONLINE and active after create()") {
  const auto rt = make();
  const runtime_stats s = rt->stats();
  REQUIRE(s.cores.size() == rt->cores().size());
  for (std::size_t i = 0; i < s.cores.size(); ++i) {
    CHECK(s.cores[i].core == rt->cores()[i]);
    CHECK(s.cores[i].state == rt->state(s.cores[i].core));
    CHECK(s.cores[i].active);
    CHECK(s.cores[i].up.count == 1);  // create() walked it up once
    CHECK(s.cores[i].down.count == 0);
  }
  CHECK_FALSE(s.machine.running);
}

TEST_CASE("stats() counts each walk once in its direction; last <= max, buckets add up") {
  NEEDS_TWO_CPUS();
  const auto rt = make();
  const unsigned core = rt->cores().back();
  const runtime_stats before = rt->stats();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(rt->core_down(core) == 0);
    REQUIRE(rt->core_up(core) == 0);
  }
  REQUIRE(rt->core_down(core) == 0);
  const runtime_stats after = rt->stats();
  const core_stats& b = of(before, core);
  const core_stats& a = of(after, core);
  CHECK(a.down.count - b.down.count == 4);
  CHECK(a.up.count - b.up.count == 3);
  CHECK_FALSE(a.active);
  CHECK(a.state == hotcore::OFFLINE);
  for (const hotcore::walk_stats* w : {&a.up, &a.down}) {
    CHECK(w->last_ns > 0);
    CHECK(w->last_ns <= w->max_ns);
    CHECK(w->max_ns <= w->sum_ns);
    CHECK(bucket_sum(*w) == w->count);
  }
  // A walk to where the core already is changes nothing and is not counted.
  REQUIRE(rt->core_down(core) == 0);
  CHECK(of(rt->stats(), core).down.count == a.down.count);
}

TEST_CASE("stats(): parked time grows while a core takes no tasks, not while it does") {
  NEEDS_TWO_CPUS();
  const auto rt = make();
  const unsigned core = rt->cores().back();
  const std::int64_t active_parked = of(rt->stats(), core).parked_ns;
  REQUIRE(rt->core_down(core) == 0);
  const std::int64_t p1 = of(rt->stats(), core).parked_ns;
  // Wait on the observable: the parked time of a down core keeps growing.
  std::int64_t p2 = p1;
  while (p2 == p1) p2 = of(rt->stats(), core).parked_ns;
  CHECK(p2 > p1);
  REQUIRE(rt->core_up(core) == 0);
  const std::int64_t p3 = of(rt->stats(), core).parked_ns;
  // Not a wait: an observation window for an absence (a slow machine shortens it, never
  // fails it): the parked time of an active core does not grow.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(of(rt->stats(), core).parked_ns == p3);  // active: frozen
  CHECK(p3 >= p2);
  CHECK(active_parked <= p1);
}

TEST_CASE("\"its queued tasks move to other online cores\": stats() counts them as moved") {
  NEEDS_TWO_CPUS();
  const auto rt = make();
  const unsigned core = rt->cores().back();
  std::atomic<bool> started{false}, release{false};
  std::atomic<int> ran{0};
  REQUIRE(rt->submit_on(core, [&] {
    started.store(true);
    while (!release.load()) std::this_thread::yield();
  }) == 0);
  while (!started.load()) std::this_thread::yield();
  constexpr int queued = 5;
  for (int i = 0; i < queued; ++i) REQUIRE(rt->submit_on(core, [&] { ran.fetch_add(1); }) == 0);
  const std::uint64_t moved_before = of(rt->stats(), core).tasks_moved;
  // core_down() moves the queued tasks at once, then waits for the running one.
  std::thread down([&] { CHECK(rt->core_down(core) == 0); });
  while (of(rt->stats(), core).tasks_moved - moved_before < queued) std::this_thread::yield();
  release.store(true);
  down.join();
  CHECK(of(rt->stats(), core).tasks_moved - moved_before == queued);
  REQUIRE(rt->shutdown() == 0);
  CHECK(ran.load() == queued);
  std::uint64_t run = 0;
  for (const core_stats& c : rt->stats().cores) run += c.tasks_run;
  CHECK(run >= queued + 1);
}

TEST_CASE("openmetrics_text(): families with TYPE and HELP, one walk histogram per core and "
          "direction, '# EOF' last") {
  const auto rt = make();
  const std::string text = hotcore::openmetrics_text(rt->stats());
  REQUIRE(text.size() > 6);
  CHECK(text.substr(text.size() - 6) == "# EOF\n");
  CHECK(text.find("# TYPE hotcore_walk_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# UNIT hotcore_walk_seconds seconds\n") != std::string::npos);
  CHECK(text.find("# TYPE hotcore_tasks_run counter\n") != std::string::npos);
  for (const unsigned core : rt->cores())
    for (const char* dir : {"up", "down"}) {
      const std::string labels = "core=\"" + std::to_string(core) + "\",dir=\"" + dir + "\"";
      CHECK(text.find("hotcore_walk_seconds_bucket{" + labels + ",le=\"+Inf\"}") != std::string::npos);
      CHECK(text.find("hotcore_walk_seconds_count{" + labels + "} ") != std::string::npos);
    }
  // Every counter sample carries _total; no line is empty.
  CHECK(text.find("hotcore_tasks_run_total{core=") != std::string::npos);
  CHECK(text.find("\n\n") == std::string::npos);
}

TEST_CASE("metrics_text() in the Prometheus format: TYPE and HELP name each counter's _total "
          "sample, no UNIT, no '# EOF'; the cgroup's throttling counters only with bandwidth") {
  const auto rt = make();
  hotcore::cpu_throttling cg;
  cg.periods = 60;
  cg.throttled_periods = 7;
  cg.throttled_ns = 1'500'000'000;
  const std::string none = hotcore::metrics_text(rt->stats(), hotcore::metrics_format::prometheus, &cg);
  CHECK(none.find("hotcore_cgroup_") == std::string::npos);  // bandwidth false: nothing to say
  cg.bandwidth = true;
  const std::string text = hotcore::metrics_text(rt->stats(), hotcore::metrics_format::prometheus, &cg);
  CHECK(text.find("# TYPE hotcore_tasks_run_total counter\n") != std::string::npos);
  CHECK(text.find("# HELP hotcore_tasks_run_total ") != std::string::npos);
  CHECK(text.find("# TYPE hotcore_core_parked_seconds_total counter\n") != std::string::npos);
  CHECK(text.find("# UNIT") == std::string::npos);
  CHECK(text.find("# EOF") == std::string::npos);
  CHECK(text.find("# HELP hotcore_cgroup_throttled_periods_total ") != std::string::npos);
  CHECK(text.find("\nhotcore_cgroup_periods_total 60\n") != std::string::npos);
  CHECK(text.find("\nhotcore_cgroup_throttled_periods_total 7\n") != std::string::npos);
  CHECK(text.find("\nhotcore_cgroup_throttled_seconds_total 1.500000000\n") != std::string::npos);
  const std::string om = hotcore::metrics_text(rt->stats(), hotcore::metrics_format::openmetrics, &cg);
  CHECK(om.find("# TYPE hotcore_cgroup_throttled_seconds counter\n# UNIT hotcore_cgroup_throttled_seconds "
                "seconds\n") != std::string::npos);
  CHECK(om.substr(om.size() - 6) == "# EOF\n");
}
