// SPDX-License-Identifier: MIT
// tests/lifecycle_test.cpp — creating and destroying a runtime: which cores it takes, that
// online_at_start=false leaves them OFFLINE, that bad options fail cleanly, and that the
// destructor runs every teardown and leaves no thread behind.
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;

TEST_CASE("create({}) takes every PU that hwloc reports and the affinity mask allows, and "
          "brings every core ONLINE") {
  std::error_code ec;
  const topology topo = load_topology(ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  auto rt = make_runtime();
  CHECK(rt->cores() == topo.worker_cores);
  CHECK(rt->cores() == allowed_cpus());
  CHECK(std::is_sorted(rt->cores().begin(), rt->cores().end()));
  CHECK(rt->online_cores() == rt->cores());
  for (unsigned c : rt->cores()) {
    CAPTURE(c);
    CHECK(rt->state(c) == ONLINE);
    CHECK(rt->target(c) == ONLINE);
    CHECK(rt->core_online(c));
    CHECK(rt->core_active(c));
    CHECK(rt->fail(c) == -1);
  }
}

TEST_CASE("load_topology() describes the machine: every PU by OS index, the allowed ones as "
          "worker cores; topology_text() is one summary line, one line per PU and one per cache") {
  std::error_code ec;
  const topology topo = load_topology(ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  CHECK(topo.packages >= 1);
  CHECK(topo.cores >= 1);
  REQUIRE_FALSE(topo.pus.empty());
  std::vector<unsigned> allowed;
  for (const auto& pu : topo.pus) {
    CAPTURE(pu.os_index);
    if (!pu.allowed || !pu.online) continue;
    // A PU outside the affinity mask (taskset) has no core or package from hwloc here.
    CHECK(pu.core >= 0);
    CHECK(pu.package >= 0);
    allowed.push_back(pu.os_index);
  }
  std::sort(allowed.begin(), allowed.end());
  CHECK(topo.worker_cores == allowed);
  CHECK(topo.worker_cores == allowed_cpus());
  const std::string text = topology_text(topo);
  CHECK(std::count(text.begin(), text.end(), '\n') ==
        static_cast<long>(topo.pus.size() + topo.caches.size() + 1));
}

TEST_CASE("runtime_options{.online_at_start = false} leaves every core OFFLINE; .cores picks "
          "the worker cores") {
  TWO_CPUS(c);
  SUBCASE("both cores") {
    auto rt = offline_runtime(c);
    CHECK(rt->cores() == std::vector<unsigned>{c.a, c.b});
    CHECK(rt->online_cores().empty());
    for (unsigned c : rt->cores()) {
      CHECK(rt->state(c) == OFFLINE);
      CHECK_FALSE(rt->core_online(c));
      CHECK_FALSE(rt->core_active(c));
    }
    CHECK(rt->core_up(c.b) == 0);
    CHECK(rt->online_cores() == std::vector<unsigned>{c.b});
    CHECK(rt->core_down(c.b) == -EBUSY);  // the only active core
  }
  SUBCASE("one core") {
    auto rt = make_runtime(runtime_options{.cores = {c.b}, .online_at_start = false});
    CHECK(rt->cores() == std::vector<unsigned>{c.b});
    CHECK(rt->state(c.b) == OFFLINE);
    CHECK(rt->state(c.a) == -EINVAL);
    CHECK(rt->core_up(c.a) == -EINVAL);
    CHECK(rt->core_up(c.b) == 0);
    CHECK(rt->state(c.b) == ONLINE);
  }
  SUBCASE("cores listed out of order are reported ascending, and brought ONLINE") {
    auto rt = make_runtime(runtime_options{.cores = {c.b, c.a}});
    CHECK(rt->cores() == std::vector<unsigned>{c.a, c.b});
    CHECK(rt->online_cores() == std::vector<unsigned>{c.a, c.b});
  }
}

TEST_CASE("create() with a core the process may not run on returns nullptr and sets ec") {
  const int before = thread_count();
  for (const std::vector<unsigned>& cores :
       {std::vector<unsigned>{999}, std::vector<unsigned>{0, 999}, std::vector<unsigned>{5000},
        std::vector<unsigned>{1, 64}}) {
    for (bool online : {true, false}) {
      std::error_code ec;
      auto rt = runtime::create(runtime_options{.cores = cores, .online_at_start = online}, ec);
      CHECK(rt == nullptr);
      CHECK(ec);
    }
  }
  CHECK(settle_thread_count(before) == before);
}

TEST_CASE("~runtime() takes every core to OFFLINE, running the teardowns of every installed "
          "state in reverse order, and joins every thread it started") {
  TWO_CPUS(cpu);
  const int before = thread_count();
  event_log log;
  ledger led;
  named_node a("a"), b("b");
  {
    auto rt = make_runtime(runtime_options{.cores = {cpu.a, cpu.b}});
    CHECK(thread_count() > before);
    REQUIRE(logged_state(*rt, ARENA_PREPARE, "life/p:prepare", log, "p") == 0);
    REQUIRE(logged_state(*rt, AP_USER_STARTING_1, "life/s:starting", log, "s") == 0);
    REQUIRE(logged_state(*rt, ONLINE_DYN, "life/o:online", log, "o") == ONLINE_DYN);
    REQUIRE(logged_state(*rt, PREPARE_DYN, "life/dp:prepare", led, "dp") == PREPARE_DYN);
    const int m = logged_multi_state(*rt, ONLINE_DYN, "life/m:online", log, "m");
    REQUIRE(m == ONLINE_DYN + 1);
    REQUIRE(rt->add_instance(m, &a) == 0);
    REQUIRE(rt->add_instance(m, &b) == 0);
    log.clear();
  }
  CHECK(settle_thread_count(before) == before);
  CHECK(led.held_keys() == std::vector<std::string>{});
  CHECK(led.violations() == std::vector<std::string>{});
  CHECK(led.releases() == 2);

  // Per core, every teardown once, in descending state order; cores in any order.
  std::map<std::string, std::vector<std::string>> per_core;
  for (const auto& e : log.take()) {
    CHECK(e.rfind("down ", 0) == 0);
    const auto pos = e.find(" core");
    REQUIRE(pos != std::string::npos);
    per_core[e.substr(pos + 1, e.find(' ', pos + 1) - pos - 1)].push_back(e);
  }
  for (const std::string& core : {"core" + std::to_string(cpu.a), "core" + std::to_string(cpu.b)}) {
    const std::vector<std::string> expected = {
        "down m " + core + " a", "down m " + core + " b", "down o " + core,
        "down s " + core,        "down p " + core,
    };
    CHECK(per_core[core] == expected);
  }
}

TEST_CASE("~runtime() tears down only what is up: a core already OFFLINE runs no teardown, "
          "one halfway runs the teardowns below its state") {
  TWO_CPUS(cpu);
  event_log log;
  {
    auto rt = make_runtime(runtime_options{.cores = {cpu.a, cpu.b}});
    REQUIRE(logged_state(*rt, ARENA_PREPARE, "half/p:prepare", log, "p") == 0);
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "half/w:online", log, "w") == 0);
    REQUIRE(logged_state(*rt, ONLINE_DYN, "half/o:online", log, "o") == ONLINE_DYN);
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->set_target(cpu.a, AP_USER_ONLINE) == -EBUSY);  // core 0 is the last active
    REQUIRE(rt->core_up(cpu.b) == 0);
    REQUIRE(rt->set_target(cpu.a, AP_USER_ONLINE) == 0);
    REQUIRE(rt->core_down(cpu.b) == -EBUSY);
    log.clear();
    REQUIRE(rt->state(cpu.b) == ONLINE);
    REQUIRE(rt->state(cpu.a) == AP_USER_ONLINE);
  }
  auto got = log.take();
  const std::string a = " core" + std::to_string(cpu.a), b = " core" + std::to_string(cpu.b);
  std::vector<std::string> on_a, on_b;
  for (const auto& e : got) (e.ends_with(a) ? on_a : on_b).push_back(e);
  CHECK(on_a == std::vector<std::string>{"down w" + a, "down p" + a});
  CHECK(on_b == std::vector<std::string>{"down o" + b, "down w" + b, "down p" + b});
}

TEST_CASE("~runtime() takes the cores down even while hotplug is disabled, with a failure "
          "armed, or with every core OFFLINE already") {
  TWO_CPUS(c);
  const int before = thread_count();
  ledger led;
  SUBCASE("hotplug disabled") {
    auto rt = make_runtime();
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "dis/w:online", led, "w") == 0);
    CHECK(rt->cpu_hotplug_disable() == 0);
  }
  SUBCASE("a failure armed") {
    auto rt = make_runtime();
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "armed/w:online", led, "w") == 0);
    REQUIRE(rt->set_fail(c.b, AP_USER_ONLINE) == 0);
  }
  SUBCASE("every core OFFLINE") {
    auto rt = make_runtime();
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "off/w:online", led, "w") == 0);
    REQUIRE(rt->core_down(c.b) == 0);
  }
  SUBCASE("never brought up") {
    auto rt = offline_runtime(c);
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "never/w:online", led, "w") == 0);
  }
  CHECK(led.held_keys() == std::vector<std::string>{});
  CHECK(led.violations() == std::vector<std::string>{});
  CHECK(settle_thread_count(before) == before);
}

TEST_CASE("creating and destroying runtimes repeatedly leaves no thread behind") {
  TWO_CPUS(c);
  const int before = thread_count();
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    auto rt = i % 2 == 0 ? make_runtime() : offline_runtime(c);
    if (i % 4 == 1) REQUIRE(rt->core_up(c.a) == 0);
    if (i % 4 == 2) REQUIRE(rt->core_down(c.b) == 0);
  }
  CHECK(settle_thread_count(before) == before);
}
