// SPDX-License-Identifier: MIT
// tests/rules_setup_test.cpp — the spec's rules for setting a state up: return
// values, dynamic ranges, startups for the cores at or past it, rollback of CPU 0 .. N-1.
#include <cerrno>
#include <string>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;

namespace {

// check_rolled_back() makes the startup of `tag` fail with `err` on core B, sets up `name`
// at `state` with it, and checks that the setup failed with err, core A's startup was
// rolled back, and no state `name` is installed.
void check_rolled_back(runtime& rt, event_log& log, const cpu_pair& cpu, int state,
                       const std::string& name, const std::string& tag, int err) {
  log.fail_on(line_on(cpu, "up " + tag + " coreB"), err);
  CHECK(logged_state(rt, state, name, log, tag) == err);
  const auto expected = on(cpu, {"up " + tag + " coreA", "up " + tag + " coreB fail",
                                 "down " + tag + " coreA"});
  CHECK(log.take() == expected);
  CHECK_FALSE(has_state(rt, name));
}

}  // namespace

// ---- return values

TEST_CASE("setup return value 0: Statically allocated state was successfully set up") {
  event_log log;
  auto rt = make_runtime();
  CHECK(rt->setup_state(ARENA_PREPARE, "ret/arena:prepare", log.startup("a"), nullptr) == 0);
  CHECK(logged_state(*rt, AP_USER_STARTING_1, "ret/timers:starting", log, "t") == 0);
  CHECK(logged_state(*rt, AP_ARENA_ONLINE, "ret/arena:online", log, "w") == 0);
  CHECK(rt->setup_state_nocalls(TIMERS_PREPARE, "ret/timers:prepare", nullptr,
                                log.teardown("tp")) == 0);
  CHECK(logged_multi_state(*rt, AP_USER_ONLINE, "ret/uring:online", log, "u") == 0);
  {
    cpus_read_guard g(*rt);
    CHECK(rt->setup_state_cpuslocked(CPU_PHYSICAL, "ret/physical", nullptr, nullptr) == 0);
    CHECK(rt->setup_state_nocalls_cpuslocked(AP_USER_STARTING_2, "ret/arena:starting", nullptr,
                                             nullptr) == 0);
  }
  CHECK(state_named(*rt, "ret/arena:prepare") == ARENA_PREPARE);
  CHECK(state_named(*rt, "ret/timers:starting") == AP_USER_STARTING_1);
  CHECK(state_named(*rt, "ret/timers:prepare") == TIMERS_PREPARE);
  CHECK(state_named(*rt, "ret/uring:online") == AP_USER_ONLINE);
  CHECK(state_named(*rt, "ret/arena:online") == AP_ARENA_ONLINE);
  CHECK(state_named(*rt, "ret/physical") == CPU_PHYSICAL);
  CHECK(state_named(*rt, "ret/arena:starting") == AP_USER_STARTING_2);
}

TEST_CASE("setup return value >0: Dynamically allocated state was successfully set up; the "
          "returned number is the state number which was allocated") {
  auto rt = make_runtime();
  const int p1 = rt->setup_state(PREPARE_DYN, "dyn/p1:prepare", nullptr, nullptr);
  const int p2 = rt->setup_state_nocalls(PREPARE_DYN, "dyn/p2:prepare", nullptr, nullptr);
  const int o1 = rt->setup_state(ONLINE_DYN, "dyn/o1:online", nullptr, nullptr);
  const int o2 = rt->setup_state_multi(ONLINE_DYN, "dyn/o2:online", nullptr, nullptr);
  int o3 = 0;
  {
    cpus_read_guard g(*rt);
    o3 = rt->setup_state_nocalls_cpuslocked(ONLINE_DYN, "dyn/o3:online", nullptr, nullptr);
  }
  CHECK(p1 == PREPARE_DYN);
  CHECK(p2 == PREPARE_DYN + 1);
  CHECK(o1 == ONLINE_DYN);
  CHECK(o2 == ONLINE_DYN + 1);
  CHECK(o3 == ONLINE_DYN + 2);
  CHECK(state_named(*rt, "dyn/p1:prepare") == p1);
  CHECK(state_named(*rt, "dyn/p2:prepare") == p2);
  CHECK(state_named(*rt, "dyn/o1:online") == o1);
  CHECK(state_named(*rt, "dyn/o2:online") == o2);
  CHECK(state_named(*rt, "dyn/o3:online") == o3);
  // The number is used as the @state argument for removal.
  CHECK(rt->remove_state(p1) == 0);
  CHECK(rt->remove_multi_state(o2) == 0);
  CHECK_FALSE(has_state(*rt, "dyn/p1:prepare"));
  CHECK_FALSE(has_state(*rt, "dyn/o2:online"));
}

TEST_CASE("setup return value <0: Operation failed, -EINVAL for a state that cannot be set "
          "up (out of range, INVALID, OFFLINE, ONLINE, NR_STATES) or an empty name") {
  event_log log;
  auto rt = make_runtime();
  for (int st : {static_cast<int>(INVALID), static_cast<int>(OFFLINE), static_cast<int>(ONLINE),
                 static_cast<int>(NR_STATES), NR_STATES + 1, -2, 1000}) {
    CAPTURE(st);
    CHECK(logged_state(*rt, st, "bad:state", log, "x") == -EINVAL);
    CHECK(rt->setup_state_nocalls(st, "bad:state", nullptr, nullptr) == -EINVAL);
    CHECK(rt->setup_state_multi(st, "bad:state", nullptr, nullptr) == -EINVAL);
  }
  CHECK(rt->setup_state(AP_USER_ONLINE, "", log.startup("x"), nullptr) == -EINVAL);
  CHECK(rt->setup_state(ONLINE_DYN, "", log.startup("x"), nullptr) == -EINVAL);
  CHECK(rt->setup_state_nocalls(PREPARE_DYN, "", nullptr, nullptr) == -EINVAL);
  CHECK(rt->setup_state_multi(ONLINE_DYN, "", nullptr, nullptr) == -EINVAL);
  CHECK(log.take() == no_events);
  // Nothing was installed and no dynamic number was used up.
  CHECK(rt->setup_state(ONLINE_DYN, "good:online", nullptr, nullptr) == ONLINE_DYN);
  CHECK(rt->setup_state(PREPARE_DYN, "good:prepare", nullptr, nullptr) == PREPARE_DYN);
}

TEST_CASE("setup return value <0: Operation failed, -EBUSY for a slot that is already set up "
          "or one of the runtime's own states") {
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "busy/first:online", nullptr, nullptr) == 0);
  CHECK(rt->setup_state(AP_USER_ONLINE, "busy/second:online", log.startup("second"),
                        nullptr) == -EBUSY);
  CHECK(rt->setup_state_nocalls(AP_USER_ONLINE, "busy/second:online", nullptr, nullptr) ==
        -EBUSY);
  CHECK(rt->setup_state_multi(AP_USER_ONLINE, "busy/second:online", nullptr, nullptr) ==
        -EBUSY);
  CHECK(state_named(*rt, "busy/first:online") == AP_USER_ONLINE);
  CHECK_FALSE(has_state(*rt, "busy/second:online"));
  for (const auto& row : builtin_states) {
    if (row.state == OFFLINE || row.state == ONLINE) continue;  // those are -EINVAL
    CAPTURE(row.name);
    CHECK(rt->setup_state(row.state, "busy/builtin", log.startup("b"), nullptr) == -EBUSY);
    CHECK(rt->setup_state_nocalls(row.state, "busy/builtin", nullptr, nullptr) == -EBUSY);
    CHECK(state_named(*rt, row.name) == row.state);
  }
  CHECK(log.take() == no_events);
  CHECK_FALSE(has_state(*rt, "busy/builtin"));
}

// ---- dynamic ranges

TEST_CASE("Only the PREPARE and ONLINE sections provide a dynamic allocation range: 20 "
          "PREPARE states and 40 ONLINE states, then -ENOSPC; the STARTING section has none") {
  auto rt = make_runtime();
  std::vector<int> prepare, online;
  for (int i = 0; i < 20; ++i)
    prepare.push_back(rt->setup_state(PREPARE_DYN, "range/p" + std::to_string(i) + ":prepare",
                                      nullptr, nullptr));
  for (int i = 0; i < 40; ++i)
    online.push_back(rt->setup_state_nocalls(ONLINE_DYN,
                                             "range/o" + std::to_string(i) + ":online", nullptr,
                                             nullptr));
  for (int i = 0; i < 20; ++i) {
    CHECK(prepare[i] == PREPARE_DYN + i);
    CHECK(section_of(prepare[i]) == section::prepare);
  }
  for (int i = 0; i < 40; ++i) {
    CHECK(online[i] == ONLINE_DYN + i);
    CHECK(section_of(online[i]) == section::online);
  }
  CHECK(rt->setup_state(PREPARE_DYN, "range/full:prepare", nullptr, nullptr) == -ENOSPC);
  CHECK(rt->setup_state_nocalls(PREPARE_DYN, "range/full:prepare", nullptr, nullptr) == -ENOSPC);
  CHECK(rt->setup_state(ONLINE_DYN, "range/full:online", nullptr, nullptr) == -ENOSPC);
  CHECK(rt->setup_state_multi(ONLINE_DYN, "range/full:online", nullptr, nullptr) == -ENOSPC);
  CHECK_FALSE(has_state(*rt, "range/full:prepare"));
  CHECK_FALSE(has_state(*rt, "range/full:online"));
  // The static slots next to the ranges are not taken by dynamic allocation.
  CHECK(rt->setup_state(CPU_PHYSICAL, "range/physical", nullptr, nullptr) == 0);
  CHECK(rt->setup_state(AP_USER_ONLINE, "range/uring:online", nullptr, nullptr) == 0);
  for (int st = AP_SCHED_STARTING; st <= AP_ONLINE; ++st) CHECK_FALSE(is_dynamic(st));

  // "If the state is in the dynamic range, then the state number is freed and available for
  // dynamic allocation again" — the first free one is handed out.
  CHECK(rt->remove_state(PREPARE_DYN + 7) == 0);
  CHECK(rt->remove_state_nocalls(ONLINE_DYN + 13) == 0);
  CHECK(rt->remove_state(ONLINE_DYN + 2) == 0);
  CHECK(rt->setup_state(PREPARE_DYN, "range/again:prepare", nullptr, nullptr) ==
        PREPARE_DYN + 7);
  CHECK(rt->setup_state(ONLINE_DYN, "range/again1:online", nullptr, nullptr) == ONLINE_DYN + 2);
  CHECK(rt->setup_state(ONLINE_DYN, "range/again2:online", nullptr, nullptr) ==
        ONLINE_DYN + 13);
  CHECK(rt->setup_state(ONLINE_DYN, "range/again3:online", nullptr, nullptr) == -ENOSPC);
}

// ---- setup with calls

TEST_CASE("setup_state() installs the callbacks and invokes the startup callback for all "
          "CPUs which have currently a state at or past the newly installed state, in "
          "ascending CPU order") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  const int mid = TIMERS_PREPARE;
  REQUIRE(rt->setup_state_nocalls(mid, "calls/mid:prepare", nullptr, nullptr) == 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->set_target(cpu.b, mid) == 0);
  REQUIRE(rt->state(cpu.b) == mid);

  // Below core 1's state: both cores, core 0 first.
  CHECK(logged_state(*rt, ARENA_PREPARE, "calls/arena:prepare", log, "arena") == 0);
  CHECK(log.take() == on(cpu, {"up arena coreA", "up arena coreB"}));
  // Past core 1's state: core 0 only.
  const int dyn = logged_state(*rt, PREPARE_DYN, "calls/dyn:prepare", log, "dyn");
  CHECK(dyn == PREPARE_DYN);
  CHECK(log.take() == on(cpu, {"up dyn coreA"}));
  CHECK(logged_state(*rt, ONLINE_DYN, "calls/x:online", log, "x") == ONLINE_DYN);
  CHECK(log.take() == on(cpu, {"up x coreA"}));
  // Exactly at core 1's state: invoked there too (the walk considers that state done).
  REQUIRE(rt->remove_state_nocalls(mid) == 0);
  CHECK(logged_state(*rt, mid, "calls/mid2:prepare", log, "mid2") == 0);
  CHECK(log.take() == on(cpu, {"up mid2 coreA", "up mid2 coreB"}));

  // From here the installed callbacks are part of every walk.
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up dyn coreB", "up x coreB"}));
  REQUIRE(rt->core_down(cpu.b) == 0);
  const auto down = on(cpu, {"down x coreB", "down dyn coreB", "down mid2 coreB",
                                         "down arena coreB"});
  CHECK(log.take() == down);
}

TEST_CASE("setup_state(): If a callback fails for CPU N then the teardown callback for CPU "
          "0 .. N-1 is invoked to rollback the operation. The state setup fails, the callbacks "
          "for the state are not installed and in case of dynamic allocation the allocated "
          "state is freed") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  rt->set_trace(true);

  SUBCASE("dynamic ONLINE state") {
    check_rolled_back(*rt, log, cpu, ONLINE_DYN, "rb/dyn:online", "dyn", -ENOMEM);
    const auto trace = trace_lines(rt->take_trace(), {ONLINE_DYN});
    const auto expected_trace = on(cpu, {
        "up 33 rb/dyn:online coreA", "up 33 rb/dyn:online coreB -> " + std::to_string(-ENOMEM),
        "down 33 rb/dyn:online coreA rollback"});
    CHECK(trace == expected_trace);
    // The freed number is the next one handed out.
    CHECK(rt->setup_state(ONLINE_DYN, "rb/next:online", log.startup("next"), nullptr) ==
          ONLINE_DYN);
    CHECK(log.take() == on(cpu, {"up next coreA", "up next coreB"}));
  }
  SUBCASE("dynamic PREPARE state") {
    check_rolled_back(*rt, log, cpu, PREPARE_DYN, "rb/dyn:prepare", "dyn", -ENOMEM);
    CHECK(rt->setup_state(PREPARE_DYN, "rb/next:prepare", nullptr, nullptr) == PREPARE_DYN);
  }
  SUBCASE("static state") {
    check_rolled_back(*rt, log, cpu, AP_USER_ONLINE, "rb/static:online", "static", -EIO);
    // The slot is free again, and the failed callbacks are not part of any walk.
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->core_up(cpu.b) == 0);
    CHECK(log.take() == no_events);
    CHECK(rt->setup_state(AP_USER_ONLINE, "rb/again:online", nullptr, nullptr) == 0);
  }
  SUBCASE("CPU 0 fails: there is nothing to roll back") {
    log.fail_on(line_on(cpu, "up first coreA"), -EIO);
    CHECK(logged_state(*rt, ONLINE_DYN, "rb/first:online", log, "first") == -EIO);
    CHECK(log.take() == on(cpu, {"up first coreA fail"}));
    CHECK_FALSE(has_state(*rt, "rb/first:online"));
  }
}

TEST_CASE("cpuhp_setup_state_nocalls(), cpuhp_setup_state_nocalls_cpuslocked() and "
          "cpuhp_setup_state_multi() only install the callbacks") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  CHECK(rt->setup_state_nocalls(AP_USER_ONLINE, "nocalls/a:online", log.startup("a"),
                                log.teardown("a")) == 0);
  {
    cpus_read_guard g(*rt);
    CHECK(rt->setup_state_nocalls_cpuslocked(ARENA_PREPARE, "nocalls/b:prepare",
                                             log.startup("b"), log.teardown("b")) == 0);
  }
  const int m = logged_multi_state(*rt, ONLINE_DYN, "nocalls/m:online", log, "m");
  CHECK(m == ONLINE_DYN);
  CHECK(log.take() == no_events);
  CHECK(has_state(*rt, "nocalls/a:online"));
  CHECK(has_state(*rt, "nocalls/b:prepare"));
  CHECK(has_state(*rt, "nocalls/m:online"));
  // Installed: the next walk invokes them.
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"down a coreB", "down b coreB"}));
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up b coreB", "up a coreB"}));
}
