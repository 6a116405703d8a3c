// SPDX-License-Identifier: MIT
// tests/rules_test.cpp — one test per rule of the spec's API sections: ordering, NULL
// callbacks, return values, dynamic ranges, setup/removal with and without calls,
// multi-instance states, -EDEADLK, set_target, set_fail, hotplug disable, the listing.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> no_events;

// builtin_states are the runtime's own rows, which are always installed.
const std::vector<state_row> builtin_states = {
    {OFFLINE, "offline"},
    {THREADS_PREPARE, "threads:prepare"},
    {BRINGUP_CORE, "core:bringup"},
    {AP_SCHED_STARTING, "sched:starting"},
    {AP_ONLINE, "ap:online"},
    {AP_SCHED_ACTIVE, "sched:active"},
    {ONLINE, "online"},
};

std::vector<int> states_of(const std::vector<trace_event>& events) {
  std::vector<int> out;
  for (const auto& ev : events) out.push_back(ev.state);
  return out;
}

}  // namespace

// ---- ordering and NULL callbacks

TEST_CASE("linear state space: when a CPU is onlined the startup callbacks are invoked "
          "sequentially, and when it is offlined the teardown callbacks are invoked in the "
          "reverse order, whatever order the states were set up in") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = offline_runtime({0, 1});
  // Set up in a scrambled order, without calls (every core is OFFLINE anyway).
  const std::vector<int> order = {AP_USER_ONLINE, ARENA_PREPARE,      AP_USER_STARTING_2,
                                  CPU_PHYSICAL,       TIMERS_PREPARE,     AP_USER_STARTING_1,
                                  AP_ARENA_ONLINE};
  for (int st : order) {
    const std::string tag = std::to_string(st);
    REQUIRE(rt->setup_state(st, "order/" + tag, log.startup(tag), log.teardown(tag)) == 0);
  }
  const int dyn_online = rt->setup_state(ONLINE_DYN, "order/dyn:online", log.startup("dyn-on"),
                                         log.teardown("dyn-on"));
  const int dyn_prepare = rt->setup_state(PREPARE_DYN, "order/dyn:prepare",
                                          log.startup("dyn-prep"), log.teardown("dyn-prep"));
  const int dyn_online2 = rt->setup_state(ONLINE_DYN, "order/dyn2:online",
                                          log.startup("dyn-on2"), log.teardown("dyn-on2"));
  REQUIRE(dyn_online == ONLINE_DYN);
  REQUIRE(dyn_prepare == PREPARE_DYN);
  REQUIRE(dyn_online2 == ONLINE_DYN + 1);
  CHECK(log.take() == no_events);  // no core is at or past any of them

  rt->set_trace(true);
  REQUIRE(rt->core_up(0) == 0);
  const std::vector<std::string> up = {
      "up 2 core0",  "up 3 core0",  "up dyn-prep core0", "up 24 core0",     "up 27 core0",
      "up 28 core0", "up 31 core0", "up 32 core0",       "up dyn-on core0", "up dyn-on2 core0",
  };
  CHECK(log.take() == up);
  auto events = rt->take_trace();
  auto seen = states_of(events);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());

  REQUIRE(rt->core_up(1) == 0);
  (void)rt->take_trace();
  log.clear();
  REQUIRE(rt->core_down(1) == 0);
  const std::vector<std::string> down = {
      "down dyn-on2 core1", "down dyn-on core1", "down 32 core1", "down 31 core1",
      "down 28 core1",      "down 27 core1",     "down 24 core1", "down dyn-prep core1",
      "down 3 core1",       "down 2 core1",
  };
  CHECK(log.take() == down);
  events = rt->take_trace();
  seen = states_of(events);
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("If a usage site requires only a callback in one direction then the other "
          "not-required callback can be set to NULL: it is skipped and leaves no trace event") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->core_down(1) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "null/startup-only:online",
                          log.startup("startup-only"), nullptr) == 0);
  REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "null/teardown-only:offline", callback{},
                          log.teardown("teardown-only")) == 0);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "null/neither:prepare", nullptr, nullptr) == 0);
  CHECK(log.take() == std::vector<std::string>{"up startup-only core0"});
  rt->set_trace(true);

  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up startup-only core1"});
  for (const auto& ev : rt->take_trace()) {
    CHECK_MESSAGE(ev.state != AP_ARENA_ONLINE, trace_line(ev));
    CHECK_MESSAGE(ev.state != ARENA_PREPARE, trace_line(ev));
  }
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"down teardown-only core1"});
  for (const auto& ev : rt->take_trace()) {
    CHECK_MESSAGE(ev.state != AP_USER_ONLINE, trace_line(ev));
    CHECK_MESSAGE(ev.state != ARENA_PREPARE, trace_line(ev));
  }
  // remove_state() with a NULL teardown invokes nothing.
  CHECK(rt->remove_state(AP_USER_ONLINE) == 0);
  CHECK(log.take() == no_events);
}

// ---- return values

TEST_CASE("setup return value 0: Statically allocated state was successfully set up") {
  event_log log;
  auto rt = make_runtime();
  CHECK(rt->setup_state(ARENA_PREPARE, "ret/arena:prepare", log.startup("a"), nullptr) == 0);
  CHECK(rt->setup_state(AP_USER_STARTING_1, "ret/timers:starting", log.startup("t"),
                        log.teardown("t")) == 0);
  CHECK(rt->setup_state(AP_ARENA_ONLINE, "ret/arena:online", log.startup("w"),
                        log.teardown("w")) == 0);
  CHECK(rt->setup_state_nocalls(TIMERS_PREPARE, "ret/timers:prepare", nullptr,
                                log.teardown("tp")) == 0);
  CHECK(rt->setup_state_multi(AP_USER_ONLINE, "ret/uring:online",
                              log.multi_startup("u"), log.multi_teardown("u")) == 0);
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
    CHECK(rt->setup_state(st, "bad:state", log.startup("x"), log.teardown("x")) == -EINVAL);
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
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  const int mid = TIMERS_PREPARE;
  REQUIRE(rt->setup_state_nocalls(mid, "calls/mid:prepare", nullptr, nullptr) == 0);
  REQUIRE(rt->core_down(1) == 0);
  REQUIRE(rt->set_target(1, mid) == 0);
  REQUIRE(rt->state(1) == mid);

  // Below core 1's state: both cores, core 0 first.
  CHECK(rt->setup_state(ARENA_PREPARE, "calls/arena:prepare", log.startup("arena"),
                        log.teardown("arena")) == 0);
  CHECK(log.take() == std::vector<std::string>{"up arena core0", "up arena core1"});
  // Past core 1's state: core 0 only.
  const int dyn = rt->setup_state(PREPARE_DYN, "calls/dyn:prepare", log.startup("dyn"),
                                  log.teardown("dyn"));
  CHECK(dyn == PREPARE_DYN);
  CHECK(log.take() == std::vector<std::string>{"up dyn core0"});
  CHECK(rt->setup_state(ONLINE_DYN, "calls/x:online", log.startup("x"), log.teardown("x")) ==
        ONLINE_DYN);
  CHECK(log.take() == std::vector<std::string>{"up x core0"});
  // Exactly at core 1's state: invoked there too (the walk considers that state done).
  REQUIRE(rt->remove_state_nocalls(mid) == 0);
  CHECK(rt->setup_state(mid, "calls/mid2:prepare", log.startup("mid2"), log.teardown("mid2")) ==
        0);
  CHECK(log.take() == std::vector<std::string>{"up mid2 core0", "up mid2 core1"});

  // From here the installed callbacks are part of every walk.
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up dyn core1", "up x core1"});
  REQUIRE(rt->core_down(1) == 0);
  const std::vector<std::string> down = {"down x core1", "down dyn core1", "down mid2 core1",
                                         "down arena core1"};
  CHECK(log.take() == down);
}

TEST_CASE("setup_state(): If a callback fails for CPU N then the teardown callback for CPU "
          "0 .. N-1 is invoked to rollback the operation. The state setup fails, the callbacks "
          "for the state are not installed and in case of dynamic allocation the allocated "
          "state is freed") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  rt->set_trace(true);

  SUBCASE("dynamic ONLINE state") {
    log.fail_on("up dyn core1", -ENOMEM);
    CHECK(rt->setup_state(ONLINE_DYN, "rb/dyn:online", log.startup("dyn"),
                          log.teardown("dyn")) == -ENOMEM);
    const std::vector<std::string> expected = {"up dyn core0", "up dyn core1 fail",
                                               "down dyn core0"};
    CHECK(log.take() == expected);
    CHECK_FALSE(has_state(*rt, "rb/dyn:online"));
    const auto trace = trace_lines(rt->take_trace(), {ONLINE_DYN});
    const std::vector<std::string> expected_trace = {
        "up 33 rb/dyn:online core0", "up 33 rb/dyn:online core1 -> " + std::to_string(-ENOMEM),
        "down 33 rb/dyn:online core0 rollback"};
    CHECK(trace == expected_trace);
    // The freed number is the next one handed out.
    CHECK(rt->setup_state(ONLINE_DYN, "rb/next:online", log.startup("next"), nullptr) ==
          ONLINE_DYN);
    CHECK(log.take() == std::vector<std::string>{"up next core0", "up next core1"});
  }
  SUBCASE("dynamic PREPARE state") {
    log.fail_on("up dyn core1", -ENOMEM);
    CHECK(rt->setup_state(PREPARE_DYN, "rb/dyn:prepare", log.startup("dyn"),
                          log.teardown("dyn")) == -ENOMEM);
    const std::vector<std::string> expected = {"up dyn core0", "up dyn core1 fail",
                                               "down dyn core0"};
    CHECK(log.take() == expected);
    CHECK_FALSE(has_state(*rt, "rb/dyn:prepare"));
    CHECK(rt->setup_state(PREPARE_DYN, "rb/next:prepare", nullptr, nullptr) == PREPARE_DYN);
  }
  SUBCASE("static state") {
    log.fail_on("up static core1", -EIO);
    CHECK(rt->setup_state(AP_USER_ONLINE, "rb/static:online", log.startup("static"),
                          log.teardown("static")) == -EIO);
    const std::vector<std::string> expected = {"up static core0", "up static core1 fail",
                                               "down static core0"};
    CHECK(log.take() == expected);
    CHECK_FALSE(has_state(*rt, "rb/static:online"));
    // The slot is free again, and the failed callbacks are not part of any walk.
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(rt->core_up(1) == 0);
    CHECK(log.take() == no_events);
    CHECK(rt->setup_state(AP_USER_ONLINE, "rb/again:online", nullptr, nullptr) == 0);
  }
  SUBCASE("CPU 0 fails: there is nothing to roll back") {
    log.fail_on("up first core0", -EIO);
    CHECK(rt->setup_state(ONLINE_DYN, "rb/first:online", log.startup("first"),
                          log.teardown("first")) == -EIO);
    CHECK(log.take() == std::vector<std::string>{"up first core0 fail"});
    CHECK_FALSE(has_state(*rt, "rb/first:online"));
  }
}

TEST_CASE("cpuhp_setup_state_nocalls(), cpuhp_setup_state_nocalls_cpuslocked() and "
          "cpuhp_setup_state_multi() only install the callbacks") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  CHECK(rt->setup_state_nocalls(AP_USER_ONLINE, "nocalls/a:online", log.startup("a"),
                                log.teardown("a")) == 0);
  {
    cpus_read_guard g(*rt);
    CHECK(rt->setup_state_nocalls_cpuslocked(ARENA_PREPARE, "nocalls/b:prepare",
                                             log.startup("b"), log.teardown("b")) == 0);
  }
  const int m = rt->setup_state_multi(ONLINE_DYN, "nocalls/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  CHECK(m == ONLINE_DYN);
  CHECK(log.take() == no_events);
  CHECK(has_state(*rt, "nocalls/a:online"));
  CHECK(has_state(*rt, "nocalls/b:prepare"));
  CHECK(has_state(*rt, "nocalls/m:online"));
  // Installed: the next walk invokes them.
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"down a core1", "down b core1"});
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up b core1", "up a core1"});
}

// ---- removal

TEST_CASE("cpuhp_remove_state() removes the callbacks and invokes the teardown callback for "
          "all CPUs which have currently a state at or past the removed state") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  const int dyn = rt->setup_state(ONLINE_DYN, "rm/dyn:online", log.startup("dyn"),
                                  log.teardown("dyn"));
  REQUIRE(dyn == ONLINE_DYN);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "rm/arena:prepare", log.startup("arena"),
                          log.teardown("arena")) == 0);
  REQUIRE(rt->core_down(1) == 0);
  log.clear();

  CHECK(rt->remove_state(dyn) == 0);  // core 1 is OFFLINE: core 0 only
  CHECK(log.take() == std::vector<std::string>{"down dyn core0"});
  CHECK_FALSE(has_state(*rt, "rm/dyn:online"));
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up arena core1"});  // dyn is gone

  CHECK(rt->remove_state(ARENA_PREPARE) == 0);  // both cores, ascending
  CHECK(log.take() == std::vector<std::string>{"down arena core0", "down arena core1"});
  CHECK_FALSE(has_state(*rt, "rm/arena:prepare"));
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == no_events);
  // The static slot and the dynamic number can be set up again.
  CHECK(rt->setup_state(ARENA_PREPARE, "rm/arena2:prepare", nullptr, nullptr) == 0);
  const int eq = rt->setup_state(ONLINE_DYN, "rm/eq:online", log.startup("eq"),
                                 log.teardown("eq"));
  CHECK(eq == ONLINE_DYN);
  CHECK(log.take() == std::vector<std::string>{"up eq core0"});
  // A core exactly at the removed state has run its startup: its teardown runs too.
  REQUIRE(rt->set_target(1, eq) == 0);
  CHECK(log.take() == std::vector<std::string>{"up eq core1"});
  CHECK(rt->remove_state(eq) == 0);
  CHECK(log.take() == std::vector<std::string>{"down eq core0", "down eq core1"});
}

TEST_CASE("cpuhp_remove_state_nocalls() and cpuhp_remove_state_nocalls_cpuslocked() only "
          "remove the callbacks") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "rmn/a:online", log.startup("a"),
                          log.teardown("a")) == 0);
  const int b = rt->setup_state(PREPARE_DYN, "rmn/b:prepare", log.startup("b"),
                                log.teardown("b"));
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
  REQUIRE(rt->core_down(1) == 0);
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("remove_state(): In order to complete the removal, the teardown callback should not "
          "fail; a failing teardown is reported but the state is removed anyway") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "rmf/a:online", log.startup("a"),
                          log.teardown("a")) == 0);
  log.clear();
  log.fail_on("down a core0", -EIO);
  CHECK(rt->remove_state(AP_USER_ONLINE) == -EIO);
  CHECK(log.take() == std::vector<std::string>{"down a core0 fail", "down a core1"});
  CHECK_FALSE(has_state(*rt, "rmf/a:online"));
  CHECK(rt->remove_state(AP_USER_ONLINE) == -ENOENT);
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("remove_state*(): -ENOENT when nothing is installed at the state, -EPERM for the "
          "runtime's own states") {
  CPUS_0_AND_1();
  auto rt = make_runtime();
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
  REQUIRE(rt->core_down(1) == 0);
  REQUIRE(rt->core_up(1) == 0);
  CHECK(rt->core_active(1));
}

// ---- multi-instance states

TEST_CASE("cpuhp_state_add_instance() adds the instance and invokes the startup callback for "
          "all CPUs at or past @state; the callback is only invoked for the to be added "
          "instance. cpuhp_state_remove_instance() invokes teardown only for the removed one") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a"), b("b");  // nodes outlive the runtime, which holds them
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "multi/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == -1);

  CHECK(rt->add_instance(m, &a) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core0 a", "up m core1 a"});
  CHECK(a.attached_state == m);
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core0 b", "up m core1 b"});

  REQUIRE(rt->core_down(1) == 0);  // core 1 below the state
  log.clear();
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core0 a"});
  CHECK(a.attached_state == -1);
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core1 b"});
  CHECK(rt->remove_instance(m, &b) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core0 b", "down m core1 b"});

  // A core exactly at the state counts as at or past it.
  REQUIRE(rt->set_target(1, m) == 0);
  CHECK(rt->add_instance(m, &a) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core0 a", "up m core1 a"});
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core0 a", "down m core1 a"});
  CHECK(rt->remove_multi_state(m) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("multi-instance state: during a CPU online or offline operation the callbacks are "
          "invoked once per instance, in the order the instances were added") {
  CPUS_0_AND_1();
  event_log log;
  named_node n1("n1"), n2("n2"), n3("n3");
  auto rt = make_runtime();
  REQUIRE(rt->setup_state_multi(AP_USER_ONLINE, "multi/w:online", log.multi_startup("w"),
                                log.multi_teardown("w")) == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n2) == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n1) == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n3) == 0);
  log.clear();
  rt->set_trace(true);
  REQUIRE(rt->core_down(1) == 0);
  const std::vector<std::string> down = {"down w core1 n2", "down w core1 n1", "down w core1 n3"};
  CHECK(log.take() == down);
  REQUIRE(rt->core_up(1) == 0);
  const std::vector<std::string> up = {"up w core1 n2", "up w core1 n1", "up w core1 n3"};
  CHECK(log.take() == up);
  const std::vector<std::string> trace = {
      "down 32 multi/w:online core1 n2", "down 32 multi/w:online core1 n1",
      "down 32 multi/w:online core1 n3", "up 32 multi/w:online core1 n2",
      "up 32 multi/w:online core1 n1",   "up 32 multi/w:online core1 n3"};
  CHECK(trace_lines(rt->take_trace(), {AP_USER_ONLINE}) == trace);
  for (auto* n : {&n1, &n2, &n3}) CHECK(rt->remove_instance(AP_USER_ONLINE, n) == 0);
}

TEST_CASE("multi-instance state: if the callback fails for instance k on the way up, "
          "instances 0..k-1 are torn down for that state on that CPU, then the operation "
          "rolls back as usual") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a"), b("b"), c("c");
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "mk/below:online", log.startup("below"),
                          log.teardown("below")) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "mk/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  for (auto* n : {&a, &b, &c}) REQUIRE(rt->add_instance(m, n) == 0);
  REQUIRE(rt->core_down(1) == 0);
  log.clear();
  log.fail_on("up m core1 c", -EIO);
  CHECK(rt->core_up(1) == -EIO);
  CHECK(rt->state(1) == OFFLINE);
  const std::vector<std::string> expected = {
      "up below core1",   "up m core1 a", "up m core1 b", "up m core1 c fail",
      "down m core1 a",   "down m core1 b",  // undo the instances done on this core
      "down below core1",
  };
  // The instances done are undone; the order among them is not what this rule is about.
  auto got = log.take();
  REQUIRE(got.size() == expected.size());
  CHECK(std::vector<std::string>(got.begin(), got.begin() + 4) ==
        std::vector<std::string>(expected.begin(), expected.begin() + 4));
  CHECK(std::set<std::string>(got.begin() + 4, got.begin() + 6) ==
        std::set<std::string>(expected.begin() + 4, expected.begin() + 6));
  CHECK(got.back() == expected.back());
  REQUIRE(rt->core_up(1) == 0);
  const std::vector<std::string> up = {"up below core1", "up m core1 a", "up m core1 b",
                                       "up m core1 c"};
  CHECK(log.take() == up);
  for (auto* n : {&a, &b, &c}) CHECK(rt->remove_instance(m, n) == 0);
}

TEST_CASE("cpuhp_state_add_instance(): If a callback fails for CPU N then the teardown "
          "callback for CPU 0 .. N-1 is invoked to rollback the operation, the function fails "
          "and the instance is not added to the node list") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a"), b("b");
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "addrb/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  log.fail_on("up m core1 b", -ENOMEM);
  CHECK(rt->add_instance(m, &b) == -ENOMEM);
  const std::vector<std::string> expected = {"up m core0 b", "up m core1 b fail",
                                             "down m core0 b"};
  CHECK(log.take() == expected);
  CHECK(b.attached_state == -1);
  CHECK(rt->remove_instance(m, &b) == -ENOENT);
  // Not in the node list: walks only see a.
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core1 a"});
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core1 a"});
  // And it can be added later.
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core0 b", "up m core1 b"});
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_instance(m, &b) == 0);
}

TEST_CASE("instances: add_instance() needs a multi-instance state (-EINVAL), a node is added "
          "once (-EEXIST), remove_instance() of a node not added is -ENOENT") {
  event_log log;
  named_node a("a"), b("b");
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "inst/single:online", log.startup("s"),
                          log.teardown("s")) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "inst/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  const int m2 = rt->setup_state_multi(ONLINE_DYN, "inst/m2:online", log.multi_startup("m2"),
                                       log.multi_teardown("m2"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(m2 == ONLINE_DYN + 1);
  log.clear();
  CHECK(rt->add_instance(AP_USER_ONLINE, &a) == -EINVAL);      // not multi-instance
  CHECK(rt->add_instance_nocalls(AP_USER_ONLINE, &a) == -EINVAL);
  CHECK(rt->add_instance(AP_ARENA_ONLINE, &a) == -EINVAL);        // nothing installed
  CHECK(rt->add_instance(AP_SCHED_ACTIVE, &a) == -EINVAL);        // built-in, single
  CHECK(a.attached_state == -1);
  CHECK(rt->add_instance(m, &a) == 0);
  CHECK(rt->add_instance(m, &a) == -EEXIST);
  CHECK(rt->add_instance_nocalls(m, &a) == -EEXIST);
  CHECK(rt->add_instance(m2, &a) == -EEXIST);  // a node belongs to one state
  CHECK(a.attached_state == m);
  log.clear();
  CHECK(rt->remove_instance(m, &b) == -ENOENT);
  CHECK(rt->remove_instance_nocalls(m, &b) == -ENOENT);
  CHECK(rt->remove_instance(m2, &a) == -ENOENT);  // attached to m, not m2
  CHECK(log.take() == no_events);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_instance(m, &a) == -ENOENT);
}

TEST_CASE("cpuhp_state_add_instance_nocalls() only adds the instance to the node list; "
          "cpuhp_state_remove_instance_nocalls() only removes it") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a");
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "instn/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  CHECK(rt->add_instance_nocalls(m, &a) == 0);
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == m);
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core1 a"});
  REQUIRE(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"up m core1 a"});
  CHECK(rt->remove_instance_nocalls(m, &a) == 0);
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == -1);
  REQUIRE(rt->core_down(1) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("If a multi-instance state is removed then the caller has to remove all instances "
          "first: remove_multi_state() is -ENOTEMPTY while it has instances; remove_state() on "
          "a multi-instance state is -EINVAL") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a");
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "rmm/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  CHECK(rt->remove_multi_state(m) == -ENOTEMPTY);
  CHECK(rt->remove_state(m) == -EINVAL);
  CHECK(rt->remove_state_nocalls(m) == -EINVAL);
  CHECK(log.take() == no_events);
  CHECK(has_state(*rt, "rmm/m:online"));
  CHECK(a.attached_state == m);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == std::vector<std::string>{"down m core0 a", "down m core1 a"});
  CHECK(rt->remove_multi_state(m) == 0);
  CHECK(log.take() == no_events);  // only removes the callbacks
  CHECK_FALSE(has_state(*rt, "rmm/m:online"));
  // remove_multi_state() is for multi-instance states.
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "rmm/single:online", nullptr, nullptr) == 0);
  CHECK(rt->remove_multi_state(AP_USER_ONLINE) == -EINVAL);
  CHECK(has_state(*rt, "rmm/single:online"));
}

// ---- -EDEADLK

namespace {

// reentry_probe calls every API function that must not be used from a hotplug callback,
// from a hotplug callback, once per arming, and records what each returned.
struct reentry_probe {
  runtime* rt = nullptr;
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
    r.emplace_back("core_up", rt->core_up(1));
    r.emplace_back("core_down", rt->core_down(1));
    r.emplace_back("core_down(other)", rt->core_down(0));
    r.emplace_back("set_target", rt->set_target(1, OFFLINE));
    r.emplace_back("cpu_hotplug_disable", rt->cpu_hotplug_disable());
    r.emplace_back("cpu_hotplug_enable", rt->cpu_hotplug_enable());
    std::lock_guard lk(mu);
    results = std::move(r);
    ran.fetch_add(1);
    return 0;
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

}  // namespace

TEST_CASE("setup and removal functions cannot be used from within CPU hotplug callbacks: "
          "called from a callback they return -EDEADLK and never deadlock") {
  CPUS_0_AND_1();
  named_node inst("inst"), other("other");
  auto rt = make_runtime();
  auto probe = std::make_shared<reentry_probe>();
  probe->rt = rt.get();
  probe->victim = rt->setup_state(ONLINE_DYN, "reentry/victim:online", nullptr, nullptr);
  probe->multi_victim = rt->setup_state_multi(ONLINE_DYN, "reentry/mvictim:online", nullptr,
                                              nullptr);
  REQUIRE(probe->victim == ONLINE_DYN);
  REQUIRE(probe->multi_victim == ONLINE_DYN + 1);
  REQUIRE(rt->add_instance(probe->multi_victim, &probe->attached) == 0);
  auto cb = [probe](unsigned core) { return core == 1 ? (*probe)() : 0; };
  auto mcb = [probe](unsigned core, instance_node*) { return core == 1 ? (*probe)() : 0; };

  REQUIRE(rt->setup_state(AP_USER_ONLINE, "reentry/online", cb, cb) == 0);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "reentry/prepare", cb, cb) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "reentry/starting", cb, cb) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "reentry/multi:online", mcb, mcb);
  REQUIRE(m == ONLINE_DYN + 2);
  REQUIRE(rt->add_instance(m, &inst) == 0);
  REQUIRE(rt->core_down(1) == 0);

  const auto limit = 10s;
  SUBCASE("from an ONLINE callback (the core's hotplug thread), during core_up") {
    REQUIRE(rt->remove_state_nocalls(ARENA_PREPARE) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_STARTING_1) == 0);
    REQUIRE(rt->remove_instance_nocalls(m, &inst) == 0);
    probe->armed = true;
    int ret = -1;
    bounded(limit, "core_up", [&] { ret = rt->core_up(1); });
    CHECK(ret == 0);
    CHECK(probe->ran == 1);
    probe->check("ONLINE callback");
  }
  SUBCASE("from a PREPARE callback (the caller's thread), during core_up") {
    probe->armed = true;
    int ret = -1;
    bounded(limit, "core_up", [&] { ret = rt->core_up(1); });
    CHECK(ret == 0);
    CHECK(probe->ran == 1);
    probe->check("PREPARE callback");
  }
  SUBCASE("from a STARTING callback, during core_down") {
    REQUIRE(rt->core_up(1) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_ONLINE) == 0);
    REQUIRE(rt->remove_instance_nocalls(m, &inst) == 0);
    probe->armed = true;
    int ret = -1;
    bounded(limit, "core_down", [&] { ret = rt->core_down(1); });
    CHECK(ret == 0);
    CHECK(probe->ran == 1);
    probe->check("STARTING callback");
  }
  SUBCASE("from a multi-instance callback, during core_up") {
    REQUIRE(rt->remove_state_nocalls(ARENA_PREPARE) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_STARTING_1) == 0);
    REQUIRE(rt->remove_state_nocalls(AP_USER_ONLINE) == 0);
    probe->armed = true;
    int ret = -1;
    bounded(limit, "core_up", [&] { ret = rt->core_up(1); });
    CHECK(ret == 0);
    CHECK(probe->ran == 1);
    probe->check("multi-instance callback");
  }
  SUBCASE("from the startup invoked by setup_state() and the teardown invoked by "
          "remove_state()") {
    REQUIRE(rt->core_up(1) == 0);
    probe->armed = true;
    int ret = -1;
    bounded(limit, "setup_state", [&] { ret = rt->setup_state(ONLINE_DYN, "reentry/x", cb, cb); });
    CHECK(ret == ONLINE_DYN + 3);
    CHECK(probe->ran == 1);
    probe->check("setup_state callback");
    probe->armed = true;
    bounded(limit, "remove_state", [&] { ret = rt->remove_state(ONLINE_DYN + 3); });
    CHECK(ret == 0);
    CHECK(probe->ran == 2);
    probe->check("remove_state callback");
  }
  SUBCASE("from the callbacks invoked by add_instance() and remove_instance()") {
    REQUIRE(rt->core_up(1) == 0);
    probe->armed = true;
    int ret = -1;
    bounded(limit, "add_instance", [&] { ret = rt->add_instance(m, &other); });
    CHECK(ret == 0);
    CHECK(probe->ran == 1);
    probe->check("add_instance callback");
    probe->armed = true;
    bounded(limit, "remove_instance", [&] { ret = rt->remove_instance(m, &other); });
    CHECK(ret == 0);
    CHECK(probe->ran == 2);
    probe->check("remove_instance callback");
  }
  probe->armed = false;
  (void)rt->remove_instance_nocalls(probe->multi_victim, &probe->attached);
  (void)rt->remove_instance_nocalls(m, &inst);
}

TEST_CASE("The node list add/remove operations cannot be used from CPU hotplug read locked "
          "regions, nor can hotplug operations: under cpus_read_lock() they return -EDEADLK") {
  CPUS_0_AND_1();
  event_log log;
  named_node a("a"), b("b");
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "rl/m:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  bounded(10s, "operations under cpus_read_lock", [&] {
    cpus_read_guard g(*rt);
    CHECK(rt->add_instance(m, &b) == -EDEADLK);
    CHECK(rt->add_instance_nocalls(m, &b) == -EDEADLK);
    CHECK(rt->remove_instance(m, &a) == -EDEADLK);
    CHECK(rt->remove_instance_nocalls(m, &a) == -EDEADLK);
    CHECK(rt->core_down(1) == -EDEADLK);
    CHECK(rt->set_target(1, OFFLINE) == -EDEADLK);
    CHECK(rt->core_up(1) == -EDEADLK);  // even when there is nothing to do
    {
      cpus_read_guard nested(*rt);
      CHECK(rt->core_down(1) == -EDEADLK);
    }
    CHECK(rt->core_down(1) == -EDEADLK);  // still held after the nested unlock
  });
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == m);
  CHECK(b.attached_state == -1);
  CHECK(rt->state(1) == ONLINE);
  // Unlocked, they work.
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(rt->core_down(1) == 0);
  CHECK(rt->core_up(1) == 0);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_instance(m, &b) == 0);
}

TEST_CASE("setup_state() and remove_state() take cpus_read_lock themselves, which nests: "
          "called while the caller holds it they work and invoke the callbacks") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  int dyn = -1;
  int removed = -1;
  bounded(10s, "setup_state under cpus_read_lock", [&] {
    cpus_read_guard g(*rt);
    dyn = rt->setup_state(ONLINE_DYN, "nest/x:online", log.startup("x"), log.teardown("x"));
    removed = rt->remove_state(dyn);
  });
  CHECK(dyn == ONLINE_DYN);
  CHECK(removed == 0);
  const std::vector<std::string> expected = {"up x core0", "up x core1", "down x core0",
                                             "down x core1"};
  CHECK(log.take() == expected);
}

TEST_CASE("If the setup function has to be called from a CPU hotplug read locked region, "
          "then the _cpuslocked() variants have to be used: without the lock held they are "
          "-ENOLCK; with it they work, and setup_state_cpuslocked() invokes the startups") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  CHECK(rt->setup_state_cpuslocked(ONLINE_DYN, "cl/x:online", log.startup("x"),
                                   log.teardown("x")) == -ENOLCK);
  CHECK(rt->setup_state_nocalls_cpuslocked(AP_USER_ONLINE, "cl/y:online", nullptr,
                                           nullptr) == -ENOLCK);
  REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "cl/z:online", log.startup("z"),
                          log.teardown("z")) == 0);
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
  CHECK(log.take() == std::vector<std::string>{"up x core0", "up x core1"});
  CHECK(has_state(*rt, "cl/x:online"));
  CHECK(has_state(*rt, "cl/y:online"));
  CHECK_FALSE(has_state(*rt, "cl/z:online"));
}

// ---- set_target

TEST_CASE("cpuN/hotplug/target: writing a state number moves the CPU to that state, up or "
          "down, through the same walk") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(ARENA_PREPARE, "tgt/arena:prepare", log.startup("arena"),
                          log.teardown("arena")) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "tgt/timers:starting", log.startup("timers"),
                          log.teardown("timers")) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "tgt/uring:online", log.startup("workers"),
                          log.teardown("workers")) == 0);
  const int dyn = rt->setup_state(ONLINE_DYN, "tgt/dyn:online", log.startup("dyn"),
                                  log.teardown("dyn"));
  REQUIRE(dyn == ONLINE_DYN);
  log.clear();

  CHECK(rt->set_target(1, AP_USER_ONLINE) == 0);  // down
  CHECK(rt->state(1) == AP_USER_ONLINE);
  CHECK(rt->target(1) == AP_USER_ONLINE);
  CHECK(log.take() == std::vector<std::string>{"down dyn core1"});
  CHECK_FALSE(rt->core_active(1));
  CHECK(rt->core_online(1));
  CHECK(rt->online_cores() == std::vector<unsigned>{0});

  CHECK(rt->set_target(1, AP_USER_STARTING_1) == 0);  // further down
  CHECK(rt->state(1) == AP_USER_STARTING_1);
  CHECK(log.take() == std::vector<std::string>{"down workers core1"});
  CHECK(rt->core_online(1));

  CHECK(rt->set_target(1, ARENA_PREPARE) == 0);  // into PREPARE
  CHECK(rt->state(1) == ARENA_PREPARE);
  CHECK(log.take() == std::vector<std::string>{"down timers core1"});
  CHECK_FALSE(rt->core_online(1));

  CHECK(rt->set_target(1, ARENA_PREPARE) == 0);  // already there
  CHECK(log.take() == no_events);

  CHECK(rt->set_target(1, dyn) == 0);  // up
  CHECK(rt->state(1) == dyn);
  const std::vector<std::string> up = {"up timers core1", "up workers core1", "up dyn core1"};
  CHECK(log.take() == up);
  CHECK_FALSE(rt->core_active(1));

  CHECK(rt->set_target(1, OFFLINE) == 0);
  CHECK(rt->state(1) == OFFLINE);
  const std::vector<std::string> down = {"down dyn core1", "down workers core1",
                                         "down timers core1", "down arena core1"};
  CHECK(log.take() == down);
  CHECK(rt->set_target(1, ONLINE) == 0);
  CHECK(rt->state(1) == ONLINE);
  CHECK(rt->core_active(1));
  CHECK(rt->online_cores() == std::vector<unsigned>{0, 1});
}

TEST_CASE("set_target(): -EINVAL for a state with no name and for the states that cannot be "
          "stopped at (core:bringup, ap:online)") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  rt->set_trace(true);
  for (int st : {static_cast<int>(AP_USER_ONLINE), static_cast<int>(ARENA_PREPARE),
                 static_cast<int>(AP_USER_STARTING_1), PREPARE_DYN + 3, ONLINE_DYN + 7,
                 static_cast<int>(BRINGUP_CORE), static_cast<int>(AP_ONLINE),
                 static_cast<int>(NR_STATES), static_cast<int>(INVALID), -7, 500}) {
    CAPTURE(st);
    CHECK(rt->set_target(1, st) == -EINVAL);
    CHECK(rt->state(1) == ONLINE);
  }
  CHECK(rt->take_trace().empty());
  CHECK(rt->set_target(7, OFFLINE) == -EINVAL);  // not a worker core
  CHECK(rt->set_target(1, ONLINE) == 0);          // already there
  CHECK(rt->take_trace().empty());
  // A state becomes a valid target when it is set up.
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "tgt/uring:online", nullptr, nullptr) == 0);
  CHECK(rt->set_target(1, AP_USER_ONLINE) == 0);
  CHECK(rt->state(1) == AP_USER_ONLINE);
}

// ---- set_fail

TEST_CASE("cpuN/hotplug/fail: set_fail() is rejected for STARTING states (they are not "
          "allowed to fail), for states without callbacks, for out-of-range states and for "
          "PREPARE states once the core is past core:bringup") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(ARENA_PREPARE, "fail/arena:prepare", log.startup("a"),
                          log.teardown("a")) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "fail/timers:starting", log.startup("t"),
                          log.teardown("t")) == 0);
  const int w = rt->setup_state(ONLINE_DYN, "fail/w:online", log.startup("w"),
                                log.teardown("w"));
  REQUIRE(w == ONLINE_DYN);
  REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "fail/startup-only:online", log.startup("s"),
                          nullptr) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "fail/named-only:online", nullptr, nullptr) == 0);
  CHECK(rt->fail(1) == -1);

  for (int st : {static_cast<int>(AP_SCHED_STARTING), static_cast<int>(AP_USER_STARTING_1),
                 static_cast<int>(AP_USER_STARTING_2), static_cast<int>(AP_ONLINE)})
    CHECK_MESSAGE(rt->set_fail(1, st) == -EINVAL, "STARTING state " << st);
  for (int st : {static_cast<int>(OFFLINE), static_cast<int>(ONLINE), ONLINE_DYN + 4,
                 static_cast<int>(AP_USER_ONLINE), static_cast<int>(TIMERS_PREPARE)})
    CHECK_MESSAGE(rt->set_fail(1, st) == -EINVAL, "no callbacks at " << st);
  for (int st : {static_cast<int>(NR_STATES), NR_STATES + 10, -2, -100})
    CHECK_MESSAGE(rt->set_fail(1, st) == -EINVAL, "out of range " << st);
  for (int st : {static_cast<int>(THREADS_PREPARE), static_cast<int>(ARENA_PREPARE),
                 static_cast<int>(BRINGUP_CORE)})
    CHECK_MESSAGE(rt->set_fail(1, st) == -EINVAL, "PREPARE state " << st << " on an ONLINE core");
  CHECK(rt->set_fail(5, w) == -EINVAL);  // not a worker core
  CHECK(rt->fail(1) == -1);

  // Accepted: ONLINE states with callbacks (one is enough), PREPARE ones on an OFFLINE core.
  CHECK(rt->set_fail(1, w) == 0);
  CHECK(rt->fail(1) == w);
  CHECK(rt->set_fail(1, AP_ARENA_ONLINE) == 0);
  CHECK(rt->fail(1) == AP_ARENA_ONLINE);  // the last one written
  CHECK(rt->set_fail(1, AP_SCHED_ACTIVE) == 0);
  CHECK(rt->fail(1) == AP_SCHED_ACTIVE);
  CHECK(rt->set_fail(1, -1) == 0);  // -1 clears
  CHECK(rt->fail(1) == -1);
  CHECK(rt->fail(0) == -1);
  REQUIRE(rt->core_down(1) == 0);
  CHECK(rt->set_fail(1, ARENA_PREPARE) == 0);
  CHECK(rt->fail(1) == ARENA_PREPARE);
  CHECK(rt->set_fail(1, BRINGUP_CORE) == 0);
  CHECK(rt->set_fail(1, THREADS_PREPARE) == 0);
  CHECK(rt->set_fail(1, AP_USER_STARTING_1) == -EINVAL);
  CHECK(rt->fail(1) == THREADS_PREPARE);  // a rejected write leaves the armed state
  CHECK(rt->set_fail(1, -1) == 0);
  CHECK(rt->fail(1) == -1);
  // Cleared: the walk is not affected.
  REQUIRE(rt->core_up(1) == 0);
}

TEST_CASE("cpuN/hotplug/fail makes the callback of the given state fail once with -EAGAIN the "
          "next time it would run, in either direction, on that core only") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "inj/w:online", log.startup("w"),
                          log.teardown("w")) == 0);
  const int dyn = rt->setup_state(ONLINE_DYN, "inj/d:online", log.startup("d"),
                                  log.teardown("d"));
  REQUIRE(dyn == ONLINE_DYN);
  log.clear();
  rt->set_trace(true);

  SUBCASE("on the way down: the teardown fails, the core rolls back up") {
    REQUIRE(rt->set_fail(1, AP_USER_ONLINE) == 0);
    // Not on the other core.
    REQUIRE(rt->core_down(0) == 0);
    REQUIRE(rt->core_up(0) == 0);
    CHECK(rt->fail(1) == AP_USER_ONLINE);
    log.clear();
    (void)rt->take_trace();

    CHECK(rt->core_down(1) == -EAGAIN);
    CHECK(rt->state(1) == ONLINE);
    CHECK(rt->fail(1) == -1);  // one-shot
    // The injected failure replaces the callback: it did not run.
    CHECK(log.take() == std::vector<std::string>{"down d core1", "up d core1"});
    const std::vector<std::string> trace = {
        "down 32 inj/w:online core1 -> " + std::to_string(-EAGAIN) + " injected",
    };
    std::vector<std::string> injected;
    for (const auto& ev : rt->take_trace())
      if (ev.injected) injected.push_back(trace_line(ev));
    CHECK(injected == trace);

    CHECK(rt->core_down(1) == 0);  // cleared after it fired
    CHECK(log.take() == std::vector<std::string>{"down d core1", "down w core1"});
  }
  SUBCASE("on the way up: the startup fails, the core rolls back down") {
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(rt->set_fail(1, dyn) == 0);
    log.clear();
    (void)rt->take_trace();
    CHECK(rt->core_up(1) == -EAGAIN);
    CHECK(rt->state(1) == OFFLINE);
    CHECK(rt->fail(1) == -1);
    CHECK(log.take() == std::vector<std::string>{"up w core1", "down w core1"});
    bool found = false;
    for (const auto& ev : rt->take_trace())
      if (ev.injected) {
        CHECK_FALSE(found);
        found = true;
        CHECK(ev.state == dyn);
        CHECK(ev.core == 1u);
        CHECK(ev.dir == direction::up);
        CHECK(ev.result == -EAGAIN);
        CHECK_FALSE(ev.rollback);
      }
    CHECK(found);
    CHECK(rt->core_up(1) == 0);
    CHECK(log.take() == std::vector<std::string>{"up w core1", "up d core1"});
  }
  SUBCASE("a walk that does not reach the state leaves it armed") {
    REQUIRE(rt->set_fail(1, AP_USER_ONLINE) == 0);
    CHECK(rt->set_target(1, dyn) == 0);  // down to dyn: only above it
    CHECK(rt->fail(1) == AP_USER_ONLINE);
    CHECK(rt->set_target(1, ONLINE) == 0);
    CHECK(rt->fail(1) == AP_USER_ONLINE);
    log.clear();
    CHECK(rt->set_target(1, AP_USER_ONLINE - 1) == -EINVAL);  // unnamed: nothing happens
    CHECK(rt->core_down(1) == -EAGAIN);
    CHECK(rt->state(1) == ONLINE);
    CHECK(rt->fail(1) == -1);
  }
  SUBCASE("set_fail(core, -1) clears an armed failure") {
    REQUIRE(rt->set_fail(1, AP_USER_ONLINE) == 0);
    REQUIRE(rt->set_fail(1, -1) == 0);
    CHECK(rt->core_down(1) == 0);
    CHECK(rt->core_up(1) == 0);
  }
  SUBCASE("a PREPARE state armed on an OFFLINE core fails its startup") {
    REQUIRE(rt->setup_state(ARENA_PREPARE, "inj/a:prepare", log.startup("a"),
                            log.teardown("a")) == 0);
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(rt->set_fail(1, ARENA_PREPARE) == 0);
    log.clear();
    CHECK(rt->core_up(1) == -EAGAIN);
    CHECK(rt->state(1) == OFFLINE);
    CHECK(log.take() == no_events);
    CHECK(rt->core_up(1) == 0);
  }
}

// ---- hotplug disable, last core

TEST_CASE("cpu_hotplug_disable() makes core_up, core_down and set_target return -EBUSY until "
          "the matching cpu_hotplug_enable(); it counts, and enable without disable is "
          "-EINVAL") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "dis/w:online", log.startup("w"),
                          log.teardown("w")) == 0);
  log.clear();
  CHECK(rt->cpu_hotplug_enable() == -EINVAL);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->core_down(1) == -EBUSY);
  CHECK(rt->set_target(1, AP_USER_ONLINE) == -EBUSY);
  CHECK(rt->state(1) == ONLINE);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->core_down(1) == -EBUSY);  // still disabled once
  CHECK(log.take() == no_events);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->cpu_hotplug_enable() == -EINVAL);
  CHECK(rt->core_down(1) == 0);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->core_up(1) == -EBUSY);
  CHECK(rt->state(1) == OFFLINE);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->core_up(1) == 0);
  CHECK(log.take() == std::vector<std::string>{"down w core1", "up w core1"});
}

TEST_CASE("core_down() of the last core that takes tasks (sched:active) is -EBUSY") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "last/w:online", log.startup("w"),
                          log.teardown("w")) == 0);
  log.clear();
  rt->set_trace(true);
  REQUIRE(rt->core_down(1) == 0);
  (void)rt->take_trace();
  log.clear();
  CHECK(rt->core_down(0) == -EBUSY);
  CHECK(rt->set_target(0, OFFLINE) == -EBUSY);
  CHECK(rt->set_target(0, AP_USER_ONLINE) == -EBUSY);  // below sched:active
  CHECK(rt->state(0) == ONLINE);
  CHECK(rt->core_active(0));
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());

  // Another active core makes it possible; then that one is the last.
  REQUIRE(rt->core_up(1) == 0);
  CHECK(rt->core_down(0) == 0);
  CHECK(rt->state(0) == OFFLINE);
  CHECK(rt->core_down(1) == -EBUSY);
  CHECK(rt->state(1) == ONLINE);
  CHECK(rt->core_up(0) == 0);
  CHECK(rt->online_cores() == std::vector<unsigned>{0, 1});
}

TEST_CASE("core_up() of an ONLINE core and core_down() of an OFFLINE core are no-ops that "
          "return 0; an unknown core is -EINVAL") {
  CPUS_0_AND_1();
  event_log log;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "noop/w:online", log.startup("w"),
                          log.teardown("w")) == 0);
  log.clear();
  rt->set_trace(true);
  CHECK(rt->core_up(1) == 0);
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());
  REQUIRE(rt->core_down(1) == 0);
  (void)rt->take_trace();
  log.clear();
  CHECK(rt->core_down(1) == 0);
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());
  CHECK(rt->core_up(2) == -EINVAL);
  CHECK(rt->core_down(64) == -EINVAL);
  CHECK(rt->state(9) == -EINVAL);
  CHECK(rt->target(9) == -EINVAL);
  CHECK_FALSE(rt->core_online(9));
  CHECK_FALSE(rt->core_active(9));
}

TEST_CASE("core_online() is true between sched:starting up and down, core_active() between "
          "sched:active up and down; online_cores() lists the cores at ONLINE") {
  CPUS_0_AND_1();
  auto rt = offline_runtime({0, 1});
  CHECK(rt->online_cores().empty());
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "flags/t:starting", nullptr, nullptr) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "flags/w:online", nullptr, nullptr) == 0);
  for (unsigned c : rt->cores()) {
    CHECK_FALSE(rt->core_online(c));
    CHECK_FALSE(rt->core_active(c));
  }
  REQUIRE(rt->set_target(0, AP_USER_STARTING_1) == 0);
  CHECK(rt->core_online(0));
  CHECK_FALSE(rt->core_active(0));
  REQUIRE(rt->set_target(0, AP_USER_ONLINE) == 0);
  CHECK(rt->core_online(0));
  CHECK_FALSE(rt->core_active(0));
  CHECK(rt->online_cores().empty());
  REQUIRE(rt->core_up(0) == 0);
  CHECK(rt->core_active(0));
  CHECK(rt->online_cores() == std::vector<unsigned>{0});
  CHECK_FALSE(rt->core_online(1));
}

// ---- the listing

TEST_CASE("/sys/devices/system/cpu/hotplug/states lists the named states as `%3d: name`, "
          "ascending, the runtime's own and the ones set up") {
  auto rt = make_runtime();
  auto rows = rt->states();
  for (const auto& b : builtin_states) CHECK_MESSAGE(state_named(*rt, b.name) == b.state, b.name);
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i - 1].state < rows[i].state);
  for (const auto& r : rows) {
    CHECK_FALSE(r.name.empty());
    CHECK(r.state >= OFFLINE);
    CHECK(r.state <= ONLINE);
  }
  CHECK(rows.front().state == OFFLINE);
  CHECK(rows.back().state == ONLINE);

  REQUIRE(rt->setup_state(ARENA_PREPARE, "list/arena:prepare", nullptr, nullptr) == 0);
  const int dyn = rt->setup_state(ONLINE_DYN, "list/x:online", nullptr, nullptr);
  REQUIRE(dyn == ONLINE_DYN);
  rows = rt->states();
  std::string expected;
  char line[128];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%3d: %s\n", r.state, r.name.c_str());
    expected += line;
  }
  const std::string text = rt->states_text();
  CHECK(text == expected);
  CHECK(text.find("  0: offline\n") == 0);
  CHECK(text.find("  1: threads:prepare\n") != std::string::npos);
  CHECK(text.find("  2: list/arena:prepare\n") != std::string::npos);
  CHECK(text.find(" 25: core:bringup\n") != std::string::npos);
  CHECK(text.find(" 33: list/x:online\n") != std::string::npos);
  CHECK(text.find(" 73: sched:active\n") != std::string::npos);
  CHECK(text.ends_with(" 74: online\n"));

  REQUIRE(rt->remove_state(dyn) == 0);
  CHECK(rt->states_text().find("list/x:online") == std::string::npos);
  CHECK(rt->states().size() == rows.size() - 1);
}

TEST_CASE("a copy of an added instance starts detached: it can be added on its own, and the "
          "original stays added") {
  event_log log;
  named_node a("a");
  auto rt = make_runtime();
  const int m = rt->setup_state_multi(ONLINE_DYN, "multi/copy:online", log.multi_startup("m"),
                                      log.multi_teardown("m"));
  REQUIRE(m > 0);
  REQUIRE(rt->add_instance(m, &a) == 0);
  named_node copy = a;
  CHECK(copy.attached_state == -1);
  CHECK(a.attached_state == m);
  CHECK(rt->add_instance(m, &copy) == 0);
  CHECK(rt->remove_instance(m, &copy) == 0);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_multi_state(m) == 0);
}
