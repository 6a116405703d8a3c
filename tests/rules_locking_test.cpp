// SPDX-License-Identifier: MIT
// tests/rules_locking_test.cpp — the spec's rules for the hotplug lock: -EDEADLK
// from callbacks and read-locked regions, cpus_read_lock nesting, the _cpuslocked variants.
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

// ---- -EDEADLK

namespace {

// reentry_probe calls every API function that must not be used from a hotplug callback,
// from a hotplug callback, once per arming, and records what each returned.
struct reentry_probe {
  runtime* rt = nullptr;
  cpu_pair cpu{};         // the runtime's two cores; callbacks on cpu.b run the probe
  int victim = -1;        // an installed single-instance state
  int multi_victim = -1;  // an installed multi-instance state, `attached` added to it
  named_node attached{"attached"};
  named_node spare{"spare"};
  std::atomic<bool> armed{false};
  std::atomic<int> ran{0};
  std::mutex mu;
  std::vector<std::pair<std::string, int>> results;

  int operator()() {
    if (!armed.exchange(false)) return 0;
    std::vector<std::pair<std::string, int>> r;
    r.emplace_back("setup_state", rt->setup_state(ONLINE_DYN, "reentry:online", nullptr, nullptr));
    r.emplace_back("setup_state_nocalls",
                   rt->setup_state_nocalls(AP_ARENA_ONLINE, "reentry:online", nullptr, nullptr));
    r.emplace_back("setup_state_cpuslocked",
                   rt->setup_state_cpuslocked(ONLINE_DYN, "reentry:online", nullptr, nullptr));
    r.emplace_back("setup_state_nocalls_cpuslocked",
                   rt->setup_state_nocalls_cpuslocked(PREPARE_DYN, "reentry:prepare", nullptr,
                                                      nullptr));
    r.emplace_back("setup_state_multi",
                   rt->setup_state_multi(ONLINE_DYN, "reentry:online", nullptr, nullptr));
    r.emplace_back("remove_state", rt->remove_state(victim));
    r.emplace_back("remove_state_nocalls", rt->remove_state_nocalls(victim));
    r.emplace_back("remove_state_nocalls_cpuslocked",
                   rt->remove_state_nocalls_cpuslocked(victim));
    r.emplace_back("remove_multi_state", rt->remove_multi_state(multi_victim));
    r.emplace_back("add_instance", rt->add_instance(multi_victim, &spare));
    r.emplace_back("add_instance_nocalls", rt->add_instance_nocalls(multi_victim, &spare));
    r.emplace_back("remove_instance", rt->remove_instance(multi_victim, &attached));
    r.emplace_back("remove_instance_nocalls", rt->remove_instance_nocalls(multi_victim, &attached));
    r.emplace_back("core_up", rt->core_up(cpu.b));
    r.emplace_back("core_down", rt->core_down(cpu.b));
    r.emplace_back("core_down(other)", rt->core_down(cpu.a));
    r.emplace_back("set_target", rt->set_target(cpu.b, OFFLINE));
    r.emplace_back("cpu_hotplug_disable", rt->cpu_hotplug_disable());
    r.emplace_back("cpu_hotplug_enable", rt->cpu_hotplug_enable());
    std::lock_guard lk(mu);
    results = std::move(r);
    ran.fetch_add(1);
    return 0;
  }

  // expect_refused() arms the probe and runs op, bounded (a deadlock fails the test): op
  // returns `expected`, the probe has run `runs` times in all, and every call of this run
  // was refused (check()).
  template <class Op>
  void expect_refused(const char* what, Op op, int expected, int runs, const char* where) {
    armed = true;
    int ret = -1;
    bounded(10s, what, [&] { ret = op(); });
    CHECK(ret == expected);
    CHECK(ran == runs);
    check(where);
  }

  // check() expects every call of the last run to have returned -EDEADLK and nothing to
  // have changed.
  void check(const char* where) {
    std::lock_guard lk(mu);
    INFO(where);
    REQUIRE(results.size() == 19u);
    for (const auto& [what, ret] : results) {
      INFO(what);
      CHECK(ret == -EDEADLK);
    }
    results.clear();
    CHECK(attached.attached_state == multi_victim);
    CHECK(spare.attached_state == -1);
    CHECK_FALSE(has_state(*rt, "reentry:online"));
    CHECK_FALSE(has_state(*rt, "reentry:prepare"));
    CHECK(state_named(*rt, "reentry/victim:online") == victim);
    CHECK(state_named(*rt, "reentry/mvictim:online") == multi_victim);
  }
};

// make_probe() makes the probe for rt, with its victims installed: a single-instance state
// at ONLINE_DYN and a multi-instance one at ONLINE_DYN + 1 with `attached` added.
std::shared_ptr<reentry_probe> make_probe(runtime& rt, const cpu_pair& cpu) {
  auto probe = std::make_shared<reentry_probe>();
  probe->rt = &rt;
  probe->cpu = cpu;
  probe->victim = rt.setup_state(ONLINE_DYN, "reentry/victim:online", nullptr, nullptr);
  probe->multi_victim = rt.setup_state_multi(ONLINE_DYN, "reentry/mvictim:online", nullptr,
                                             nullptr);
  REQUIRE(probe->victim == ONLINE_DYN);
  REQUIRE(probe->multi_victim == ONLINE_DYN + 1);
  REQUIRE(rt.add_instance(probe->multi_victim, &probe->attached) == 0);
  return probe;
}

}  // namespace

TEST_CASE("setup and removal functions cannot be used from within CPU hotplug callbacks: "
          "called from a callback they return -EDEADLK and never deadlock") {
  TWO_CPUS(cpu);
  named_node inst("inst"), other("other");
  auto rt = two_core_runtime(cpu);
  auto probe = make_probe(*rt, cpu);
  auto cb = [probe](unsigned core) { return core == probe->cpu.b ? (*probe)() : 0; };
  auto mcb = [probe](unsigned core, instance_node*) {
    return core == probe->cpu.b ? (*probe)() : 0;
  };

  REQUIRE(rt->setup_state(AP_USER_ONLINE, "reentry/online", cb, cb) == 0);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "reentry/prepare", cb, cb) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "reentry/starting", cb, cb) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "reentry/multi:online", mcb, mcb);
  REQUIRE(m == ONLINE_DYN + 2);
  REQUIRE(rt->add_instance(m, &inst) == 0);
  REQUIRE(rt->core_down(cpu.b) == 0);

  SUBCASE("from an ONLINE callback (the core's hotplug thread), during core_up") {
    REQUIRE(rt->remove_state_nocalls(ARENA_PREPARE) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_STARTING_1) == 0);
    REQUIRE(rt->remove_instance_nocalls(m, &inst) == 0);
    probe->expect_refused("core_up", [&] { return rt->core_up(cpu.b); }, 0, 1, "ONLINE callback");
  }
  SUBCASE("from a PREPARE callback (the caller's thread), during core_up") {
    probe->expect_refused("core_up", [&] { return rt->core_up(cpu.b); }, 0, 1, "PREPARE callback");
  }
  SUBCASE("from a STARTING callback, during core_down") {
    REQUIRE(rt->core_up(cpu.b) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_ONLINE) == 0);
    REQUIRE(rt->remove_instance_nocalls(m, &inst) == 0);
    probe->expect_refused("core_down", [&] { return rt->core_down(cpu.b); },
                          0, 1, "STARTING callback");
  }
  SUBCASE("from a multi-instance callback, during core_up") {
    REQUIRE(rt->remove_state_nocalls(ARENA_PREPARE) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_STARTING_1) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_ONLINE) == 0);
    probe->expect_refused("core_up", [&] { return rt->core_up(cpu.b); },
                          0, 1, "multi-instance callback");
  }
  SUBCASE("from the startup invoked by setup_state() and the teardown invoked by "
          "remove_state()") {
    REQUIRE(rt->core_up(cpu.b) == 0);
    const auto setup = [&] { return rt->setup_state(ONLINE_DYN, "reentry/x", cb, cb); };
    probe->expect_refused("setup_state", setup, ONLINE_DYN + 3, 1, "setup_state callback");
    probe->expect_refused("remove_state", [&] { return rt->remove_state(ONLINE_DYN + 3); },
                          0, 2, "remove_state callback");
  }
  SUBCASE("from the callbacks invoked by add_instance() and remove_instance()") {
    REQUIRE(rt->core_up(cpu.b) == 0);
    probe->expect_refused("add_instance", [&] { return rt->add_instance(m, &other); },
                          0, 1, "add_instance callback");
    probe->expect_refused("remove_instance", [&] { return rt->remove_instance(m, &other); },
                          0, 2, "remove_instance callback");
  }
  probe->armed = false;
  (void)rt->remove_instance_nocalls(probe->multi_victim, &probe->attached);
  (void)rt->remove_instance_nocalls(m, &inst);
}

TEST_CASE("The node list add/remove operations cannot be used from CPU hotplug read locked "
          "regions, nor can hotplug operations: under cpus_read_lock() they return -EDEADLK") {
  TWO_CPUS(cpu);
  named_node a("a"), b("b");
  auto [log, rt, m] = logged_multi_cores(cpu, "rl/m:online");
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  bounded(10s, "operations under cpus_read_lock", [&] {
    cpus_read_guard g(*rt);
    CHECK(rt->add_instance(m, &b) == -EDEADLK);
    CHECK(rt->add_instance_nocalls(m, &b) == -EDEADLK);
    CHECK(rt->remove_instance(m, &a) == -EDEADLK);
    CHECK(rt->remove_instance_nocalls(m, &a) == -EDEADLK);
    CHECK(rt->core_down(cpu.b) == -EDEADLK);
    CHECK(rt->set_target(cpu.b, OFFLINE) == -EDEADLK);
    CHECK(rt->core_up(cpu.b) == -EDEADLK);  // even when there is nothing to do
    {
      cpus_read_guard nested(*rt);
      CHECK(rt->core_down(cpu.b) == -EDEADLK);
    }
    CHECK(rt->core_down(cpu.b) == -EDEADLK);  // still held after the nested unlock
  });
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == m);
  CHECK(b.attached_state == -1);
  CHECK(rt->state(cpu.b) == ONLINE);
  // Unlocked, they work.
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(rt->core_down(cpu.b) == 0);
  CHECK(rt->core_up(cpu.b) == 0);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_instance(m, &b) == 0);
}

TEST_CASE("setup_state() and remove_state() take cpus_read_lock themselves, which nests: "
          "called while the caller holds it they work and invoke the callbacks") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  int dyn = -1;
  int removed = -1;
  bounded(10s, "setup_state under cpus_read_lock", [&] {
    cpus_read_guard g(*rt);
    dyn = logged_state(*rt, ONLINE_DYN, "nest/x:online", log, "x");
    removed = rt->remove_state(dyn);
  });
  CHECK(dyn == ONLINE_DYN);
  CHECK(removed == 0);
  const auto expected = on(cpu, {"up x coreA", "up x coreB", "down x coreA",
                                             "down x coreB"});
  CHECK(log.take() == expected);
}

TEST_CASE("If the setup function has to be called from a CPU hotplug read locked region, "
          "then the _cpuslocked() variants have to be used: without the lock held they are "
          "-ENOLCK; with it they work, and setup_state_cpuslocked() invokes the startups") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  CHECK(rt->setup_state_cpuslocked(ONLINE_DYN, "cl/x:online", log.startup("x"),
                                   log.teardown("x")) == -ENOLCK);
  CHECK(rt->setup_state_nocalls_cpuslocked(AP_USER_ONLINE, "cl/y:online", nullptr,
                                           nullptr) == -ENOLCK);
  REQUIRE(logged_state(*rt, AP_ARENA_ONLINE, "cl/z:online", log, "z") == 0);
  log.clear();
  CHECK(rt->remove_state_nocalls_cpuslocked(AP_ARENA_ONLINE) == -ENOLCK);
  CHECK(has_state(*rt, "cl/z:online"));
  CHECK_FALSE(has_state(*rt, "cl/x:online"));
  CHECK_FALSE(has_state(*rt, "cl/y:online"));
  CHECK(log.take() == no_events);
  bounded(10s, "_cpuslocked variants", [&] {
    cpus_read_guard g(*rt);
    CHECK(rt->setup_state_cpuslocked(ONLINE_DYN, "cl/x:online", log.startup("x"),
                                     log.teardown("x")) == ONLINE_DYN);
    CHECK(rt->setup_state_nocalls_cpuslocked(AP_USER_ONLINE, "cl/y:online", nullptr,
                                             nullptr) == 0);
    CHECK(rt->remove_state_nocalls_cpuslocked(AP_ARENA_ONLINE) == 0);
  });
  CHECK(log.take() == on(cpu, {"up x coreA", "up x coreB"}));
  CHECK(has_state(*rt, "cl/x:online"));
  CHECK(has_state(*rt, "cl/y:online"));
  CHECK_FALSE(has_state(*rt, "cl/z:online"));
}
