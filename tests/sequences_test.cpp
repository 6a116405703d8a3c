// SPDX-License-Identifier: MIT
// tests/sequences_test.cpp — the spec's four operation sequences (successful online and
// offline, failed online and offline) and the recursive failure, as exact event logs.
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;

namespace {

// seq_states installs, with core 1 OFFLINE and core 0 ONLINE, states in every section:
//   PREPARE   2 arena:prepare (both)   3 timers:dead (startup NULL)
//             4 seq/dyn:prepare (dynamic, teardown NULL)
//   STARTING 27 timers:starting        28 arena:starting
//   ONLINE   31 arena:online         33 seq/a:online (dynamic)
//            34 seq/b:offline (dynamic, startup NULL)   35 seq/c:online (dynamic)
struct seq_states {
  event_log log;
  std::unique_ptr<runtime> rt = make_runtime();
  std::set<int> user_states;

  seq_states() {
    REQUIRE(rt->cores() == std::vector<unsigned>{0, 1});
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(rt->state(1) == OFFLINE);
    REQUIRE(rt->setup_state(ARENA_PREPARE, "arena:prepare", log.startup("arena:prepare"),
                            log.teardown("arena:prepare")) == 0);
    REQUIRE(rt->setup_state(TIMERS_PREPARE, "timers:dead", nullptr,
                            log.teardown("timers:dead")) == 0);
    REQUIRE(rt->setup_state(PREPARE_DYN, "seq/dyn:prepare", log.startup("seq/dyn:prepare"),
                            nullptr) == PREPARE_DYN);
    REQUIRE(rt->setup_state(AP_USER_STARTING_1, "timers:starting",
                            log.startup("timers:starting"),
                            log.teardown("timers:starting")) == 0);
    REQUIRE(rt->setup_state(AP_USER_STARTING_2, "arena:starting", log.startup("arena:starting"),
                            log.teardown("arena:starting")) == 0);
    REQUIRE(rt->setup_state(AP_ARENA_ONLINE, "arena:online", log.startup("arena:online"),
                            log.teardown("arena:online")) == 0);
    REQUIRE(rt->setup_state(ONLINE_DYN, "seq/a:online", log.startup("seq/a:online"),
                            log.teardown("seq/a:online")) == ONLINE_DYN);
    REQUIRE(rt->setup_state(ONLINE_DYN, "seq/b:offline", nullptr,
                            log.teardown("seq/b:offline")) == ONLINE_DYN + 1);
    REQUIRE(rt->setup_state(ONLINE_DYN, "seq/c:online", log.startup("seq/c:online"),
                            log.teardown("seq/c:online")) == ONLINE_DYN + 2);
    user_states = {ARENA_PREPARE,      TIMERS_PREPARE,    PREPARE_DYN,
                   AP_USER_STARTING_1, AP_USER_STARTING_2, AP_ARENA_ONLINE,
                   ONLINE_DYN,         ONLINE_DYN + 1,    ONLINE_DYN + 2};
    log.clear();
    rt->set_trace(true);
  }

  // bring_up_core1() brings core 1 ONLINE and forgets what that logged.
  void bring_up_core1() {
    REQUIRE(rt->core_up(1) == 0);
    REQUIRE(rt->state(1) == ONLINE);
    log.clear();
    (void)rt->take_trace();
  }

  std::vector<std::string> user_trace() { return trace_lines(rt->take_trace(), user_states); }
};

const std::vector<std::string> online_log = {
    "up arena:prepare core1",   "up seq/dyn:prepare core1", "up timers:starting core1",
    "up arena:starting core1",  "up arena:online core1",  "up seq/a:online core1",
    "up seq/c:online core1",
};

const std::vector<std::string> offline_log = {
    "down seq/c:online core1",    "down seq/b:offline core1", "down seq/a:online core1",
    "down arena:online core1",  "down arena:starting core1",
    "down timers:starting core1", "down timers:dead core1",   "down arena:prepare core1",
};

// is_strictly_monotonic() tells whether the events' states only go up (or only down).
bool is_strictly_monotonic(const std::vector<trace_event>& events, bool up) {
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (up && events[i].state <= events[i - 1].state) return false;
    if (!up && events[i].state >= events[i - 1].state) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("A successful online operation: the startup callbacks are invoked sequentially "
          "until the state CPUHP_ONLINE is reached; [CPUHP_OFFLINE + 3] -> skipped because "
          "startup == NULL") {
  CPUS_0_AND_1();
  seq_states f;
  REQUIRE(f.rt->core_up(1) == 0);
  CHECK(f.rt->state(1) == ONLINE);
  CHECK(f.rt->target(1) == ONLINE);
  CHECK(f.log.take() == online_log);

  REQUIRE(f.rt->core_down(1) == 0);  // for the trace of the same walk below
  (void)f.rt->take_trace();
  f.log.clear();
  REQUIRE(f.rt->core_up(1) == 0);
  const auto events = f.rt->take_trace();
  CHECK(is_strictly_monotonic(events, true));
  for (const auto& ev : events) {
    CHECK(ev.core == 1u);
    CHECK(ev.dir == direction::up);
    CHECK(ev.result == 0);
    CHECK_FALSE(ev.rollback);
    CHECK_FALSE(ev.injected);
  }
  const std::vector<std::string> expected = {
      "up 2 arena:prepare core1",    "up 4 seq/dyn:prepare core1",
      "up 27 timers:starting core1", "up 28 arena:starting core1",
      "up 31 arena:online core1",  "up 33 seq/a:online core1",
      "up 35 seq/c:online core1",
  };
  CHECK(trace_lines(events, f.user_states) == expected);
  CHECK(f.log.take() == online_log);
}

TEST_CASE("A successful offline operation: the teardown callbacks are invoked in the "
          "reverse order until CPUHP_OFFLINE; [CPUHP_OFFLINE + 2] -> skipped because "
          "teardown == NULL") {
  CPUS_0_AND_1();
  seq_states f;
  f.bring_up_core1();
  REQUIRE(f.rt->core_down(1) == 0);
  CHECK(f.rt->state(1) == OFFLINE);
  CHECK(f.rt->target(1) == OFFLINE);
  CHECK(f.log.take() == offline_log);
  const auto events = f.rt->take_trace();
  CHECK(is_strictly_monotonic(events, false));
  for (const auto& ev : events) {
    CHECK(ev.core == 1u);
    CHECK(ev.dir == direction::down);
    CHECK(ev.result == 0);
    CHECK_FALSE(ev.rollback);
  }
  const std::vector<std::string> expected = {
      "down 35 seq/c:online core1",    "down 34 seq/b:offline core1",
      "down 33 seq/a:online core1",    "down 31 arena:online core1",
      "down 28 arena:starting core1",  "down 27 timers:starting core1",
      "down 3 timers:dead core1",      "down 2 arena:prepare core1",
  };
  CHECK(trace_lines(events, f.user_states) == expected);
}

TEST_CASE("A failed online operation: [CPUHP_AP_ONLINE + N]->startup() -> fail, then "
          "[CPUHP_AP_ONLINE + (N - 1)]->teardown() ... down to [CPUHP_OFFLINE]: the CPU is "
          "brought back to the previous state") {
  CPUS_0_AND_1();
  seq_states f;
  f.log.fail_on("up seq/c:online core1", -EIO);
  CHECK(f.rt->core_up(1) == -EIO);
  CHECK(f.rt->state(1) == OFFLINE);
  CHECK_FALSE(f.rt->core_online(1));
  CHECK_FALSE(f.rt->core_active(1));
  const std::vector<std::string> expected_log = {
      "up arena:prepare core1",     "up seq/dyn:prepare core1",   "up timers:starting core1",
      "up arena:starting core1",    "up arena:online core1",    "up seq/a:online core1",
      "up seq/c:online core1 fail",  // its own teardown is not run
      "down seq/b:offline core1",   "down seq/a:online core1",    "down arena:online core1",
      "down arena:starting core1",  "down timers:starting core1", "down timers:dead core1",
      "down arena:prepare core1",
  };
  CHECK(f.log.take() == expected_log);
  const std::vector<std::string> expected_trace = {
      "up 2 arena:prepare core1",
      "up 4 seq/dyn:prepare core1",
      "up 27 timers:starting core1",
      "up 28 arena:starting core1",
      "up 31 arena:online core1",
      "up 33 seq/a:online core1",
      "up 35 seq/c:online core1 -> " + std::to_string(-EIO),
      "down 34 seq/b:offline core1 rollback",
      "down 33 seq/a:online core1 rollback",
      "down 31 arena:online core1 rollback",
      "down 28 arena:starting core1 rollback",
      "down 27 timers:starting core1 rollback",
      "down 3 timers:dead core1 rollback",
      "down 2 arena:prepare core1 rollback",
  };
  CHECK(f.user_trace() == expected_trace);

  // Nothing is left half-done: the next online operation is a clean, complete one.
  REQUIRE(f.rt->core_up(1) == 0);
  CHECK(f.log.take() == online_log);
}

TEST_CASE("PREPARE section: the startup callbacks are allowed to fail; if a callback fails, "
          "the CPU online operation is aborted and the CPU is brought down to the previous "
          "state (usually CPUHP_OFFLINE) again") {
  CPUS_0_AND_1();
  seq_states f;
  f.log.fail_on("up seq/dyn:prepare core1", -ENOMEM);
  CHECK(f.rt->core_up(1) == -ENOMEM);
  CHECK(f.rt->state(1) == OFFLINE);
  const std::vector<std::string> expected = {
      "up arena:prepare core1",
      "up seq/dyn:prepare core1 fail",
      "down timers:dead core1",  // state 3 was passed (startup NULL), so it is torn down
      "down arena:prepare core1",
  };
  CHECK(f.log.take() == expected);
  const auto events = f.rt->take_trace();
  for (const auto& ev : events) {
    if (ev.state >= BRINGUP_CORE) FAIL_CHECK("the walk went past the failed PREPARE state: "
                                             << trace_line(ev));
  }
}

TEST_CASE("ONLINE section: when a callback fails the hotplug operation is aborted and the "
          "CPU is brought back to the previous state, which need not be CPUHP_OFFLINE") {
  CPUS_0_AND_1();
  seq_states f;
  REQUIRE(f.rt->set_target(1, AP_USER_STARTING_2) == 0);
  REQUIRE(f.rt->state(1) == AP_USER_STARTING_2);
  f.log.clear();
  f.log.fail_on("up seq/a:online core1", -EIO);
  CHECK(f.rt->core_up(1) == -EIO);
  CHECK(f.rt->state(1) == AP_USER_STARTING_2);
  const std::vector<std::string> expected = {
      "up arena:online core1",
      "up seq/a:online core1 fail",
      "down arena:online core1",
  };
  CHECK(f.log.take() == expected);
}

TEST_CASE("A failed offline operation: [CPUHP_ONLINE - N]->teardown() -> fail, then "
          "[CPUHP_ONLINE - (N - 1)]->startup() ... [CPUHP_ONLINE - 1]->startup(), back at "
          "[CPUHP_ONLINE]") {
  CPUS_0_AND_1();
  seq_states f;
  f.bring_up_core1();
  f.log.fail_on("down arena:online core1", -EBUSY);
  CHECK(f.rt->core_down(1) == -EBUSY);
  CHECK(f.rt->state(1) == ONLINE);
  CHECK(f.rt->core_active(1));
  const std::vector<std::string> expected_log = {
      "down seq/c:online core1",
      "down seq/b:offline core1",
      "down seq/a:online core1",
      "down arena:online core1 fail",  // stays at arena:online: no startup for it
      "up seq/a:online core1",
      "up seq/c:online core1",  // seq/b:offline has startup == NULL: skipped
  };
  CHECK(f.log.take() == expected_log);
  const std::vector<std::string> expected_trace = {
      "down 35 seq/c:online core1",
      "down 34 seq/b:offline core1",
      "down 33 seq/a:online core1",
      "down 31 arena:online core1 -> " + std::to_string(-EBUSY),
      "up 33 seq/a:online core1 rollback",
      "up 35 seq/c:online core1 rollback",
  };
  CHECK(f.user_trace() == expected_trace);

  REQUIRE(f.rt->core_down(1) == 0);
  CHECK(f.log.take() == offline_log);
}

namespace {

// chain_states installs four contiguous dynamic ONLINE states r/1..r/4 (33..36), both
// callbacks each, so no NULL callback hides a step; both cores ONLINE.
struct chain_states {
  event_log log;
  std::unique_ptr<runtime> rt = make_runtime();
  int first = 0;

  chain_states() {
    for (int i = 1; i <= 4; ++i) {
      const std::string tag = "r/" + std::to_string(i);
      const int st = rt->setup_state(ONLINE_DYN, tag + ":online", log.startup(tag),
                                     log.teardown(tag));
      REQUIRE(st == ONLINE_DYN + i - 1);
      if (i == 1) first = st;
    }
    REQUIRE(rt->state(1) == ONLINE);
    log.clear();
  }
};

}  // namespace

TEST_CASE("Recursive failures: [CPUHP_ONLINE - N]->teardown() -> fail, "
          "[CPUHP_ONLINE - (N - 1)]->startup() -> success, [CPUHP_ONLINE - (N - 2)]->startup() "
          "-> fail: the state machine stops right here and the CPU is left in state "
          "[CPUHP_ONLINE - (N - 1)]") {
  CPUS_0_AND_1();
  chain_states f;
  f.log.fail_on("down r/1 core1", -EIO);    // [ONLINE - N]
  f.log.fail_on("up r/3 core1", -ENOMEM);   // [ONLINE - (N - 2)], while rolling back
  CHECK(f.rt->core_down(1) == -EIO);       // the original error
  CHECK(f.rt->state(1) == f.first + 1);    // r/2: [ONLINE - (N - 1)]
  const std::vector<std::string> expected = {
      "down r/4 core1", "down r/3 core1",    "down r/2 core1",
      "down r/1 core1 fail",
      "up r/2 core1",   "up r/3 core1 fail",  // stop: no endless loop
  };
  CHECK(f.log.take() == expected);

  // "which at least lets the system make progress": the CPU can go on from there.
  REQUIRE(f.rt->core_up(1) == 0);
  CHECK(f.rt->state(1) == ONLINE);
  const std::vector<std::string> up_again = {"up r/3 core1", "up r/4 core1"};
  CHECK(f.log.take() == up_again);
  REQUIRE(f.rt->core_down(1) == 0);
  const std::vector<std::string> down_again = {"down r/4 core1", "down r/3 core1",
                                               "down r/2 core1", "down r/1 core1"};
  CHECK(f.log.take() == down_again);
}

TEST_CASE("Recursive failures on the way up: a teardown that fails while a failed online "
          "operation rolls back stops the state machine right there, with the original error") {
  CPUS_0_AND_1();
  chain_states f;
  REQUIRE(f.rt->core_down(1) == 0);
  f.log.clear();
  f.log.fail_on("up r/3 core1", -EIO);
  f.log.fail_on("down r/1 core1", -ENOMEM);
  CHECK(f.rt->core_up(1) == -EIO);
  CHECK(f.rt->state(1) == f.first);  // r/1's teardown failed: still at r/1
  const std::vector<std::string> expected = {
      "up r/1 core1", "up r/2 core1", "up r/3 core1 fail",
      "down r/2 core1", "down r/1 core1 fail",
  };
  CHECK(f.log.take() == expected);
  REQUIRE(f.rt->core_up(1) == 0);
  const std::vector<std::string> up_again = {"up r/2 core1", "up r/3 core1", "up r/4 core1"};
  CHECK(f.log.take() == up_again);
}
