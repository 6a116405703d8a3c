// SPDX-License-Identifier: MIT
// tests/rules_walk_test.cpp — the spec's rules for the walk over a linear state space,
// up and down; NULL callbacks; cpuN/hotplug/target (set_target) and cpuN/hotplug/fail.
#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;

namespace {

// states_of() lists the states of trace events, in order.
std::vector<int> states_of(const std::vector<trace_event>& events) {
  std::vector<int> out;
  for (const auto& ev : events) out.push_back(ev.state);
  return out;
}

// check_injected_down(): a failure armed at AP_USER_ONLINE on core B fails its teardown
// (the callback does not run) and the core rolls back up; it is one-shot.
void check_injected_down(runtime& rt, event_log& log, const cpu_pair& cpu) {
  REQUIRE(rt.set_fail(cpu.b, AP_USER_ONLINE) == 0);
  // Not on the other core.
  REQUIRE(rt.core_down(cpu.a) == 0);
  REQUIRE(rt.core_up(cpu.a) == 0);
  CHECK(rt.fail(cpu.b) == AP_USER_ONLINE);
  log.clear();
  (void)rt.take_trace();

  CHECK(rt.core_down(cpu.b) == -EAGAIN);
  CHECK(rt.state(cpu.b) == ONLINE);
  CHECK(rt.fail(cpu.b) == -1);  // one-shot
  // The injected failure replaces the callback: it did not run.
  CHECK(log.take() == on(cpu, {"down d coreB", "up d coreB"}));
  const auto trace = on(cpu, {
      "down 32 inj/w:online coreB -> " + std::to_string(-EAGAIN) + " injected",
  });
  std::vector<std::string> injected;
  for (const auto& ev : rt.take_trace())
    if (ev.injected) injected.push_back(trace_line(ev));
  CHECK(injected == trace);

  CHECK(rt.core_down(cpu.b) == 0);  // cleared after it fired
  CHECK(log.take() == on(cpu, {"down d coreB", "down w coreB"}));
}

// check_injected_up(): a failure armed at the dynamic state `dyn` on core B fails its
// startup and the core rolls back down; it is one-shot.
void check_injected_up(runtime& rt, event_log& log, const cpu_pair& cpu, int dyn) {
  REQUIRE(rt.core_down(cpu.b) == 0);
  REQUIRE(rt.set_fail(cpu.b, dyn) == 0);
  log.clear();
  (void)rt.take_trace();
  CHECK(rt.core_up(cpu.b) == -EAGAIN);
  CHECK(rt.state(cpu.b) == OFFLINE);
  CHECK(rt.fail(cpu.b) == -1);
  CHECK(log.take() == on(cpu, {"up w coreB", "down w coreB"}));
  bool found = false;
  for (const auto& ev : rt.take_trace())
    if (ev.injected) {
      CHECK_FALSE(found);
      found = true;
      CHECK(ev.state == dyn);
      CHECK(ev.core == cpu.b);
      CHECK(ev.dir == direction::up);
      CHECK(ev.result == -EAGAIN);
      CHECK_FALSE(ev.rollback);
    }
  CHECK(found);
  CHECK(rt.core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up w coreB", "up d coreB"}));
}

}  // namespace

// ---- ordering and NULL callbacks

TEST_CASE("linear state space: when a CPU is onlined the startup callbacks are invoked "
          "sequentially, and when it is offlined the teardown callbacks are invoked in the "
          "reverse order, whatever order the states were set up in") {
  TWO_CPUS(cpu);
  event_log log;
  auto rt = offline_runtime(cpu);
  // Set up in a scrambled order, without calls (every core is OFFLINE anyway).
  const std::vector<int> order = {AP_USER_ONLINE, ARENA_PREPARE,      AP_USER_STARTING_2,
                                  CPU_PHYSICAL,       TIMERS_PREPARE,     AP_USER_STARTING_1,
                                  AP_ARENA_ONLINE};
  for (int st : order) {
    const std::string tag = std::to_string(st);
    REQUIRE(rt->setup_state(st, "order/" + tag, log.startup(tag), log.teardown(tag)) == 0);
  }
  const int dyn_online = logged_state(*rt, ONLINE_DYN, "order/dyn:online", log, "dyn-on");
  const int dyn_prepare = logged_state(*rt, PREPARE_DYN, "order/dyn:prepare", log, "dyn-prep");
  const int dyn_online2 = logged_state(*rt, ONLINE_DYN, "order/dyn2:online", log, "dyn-on2");
  REQUIRE(dyn_online == ONLINE_DYN);
  REQUIRE(dyn_prepare == PREPARE_DYN);
  REQUIRE(dyn_online2 == ONLINE_DYN + 1);
  CHECK(log.take() == no_events);  // no core is at or past any of them

  rt->set_trace(true);
  REQUIRE(rt->core_up(cpu.a) == 0);
  const auto up = on(cpu, {
      "up 2 coreA",  "up 3 coreA",  "up dyn-prep coreA", "up 24 coreA",     "up 27 coreA",
      "up 28 coreA", "up 31 coreA", "up 32 coreA",       "up dyn-on coreA", "up dyn-on2 coreA",
  });
  CHECK(log.take() == up);
  auto events = rt->take_trace();
  auto seen = states_of(events);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());

  REQUIRE(rt->core_up(cpu.b) == 0);
  (void)rt->take_trace();
  log.clear();
  REQUIRE(rt->core_down(cpu.b) == 0);
  const auto down = on(cpu, {
      "down dyn-on2 coreB", "down dyn-on coreB", "down 32 coreB", "down 31 coreB",
      "down 28 coreB",      "down 27 coreB",     "down 24 coreB", "down dyn-prep coreB",
      "down 3 coreB",       "down 2 coreB",
  });
  CHECK(log.take() == down);
  events = rt->take_trace();
  seen = states_of(events);
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("If a usage site requires only a callback in one direction then the other "
          "not-required callback can be set to NULL: it is skipped and leaves no trace event") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "null/startup-only:online",
                          log.startup("startup-only"), nullptr) == 0);
  REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "null/teardown-only:offline", callback{},
                          log.teardown("teardown-only")) == 0);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "null/neither:prepare", nullptr, nullptr) == 0);
  CHECK(log.take() == on(cpu, {"up startup-only coreA"}));
  rt->set_trace(true);

  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up startup-only coreB"}));
  for (const auto& ev : rt->take_trace()) {
    CHECK_MESSAGE(ev.state != AP_ARENA_ONLINE, trace_line(ev));
    CHECK_MESSAGE(ev.state != ARENA_PREPARE, trace_line(ev));
  }
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"down teardown-only coreB"}));
  for (const auto& ev : rt->take_trace()) {
    CHECK_MESSAGE(ev.state != AP_USER_ONLINE, trace_line(ev));
    CHECK_MESSAGE(ev.state != ARENA_PREPARE, trace_line(ev));
  }
  // remove_state() with a NULL teardown invokes nothing.
  CHECK(rt->remove_state(AP_USER_ONLINE) == 0);
  CHECK(log.take() == no_events);
}

// ---- set_target

TEST_CASE("cpuN/hotplug/target: writing a state number moves the CPU to that state, up or "
          "down, through the same walk") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_state(*rt, ARENA_PREPARE, "tgt/arena:prepare", log, "arena") == 0);
  REQUIRE(logged_state(*rt, AP_USER_STARTING_1, "tgt/timers:starting", log, "timers") == 0);
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "tgt/uring:online", log, "workers") == 0);
  const int dyn = logged_state(*rt, ONLINE_DYN, "tgt/dyn:online", log, "dyn");
  REQUIRE(dyn == ONLINE_DYN);
  log.clear();

  CHECK(rt->set_target(cpu.b, AP_USER_ONLINE) == 0);  // down
  CHECK(rt->state(cpu.b) == AP_USER_ONLINE);
  CHECK(rt->target(cpu.b) == AP_USER_ONLINE);
  CHECK(log.take() == on(cpu, {"down dyn coreB"}));
  CHECK_FALSE(rt->core_active(cpu.b));
  CHECK(rt->core_online(cpu.b));
  CHECK(rt->online_cores() == std::vector<unsigned>{cpu.a});

  CHECK(rt->set_target(cpu.b, AP_USER_STARTING_1) == 0);  // further down
  CHECK(rt->state(cpu.b) == AP_USER_STARTING_1);
  CHECK(log.take() == on(cpu, {"down workers coreB"}));
  CHECK(rt->core_online(cpu.b));

  CHECK(rt->set_target(cpu.b, ARENA_PREPARE) == 0);  // into PREPARE
  CHECK(rt->state(cpu.b) == ARENA_PREPARE);
  CHECK(log.take() == on(cpu, {"down timers coreB"}));
  CHECK_FALSE(rt->core_online(cpu.b));

  CHECK(rt->set_target(cpu.b, ARENA_PREPARE) == 0);  // already there
  CHECK(log.take() == no_events);

  CHECK(rt->set_target(cpu.b, dyn) == 0);  // up
  CHECK(rt->state(cpu.b) == dyn);
  const auto up = on(cpu, {"up timers coreB", "up workers coreB", "up dyn coreB"});
  CHECK(log.take() == up);
  CHECK_FALSE(rt->core_active(cpu.b));

  CHECK(rt->set_target(cpu.b, OFFLINE) == 0);
  CHECK(rt->state(cpu.b) == OFFLINE);
  const auto down = on(cpu, {"down dyn coreB", "down workers coreB",
                                         "down timers coreB", "down arena coreB"});
  CHECK(log.take() == down);
  CHECK(rt->set_target(cpu.b, ONLINE) == 0);
  CHECK(rt->state(cpu.b) == ONLINE);
  CHECK(rt->core_active(cpu.b));
  CHECK(rt->online_cores() == std::vector<unsigned>{cpu.a, cpu.b});
}

TEST_CASE("set_target(): -EINVAL for a state with no name and for the states that cannot be "
          "stopped at (core:bringup, ap:online)") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  rt->set_trace(true);
  for (int st : {static_cast<int>(AP_USER_ONLINE), static_cast<int>(ARENA_PREPARE),
                 static_cast<int>(AP_USER_STARTING_1), PREPARE_DYN + 3, ONLINE_DYN + 7,
                 static_cast<int>(BRINGUP_CORE), static_cast<int>(AP_ONLINE),
                 static_cast<int>(NR_STATES), static_cast<int>(INVALID), -7, 500}) {
    CAPTURE(st);
    CHECK(rt->set_target(cpu.b, st) == -EINVAL);
    CHECK(rt->state(cpu.b) == ONLINE);
  }
  CHECK(rt->take_trace().empty());
  CHECK(rt->set_target(cpu.b + 1, OFFLINE) == -EINVAL);  // not a worker core
  CHECK(rt->set_target(cpu.b, ONLINE) == 0);          // already there
  CHECK(rt->take_trace().empty());
  // A state becomes a valid target when it is set up.
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "tgt/uring:online", nullptr, nullptr) == 0);
  CHECK(rt->set_target(cpu.b, AP_USER_ONLINE) == 0);
  CHECK(rt->state(cpu.b) == AP_USER_ONLINE);
}

// ---- set_fail

TEST_CASE("cpuN/hotplug/fail: set_fail() is rejected for STARTING states (they are not "
          "allowed to fail), for states without callbacks, for out-of-range states and for "
          "PREPARE states once the core is past core:bringup") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_state(*rt, ARENA_PREPARE, "fail/arena:prepare", log, "a") == 0);
  REQUIRE(logged_state(*rt, AP_USER_STARTING_1, "fail/timers:starting", log, "t") == 0);
  const int w = logged_state(*rt, ONLINE_DYN, "fail/w:online", log, "w");
  REQUIRE(w == ONLINE_DYN);
  REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "fail/startup-only:online", log.startup("s"),
                          nullptr) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "fail/named-only:online", nullptr, nullptr) == 0);
  CHECK(rt->fail(cpu.b) == -1);

  for (int st : {static_cast<int>(AP_SCHED_STARTING), static_cast<int>(AP_USER_STARTING_1),
                 static_cast<int>(AP_USER_STARTING_2), static_cast<int>(AP_ONLINE)})
    CHECK_MESSAGE(rt->set_fail(cpu.b, st) == -EINVAL, "STARTING state " << st);
  for (int st : {static_cast<int>(OFFLINE), static_cast<int>(ONLINE), ONLINE_DYN + 4,
                 static_cast<int>(AP_USER_ONLINE), static_cast<int>(TIMERS_PREPARE)})
    CHECK_MESSAGE(rt->set_fail(cpu.b, st) == -EINVAL, "no callbacks at " << st);
  for (int st : {static_cast<int>(NR_STATES), NR_STATES + 10, -2, -100})
    CHECK_MESSAGE(rt->set_fail(cpu.b, st) == -EINVAL, "out of range " << st);
  for (int st : {static_cast<int>(THREADS_PREPARE), static_cast<int>(ARENA_PREPARE),
                 static_cast<int>(BRINGUP_CORE)})
    CHECK_MESSAGE(rt->set_fail(cpu.b, st) == -EINVAL, "PREPARE state " << st << " on an ONLINE core");
  CHECK(rt->set_fail(cpu.b + 1, w) == -EINVAL);  // not a worker core
  CHECK(rt->fail(cpu.b) == -1);

  // Accepted: ONLINE states with callbacks (one is enough), PREPARE ones on an OFFLINE core.
  CHECK(rt->set_fail(cpu.b, w) == 0);
  CHECK(rt->fail(cpu.b) == w);
  CHECK(rt->set_fail(cpu.b, AP_ARENA_ONLINE) == 0);
  CHECK(rt->fail(cpu.b) == AP_ARENA_ONLINE);  // the last one written
  CHECK(rt->set_fail(cpu.b, AP_SCHED_ACTIVE) == 0);
  CHECK(rt->fail(cpu.b) == AP_SCHED_ACTIVE);
  CHECK(rt->set_fail(cpu.b, -1) == 0);  // -1 clears
  CHECK(rt->fail(cpu.b) == -1);
  CHECK(rt->fail(cpu.a) == -1);
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(rt->set_fail(cpu.b, ARENA_PREPARE) == 0);
  CHECK(rt->fail(cpu.b) == ARENA_PREPARE);
  CHECK(rt->set_fail(cpu.b, BRINGUP_CORE) == 0);
  CHECK(rt->set_fail(cpu.b, THREADS_PREPARE) == 0);
  CHECK(rt->set_fail(cpu.b, AP_USER_STARTING_1) == -EINVAL);
  CHECK(rt->fail(cpu.b) == THREADS_PREPARE);  // a rejected write leaves the armed state
  CHECK(rt->set_fail(cpu.b, -1) == 0);
  CHECK(rt->fail(cpu.b) == -1);
  // Cleared: the walk is not affected.
  REQUIRE(rt->core_up(cpu.b) == 0);
}

TEST_CASE("cpuN/hotplug/fail makes the callback of the given state fail once with -EAGAIN the "
          "next time it would run, in either direction, on that core only") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "inj/w:online", log, "w") == 0);
  const int dyn = logged_state(*rt, ONLINE_DYN, "inj/d:online", log, "d");
  REQUIRE(dyn == ONLINE_DYN);
  log.clear();
  rt->set_trace(true);

  SUBCASE("on the way down: the teardown fails, the core rolls back up") {
    check_injected_down(*rt, log, cpu);
  }
  SUBCASE("on the way up: the startup fails, the core rolls back down") {
    check_injected_up(*rt, log, cpu, dyn);
  }
  SUBCASE("a walk that does not reach the state leaves it armed") {
    REQUIRE(rt->set_fail(cpu.b, AP_USER_ONLINE) == 0);
    CHECK(rt->set_target(cpu.b, dyn) == 0);  // down to dyn: only above it
    CHECK(rt->fail(cpu.b) == AP_USER_ONLINE);
    CHECK(rt->set_target(cpu.b, ONLINE) == 0);
    CHECK(rt->fail(cpu.b) == AP_USER_ONLINE);
    log.clear();
    CHECK(rt->set_target(cpu.b, AP_USER_ONLINE - 1) == -EINVAL);  // unnamed: nothing happens
    CHECK(rt->core_down(cpu.b) == -EAGAIN);
    CHECK(rt->state(cpu.b) == ONLINE);
    CHECK(rt->fail(cpu.b) == -1);
  }
  SUBCASE("set_fail(core, -1) clears an armed failure") {
    REQUIRE(rt->set_fail(cpu.b, AP_USER_ONLINE) == 0);
    REQUIRE(rt->set_fail(cpu.b, -1) == 0);
    CHECK(rt->core_down(cpu.b) == 0);
    CHECK(rt->core_up(cpu.b) == 0);
  }
  SUBCASE("a PREPARE state armed on an OFFLINE core fails its startup") {
    REQUIRE(logged_state(*rt, ARENA_PREPARE, "inj/a:prepare", log, "a") == 0);
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->set_fail(cpu.b, ARENA_PREPARE) == 0);
    log.clear();
    CHECK(rt->core_up(cpu.b) == -EAGAIN);
    CHECK(rt->state(cpu.b) == OFFLINE);
    CHECK(log.take() == no_events);
    CHECK(rt->core_up(cpu.b) == 0);
  }
}
