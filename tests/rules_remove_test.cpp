// SPDX-License-Identifier: MIT
// tests/rules_remove_test.cpp — the spec's rules for removing a state: the
// teardowns it invokes, the _nocalls variants, a failing teardown, -ENOENT and -EPERM.
#include <cerrno>
#include <string>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;

// ---- removal

TEST_CASE("cpuhp_remove_state() removes the callbacks and invokes the teardown callback for "
          "all CPUs which have currently a state at or past the removed state") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  const int dyn = logged_state(*rt, ONLINE_DYN, "rm/dyn:online", log, "dyn");
  REQUIRE(dyn == ONLINE_DYN);
  REQUIRE(logged_state(*rt, ARENA_PREPARE, "rm/arena:prepare", log, "arena") == 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  log.clear();

  CHECK(rt->remove_state(dyn) == 0);  // core 1 is OFFLINE: core 0 only
  CHECK(log.take() == on(cpu, {"down dyn coreA"}));
  CHECK_FALSE(has_state(*rt, "rm/dyn:online"));
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up arena coreB"}));  // dyn is gone

  CHECK(rt->remove_state(ARENA_PREPARE) == 0);  // both cores, ascending
  CHECK(log.take() == on(cpu, {"down arena coreA", "down arena coreB"}));
  CHECK_FALSE(has_state(*rt, "rm/arena:prepare"));
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == no_events);
  // The static slot and the dynamic number can be set up again.
  CHECK(rt->setup_state(ARENA_PREPARE, "rm/arena2:prepare", nullptr, nullptr) == 0);
  const int eq = logged_state(*rt, ONLINE_DYN, "rm/eq:online", log, "eq");
  CHECK(eq == ONLINE_DYN);
  CHECK(log.take() == on(cpu, {"up eq coreA"}));
  // A core exactly at the removed state has run its startup: its teardown runs too.
  REQUIRE(rt->set_target(cpu.b, eq) == 0);
  CHECK(log.take() == on(cpu, {"up eq coreB"}));
  CHECK(rt->remove_state(eq) == 0);
  CHECK(log.take() == on(cpu, {"down eq coreA", "down eq coreB"}));
}

TEST_CASE("cpuhp_remove_state_nocalls() and cpuhp_remove_state_nocalls_cpuslocked() only "
          "remove the callbacks") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "rmn/a:online", log, "a") == 0);
  const int b = logged_state(*rt, PREPARE_DYN, "rmn/b:prepare", log, "b");
  REQUIRE(b == PREPARE_DYN);
  log.clear();
  CHECK(rt->remove_state_nocalls(AP_USER_ONLINE) == 0);
  {
    cpus_read_guard g(*rt);
    CHECK(rt->remove_state_nocalls_cpuslocked(b) == 0);
  }
  CHECK(log.take() == no_events);
  CHECK_FALSE(has_state(*rt, "rmn/a:online"));
  CHECK_FALSE(has_state(*rt, "rmn/b:prepare"));
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("remove_state(): In order to complete the removal, the teardown callback should not "
          "fail; a failing teardown is reported but the state is removed anyway") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu, AP_USER_ONLINE, "rmf/a:online", "a");
  log.fail_on(line_on(cpu, "down a coreA"), -EIO);
  CHECK(rt->remove_state(AP_USER_ONLINE) == -EIO);
  CHECK(log.take() == on(cpu, {"down a coreA fail", "down a coreB"}));
  CHECK_FALSE(has_state(*rt, "rmf/a:online"));
  CHECK(rt->remove_state(AP_USER_ONLINE) == -ENOENT);
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("remove_state*(): -ENOENT when nothing is installed at the state, -EPERM for the "
          "runtime's own states") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  CHECK(rt->remove_state(AP_USER_ONLINE) == -ENOENT);
  CHECK(rt->remove_state_nocalls(ARENA_PREPARE) == -ENOENT);
  CHECK(rt->remove_state(ONLINE_DYN + 5) == -ENOENT);
  CHECK(rt->remove_state(PREPARE_DYN) == -ENOENT);
  CHECK(rt->remove_multi_state(ONLINE_DYN) == -ENOENT);
  {
    cpus_read_guard g(*rt);
    CHECK(rt->remove_state_nocalls_cpuslocked(AP_ARENA_ONLINE) == -ENOENT);
  }
  for (int st : {THREADS_PREPARE, BRINGUP_CORE, AP_SCHED_STARTING, AP_ONLINE, AP_SCHED_ACTIVE}) {
    CAPTURE(st);
    CHECK(rt->remove_state(st) == -EPERM);
    CHECK(rt->remove_state_nocalls(st) == -EPERM);
  }
  for (const auto& row : builtin_states) CHECK(state_named(*rt, row.name) == row.state);
  // The built-ins still work.
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(rt->core_active(cpu.b));
}
