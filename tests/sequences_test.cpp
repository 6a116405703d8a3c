// SPDX-License-Identifier: MIT
// tests/sequences_test.cpp — the spec's four operation sequences (successful online and
// offline, failed online and offline) and the recursive failure, as exact event logs.
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"
#include "two_cores.h"

using namespace hotcore_test;

namespace {

// seq_states installs, on a runtime on two CPUs (TWO_CPUS) with core B OFFLINE and core A
// ONLINE, states in every section:
//   PREPARE   2 arena:prepare (both)   3 timers:dead (startup NULL)
//             4 seq/dyn:prepare (dynamic, teardown NULL)
//   STARTING 27 timers:starting        28 arena:starting
//   ONLINE   31 arena:online         33 seq/a:online (dynamic)
//            34 seq/b:offline (dynamic, startup NULL)   35 seq/c:online (dynamic)
struct seq_states {
  event_log log;
  cpu_pair cpu;
  std::unique_ptr<runtime> rt;
  std::set<int> user_states;

  explicit seq_states(const cpu_pair& c) : cpu(c), rt(two_core_runtime(c)) {
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->state(cpu.b) == OFFLINE);
    REQUIRE(logged_state(*rt, ARENA_PREPARE, "arena:prepare", log, "arena:prepare") == 0);
    REQUIRE(rt->setup_state(TIMERS_PREPARE, "timers:dead", nullptr,
                            log.teardown("timers:dead")) == 0);
    REQUIRE(rt->setup_state(PREPARE_DYN, "seq/dyn:prepare", log.startup("seq/dyn:prepare"),
                            nullptr) == PREPARE_DYN);
    REQUIRE(logged_state(*rt, AP_USER_STARTING_1, "timers:starting", log, "timers:starting") == 0);
    REQUIRE(logged_state(*rt, AP_USER_STARTING_2, "arena:starting", log, "arena:starting") == 0);
    REQUIRE(logged_state(*rt, AP_ARENA_ONLINE, "arena:online", log, "arena:online") == 0);
    REQUIRE(logged_state(*rt, ONLINE_DYN, "seq/a:online", log, "seq/a:online") == ONLINE_DYN);
    REQUIRE(rt->setup_state(ONLINE_DYN, "seq/b:offline", nullptr,
                            log.teardown("seq/b:offline")) == ONLINE_DYN + 1);
    REQUIRE(logged_state(*rt, ONLINE_DYN, "seq/c:online", log, "seq/c:online") == ONLINE_DYN + 2);
    user_states = {ARENA_PREPARE,      TIMERS_PREPARE,    PREPARE_DYN,
                   AP_USER_STARTING_1, AP_USER_STARTING_2, AP_ARENA_ONLINE,
                   ONLINE_DYN,         ONLINE_DYN + 1,    ONLINE_DYN + 2};
    log.clear();
    rt->set_trace(true);
  }

  // bring_up_core_b() brings core B ONLINE and forgets what that logged.
  void bring_up_core_b() {
    REQUIRE(rt->core_up(cpu.b) == 0);
    REQUIRE(rt->state(cpu.b) == ONLINE);
    log.clear();
    (void)rt->take_trace();
  }

  // failed_move() makes the callback that logs `line` (core B's) fail with `err`, moves
  // core B in direction `dir`, and checks that the move returned err and left it at `stays`.
  void failed_move(direction dir, const char* line, int err, int stays) {
    log.fail_on(line_on(cpu, line), err);
    CHECK((dir == direction::up ? rt->core_up(cpu.b) : rt->core_down(cpu.b)) == err);
    CHECK(rt->state(cpu.b) == stays);
  }

  std::vector<std::string> user_trace() { return trace_lines(rt->take_trace(), user_states); }
};

// online_log is written for core B (on() names its CPU).
const std::vector<std::string> online_log = {
    "up arena:prepare coreB",   "up seq/dyn:prepare coreB", "up timers:starting coreB",
    "up arena:starting coreB",  "up arena:online coreB",  "up seq/a:online coreB",
    "up seq/c:online coreB",
};

// offline_log is written for core B (on() names its CPU).
const std::vector<std::string> offline_log = {
    "down seq/c:online coreB",    "down seq/b:offline coreB", "down seq/a:online coreB",
    "down arena:online coreB",  "down arena:starting coreB",
    "down timers:starting coreB", "down timers:dead coreB",   "down arena:prepare coreB",
};

// is_strictly_monotonic() tells whether the events' states only go up (or only down).
bool is_strictly_monotonic(const std::vector<trace_event>& events, bool up) {
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (up && events[i].state <= events[i - 1].state) return false;
    if (!up && events[i].state >= events[i - 1].state) return false;
  }
  return true;
}

// check_clean_walk() checks that the events are one walk of `core` in direction `dir`: the
// states strictly monotonic, every callback succeeded, no rollback, nothing injected.
void check_clean_walk(const std::vector<trace_event>& events, unsigned core, direction dir) {
  CHECK(is_strictly_monotonic(events, dir == direction::up));
  for (const auto& ev : events) {
    CHECK(ev.core == core);
    CHECK(ev.dir == dir);
    CHECK(ev.result == 0);
    CHECK_FALSE(ev.rollback);
    CHECK_FALSE(ev.injected);
  }
}

// check_walk() checks the trace taken now: one clean walk of core B in direction `dir`
// whose user states' lines are `expected` (written for core B).
void check_walk(seq_states& f, direction dir, const std::vector<std::string>& expected) {
  const auto events = f.rt->take_trace();
  check_clean_walk(events, f.cpu.b, dir);
  CHECK(trace_lines(events, f.user_states) == on(f.cpu, expected));
}

}  // namespace

TEST_CASE("A successful online operation: the startup callbacks are invoked sequentially "
          "until the state CPUHP_ONLINE is reached; [CPUHP_OFFLINE + 3] -> skipped because "
          "startup == NULL") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  REQUIRE(f.rt->core_up(cpu.b) == 0);
  CHECK(f.rt->state(cpu.b) == ONLINE);
  CHECK(f.rt->target(cpu.b) == ONLINE);
  CHECK(f.log.take() == on(f.cpu, online_log));

  REQUIRE(f.rt->core_down(cpu.b) == 0);  // for the trace of the same walk below
  (void)f.rt->take_trace();
  f.log.clear();
  REQUIRE(f.rt->core_up(cpu.b) == 0);
  check_walk(f, direction::up, {
      "up 2 arena:prepare coreB",    "up 4 seq/dyn:prepare coreB",
      "up 27 timers:starting coreB", "up 28 arena:starting coreB",
      "up 31 arena:online coreB",  "up 33 seq/a:online coreB",
      "up 35 seq/c:online coreB",
  });
  CHECK(f.log.take() == on(f.cpu, online_log));
}

TEST_CASE("A successful offline operation: the teardown callbacks are invoked in the "
          "reverse order until CPUHP_OFFLINE; [CPUHP_OFFLINE + 2] -> skipped because "
          "teardown == NULL") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  f.bring_up_core_b();
  REQUIRE(f.rt->core_down(cpu.b) == 0);
  CHECK(f.rt->state(cpu.b) == OFFLINE);
  CHECK(f.rt->target(cpu.b) == OFFLINE);
  CHECK(f.log.take() == on(f.cpu, offline_log));
  check_walk(f, direction::down, {
      "down 35 seq/c:online coreB",    "down 34 seq/b:offline coreB",
      "down 33 seq/a:online coreB",    "down 31 arena:online coreB",
      "down 28 arena:starting coreB",  "down 27 timers:starting coreB",
      "down 3 timers:dead coreB",      "down 2 arena:prepare coreB",
  });
}

TEST_CASE("A failed online operation: [CPUHP_AP_ONLINE + N]->startup() -> fail, then "
          "[CPUHP_AP_ONLINE + (N - 1)]->teardown() ... down to [CPUHP_OFFLINE]: the CPU is "
          "brought back to the previous state") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  f.failed_move(direction::up, "up seq/c:online coreB", -EIO, OFFLINE);
  CHECK_FALSE(f.rt->core_online(cpu.b));
  CHECK_FALSE(f.rt->core_active(cpu.b));
  const auto expected_log = on(cpu, {
      "up arena:prepare coreB",     "up seq/dyn:prepare coreB",   "up timers:starting coreB",
      "up arena:starting coreB",    "up arena:online coreB",    "up seq/a:online coreB",
      "up seq/c:online coreB fail",  // its own teardown is not run
      "down seq/b:offline coreB",   "down seq/a:online coreB",    "down arena:online coreB",
      "down arena:starting coreB",  "down timers:starting coreB", "down timers:dead coreB",
      "down arena:prepare coreB",
  });
  CHECK(f.log.take() == expected_log);
  const auto expected_trace = on(cpu, {
      "up 2 arena:prepare coreB",
      "up 4 seq/dyn:prepare coreB",
      "up 27 timers:starting coreB",
      "up 28 arena:starting coreB",
      "up 31 arena:online coreB",
      "up 33 seq/a:online coreB",
      "up 35 seq/c:online coreB -> " + std::to_string(-EIO),
      "down 34 seq/b:offline coreB rollback",
      "down 33 seq/a:online coreB rollback",
      "down 31 arena:online coreB rollback",
      "down 28 arena:starting coreB rollback",
      "down 27 timers:starting coreB rollback",
      "down 3 timers:dead coreB rollback",
      "down 2 arena:prepare coreB rollback",
  });
  CHECK(f.user_trace() == expected_trace);

  // Nothing is left half-done: the next online operation is a clean, complete one.
  REQUIRE(f.rt->core_up(cpu.b) == 0);
  CHECK(f.log.take() == on(f.cpu, online_log));
}

TEST_CASE("PREPARE section: the startup callbacks are allowed to fail; if a callback fails, "
          "the CPU online operation is aborted and the CPU is brought down to the previous "
          "state (usually CPUHP_OFFLINE) again") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  f.failed_move(direction::up, "up seq/dyn:prepare coreB", -ENOMEM, OFFLINE);
  const auto expected = on(cpu, {
      "up arena:prepare coreB",
      "up seq/dyn:prepare coreB fail",
      "down timers:dead coreB",  // state 3 was passed (startup NULL), so it is torn down
      "down arena:prepare coreB",
  });
  CHECK(f.log.take() == expected);
  const auto events = f.rt->take_trace();
  for (const auto& ev : events) {
    if (ev.state >= BRINGUP_CORE) FAIL_CHECK("the walk went past the failed PREPARE state: "
                                             << trace_line(ev));
  }
}

TEST_CASE("ONLINE section: when a callback fails the hotplug operation is aborted and the "
          "CPU is brought back to the previous state, which need not be CPUHP_OFFLINE") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  REQUIRE(f.rt->set_target(cpu.b, AP_USER_STARTING_2) == 0);
  REQUIRE(f.rt->state(cpu.b) == AP_USER_STARTING_2);
  f.log.clear();
  f.failed_move(direction::up, "up seq/a:online coreB", -EIO, AP_USER_STARTING_2);
  const auto expected = on(cpu, {
      "up arena:online coreB",
      "up seq/a:online coreB fail",
      "down arena:online coreB",
  });
  CHECK(f.log.take() == expected);
}

TEST_CASE("A failed offline operation: [CPUHP_ONLINE - N]->teardown() -> fail, then "
          "[CPUHP_ONLINE - (N - 1)]->startup() ... [CPUHP_ONLINE - 1]->startup(), back at "
          "[CPUHP_ONLINE]") {
  TWO_CPUS(cpu);
  seq_states f(cpu);
  f.bring_up_core_b();
  f.failed_move(direction::down, "down arena:online coreB", -EBUSY, ONLINE);
  CHECK(f.rt->core_active(cpu.b));
  const auto expected_log = on(cpu, {
      "down seq/c:online coreB",
      "down seq/b:offline coreB",
      "down seq/a:online coreB",
      "down arena:online coreB fail",  // stays at arena:online: no startup for it
      "up seq/a:online coreB",
      "up seq/c:online coreB",  // seq/b:offline has startup == NULL: skipped
  });
  CHECK(f.log.take() == expected_log);
  const auto expected_trace = on(cpu, {
      "down 35 seq/c:online coreB",
      "down 34 seq/b:offline coreB",
      "down 33 seq/a:online coreB",
      "down 31 arena:online coreB -> " + std::to_string(-EBUSY),
      "up 33 seq/a:online coreB rollback",
      "up 35 seq/c:online coreB rollback",
  });
  CHECK(f.user_trace() == expected_trace);

  REQUIRE(f.rt->core_down(cpu.b) == 0);
  CHECK(f.log.take() == on(f.cpu, offline_log));
}

namespace {

// chain_states installs four contiguous dynamic ONLINE states r/1..r/4 (33..36), both
// callbacks each, so no NULL callback hides a step; both cores (TWO_CPUS) ONLINE.
struct chain_states {
  event_log log;
  cpu_pair cpu;
  std::unique_ptr<runtime> rt;
  int first = 0;

  explicit chain_states(const cpu_pair& c) : cpu(c), rt(two_core_runtime(c)) {
    for (int i = 1; i <= 4; ++i) {
      const std::string tag = "r/" + std::to_string(i);
      const int st = rt->setup_state(ONLINE_DYN, tag + ":online", log.startup(tag),
                                     log.teardown(tag));
      REQUIRE(st == ONLINE_DYN + i - 1);
      if (i == 1) first = st;
    }
    REQUIRE(rt->state(cpu.b) == ONLINE);
    log.clear();
  }
};

}  // namespace

TEST_CASE("Recursive failures: [CPUHP_ONLINE - N]->teardown() -> fail, "
          "[CPUHP_ONLINE - (N - 1)]->startup() -> success, [CPUHP_ONLINE - (N - 2)]->startup() "
          "-> fail: the state machine stops right here and the CPU is left in state "
          "[CPUHP_ONLINE - (N - 1)]") {
  TWO_CPUS(cpu);
  chain_states f(cpu);
  f.log.fail_on(line_on(cpu, "down r/1 coreB"), -EIO);    // [ONLINE - N]
  f.log.fail_on(line_on(cpu, "up r/3 coreB"), -ENOMEM);   // [ONLINE - (N - 2)], while rolling back
  CHECK(f.rt->core_down(cpu.b) == -EIO);       // the original error
  CHECK(f.rt->state(cpu.b) == f.first + 1);    // r/2: [ONLINE - (N - 1)]
  const auto expected = on(cpu, {
      "down r/4 coreB", "down r/3 coreB",    "down r/2 coreB",
      "down r/1 coreB fail",
      "up r/2 coreB",   "up r/3 coreB fail",  // stop: no endless loop
  });
  CHECK(f.log.take() == expected);

  // "which at least lets the system make progress": the CPU can go on from there.
  REQUIRE(f.rt->core_up(cpu.b) == 0);
  CHECK(f.rt->state(cpu.b) == ONLINE);
  const auto up_again = on(cpu, {"up r/3 coreB", "up r/4 coreB"});
  CHECK(f.log.take() == up_again);
  REQUIRE(f.rt->core_down(cpu.b) == 0);
  const auto down_again = on(cpu, {"down r/4 coreB", "down r/3 coreB",
                                               "down r/2 coreB", "down r/1 coreB"});
  CHECK(f.log.take() == down_again);
}

TEST_CASE("Recursive failures on the way up: a teardown that fails while a failed online "
          "operation rolls back stops the state machine right there, with the original error") {
  TWO_CPUS(cpu);
  chain_states f(cpu);
  REQUIRE(f.rt->core_down(cpu.b) == 0);
  f.log.clear();
  f.log.fail_on(line_on(cpu, "up r/3 coreB"), -EIO);
  f.log.fail_on(line_on(cpu, "down r/1 coreB"), -ENOMEM);
  CHECK(f.rt->core_up(cpu.b) == -EIO);
  CHECK(f.rt->state(cpu.b) == f.first);  // r/1's teardown failed: still at r/1
  const auto expected = on(cpu, {
      "up r/1 coreB", "up r/2 coreB", "up r/3 coreB fail",
      "down r/2 coreB", "down r/1 coreB fail",
  });
  CHECK(f.log.take() == expected);
  REQUIRE(f.rt->core_up(cpu.b) == 0);
  const auto up_again = on(cpu, {"up r/2 coreB", "up r/3 coreB", "up r/4 coreB"});
  CHECK(f.log.take() == up_again);
}
