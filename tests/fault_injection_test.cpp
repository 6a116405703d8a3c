// SPDX-License-Identifier: MIT
// tests/fault_injection_test.cpp — exhaustive failure tables: every state that accepts
// cpuN/hotplug/fail, in both directions, on each core; every user callback failing, each
// instance; recursive failures for every pair of states. A ledger of what startups
// acquired and teardowns released checks that nothing leaks and nothing is freed twice.
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;

namespace {

// tracked is one user state whose callbacks go through the ledger.
struct tracked {
  int state;
  std::string tag;
  bool multi;
};

// fi_fixture installs user states with both callbacks in every section:
//   PREPARE   ARENA_PREPARE (static), PREPARE_DYN (dynamic)
//   STARTING  AP_USER_STARTING_1 (static; part of every walk, never made to fail)
//   ONLINE    AP_ARENA_ONLINE (static), ONLINE_DYN (dynamic), a multi-instance dynamic
//             state with two instances
// and both cores (the two CPUs given, TWO_CPUS) ONLINE.
struct fi_fixture {
  ledger led;
  named_node i0{"i0"};
  named_node i1{"i1"};
  std::unique_ptr<runtime> rt;
  std::vector<tracked> states;

  explicit fi_fixture(const cpu_pair& cpu)
      : rt(make_runtime(runtime_options{.cores = {cpu.a, cpu.b}})) {
    install(ARENA_PREPARE, "fi/arena:prepare");
    install(PREPARE_DYN, "fi/dyn:prepare");
    install(AP_USER_STARTING_1, "fi/timers:starting");
    install(AP_ARENA_ONLINE, "fi/arena:online");
    install(ONLINE_DYN, "fi/dyn:online");
    const std::string mtag = "fi/multi:online";
    const int m = logged_multi_state(*rt, ONLINE_DYN, mtag, led, mtag);
    REQUIRE(m > 0);
    REQUIRE(rt->add_instance(m, &i0) == 0);
    REQUIRE(rt->add_instance(m, &i1) == 0);
    states.push_back({m, mtag, true});
    rt->set_trace(true);
    consistent("after setup");
  }

  void install(int st, const std::string& tag) {
    const int ret = logged_state(*rt, st, tag, led, tag);
    REQUIRE(ret >= 0);
    states.push_back({ret > 0 ? ret : st, tag, false});
  }

  std::vector<const instance_node*> instances(const tracked& t) const {
    if (t.multi) return {&i0, &i1};
    return {nullptr};
  }

  // consistent() checks the ledger against the cores' states: a core holds a state's
  // resources exactly when its state is at or past that state; nothing was acquired twice
  // or released without being held.
  void consistent(const std::string& where) const {
    INFO(where);
    for (unsigned core : rt->cores()) {
      const int at = rt->state(core);
      for (const auto& t : states)
        for (const instance_node* n : instances(t)) {
          INFO("core" << core << " at state " << at << ", " << t.tag << " (" << t.state
                      << ") instance " << node_name(n));
          CHECK(led.held(core, t.tag, n) == (at >= t.state));
        }
    }
    CHECK(led.violations() == std::vector<std::string>{});
    CHECK(led.pending_fails() == 0u);
  }

  // both_online() brings every core back ONLINE.
  void both_online() {
    for (unsigned core : rt->cores()) REQUIRE(rt->core_up(core) == 0);
    for (unsigned core : rt->cores()) REQUIRE(rt->state(core) == ONLINE);
  }

  const tracked* user_state(int st) const {
    for (const auto& t : states)
      if (t.state == st) return &t;
    return nullptr;
  }

  // finish() destroys the runtime (every core to OFFLINE) and checks that everything
  // acquired was released exactly once.
  void finish() {
    rt.reset();
    CHECK(led.held_keys() == std::vector<std::string>{});
    CHECK(led.violations() == std::vector<std::string>{});
    CHECK(led.acquires() == led.releases());
    CHECK(led.acquires() > 0);
  }
};

// other_core() is the runtime's other core (it has two).
unsigned other_core(const runtime& rt, unsigned core) {
  return rt.cores().front() == core ? rt.cores().back() : rt.cores().front();
}

// check_injected() arms cpuN/hotplug/fail at `row`'s state on `core` and moves the core up
// (armed OFFLINE) or down (armed ONLINE): the move fails with -EAGAIN through exactly that
// state, the core goes back, the fail is cleared, the same move then succeeds, and
// nothing leaks. `user` is the fixture's own state there, if any, whose rules it also
// checks. It says whether the state accepted the fail (false: nothing moved).
bool check_injected(fi_fixture& f, const state_row& row, const tracked* user, unsigned core,
                    bool up) {
  const std::string where = row.name + " (" + std::to_string(row.state) + ") core" +
                            std::to_string(core) + (up ? " up" : " down");
  INFO(where);
  f.both_online();
  // up: arm with the core OFFLINE and online it; down: arm with it ONLINE, offline it.
  if (up) REQUIRE(f.rt->core_down(core) == 0);
  f.consistent(where + ": before");

  const int armed = f.rt->set_fail(core, row.state);
  if (user != nullptr) {
    // The rules, for the states this test owns.
    const section sec = section_of(row.state);
    const bool accepted = sec == section::online || (sec == section::prepare && up);
    CHECK(armed == (accepted ? 0 : -EINVAL));
  }
  if (armed != 0) {
    CHECK(armed == -EINVAL);
    CHECK(f.rt->fail(core) == -1);
    return false;
  }
  CHECK(f.rt->fail(core) == row.state);
  (void)f.rt->take_trace();

  const int ret = up ? f.rt->core_up(core) : f.rt->core_down(core);
  CHECK(ret == -EAGAIN);
  CHECK(f.rt->state(core) == (up ? OFFLINE : ONLINE));
  CHECK(f.rt->fail(core) == -1);
  CHECK(f.rt->state(other_core(*f.rt, core)) == ONLINE);
  int injected = 0;
  for (const auto& ev : f.rt->take_trace()) {
    if (!ev.injected) continue;
    ++injected;
    CHECK(ev.state == row.state);
    CHECK(ev.core == core);
    CHECK(ev.dir == (up ? direction::up : direction::down));
    CHECK(ev.result == -EAGAIN);
    CHECK_FALSE(ev.rollback);
  }
  CHECK(injected == 1);
  f.consistent(where + ": after the failed operation");

  // The fail fired once: the same operation now succeeds.
  if (up) {
    CHECK(f.rt->core_up(core) == 0);
  } else {
    CHECK(f.rt->core_down(core) == 0);
    f.consistent(where + ": offline after");
    CHECK(f.rt->core_up(core) == 0);
  }
  f.consistent(where + ": recovered");
  return true;
}

}  // namespace

TEST_CASE("cpuN/hotplug/fail, exhaustively: for every state that accepts it, in both "
          "directions, on each core, the operation fails with -EAGAIN, a failed online goes "
          "back to the previous state, a failed offline back to ONLINE, the fail is cleared "
          "and nothing leaks") {
  TWO_CPUS(cpu);
  fi_fixture f(cpu);
  REQUIRE(f.rt->cores() == std::vector<unsigned>{cpu.a, cpu.b});
  std::set<std::pair<int, bool>> user_cases;  // (state, up) injected for a user state
  int cases = 0;
  for (const state_row& row : f.rt->states()) {
    const tracked* user = f.user_state(row.state);
    for (unsigned core : f.rt->cores())
      for (bool up : {true, false}) {
        if (!check_injected(f, row, user, core, up)) continue;
        ++cases;
        if (user != nullptr) user_cases.insert({row.state, up});
      }
  }
  // Every user PREPARE state was injected on the way up, every ONLINE one both ways.
  for (const auto& t : f.states) {
    INFO(t.tag);
    const section sec = section_of(t.state);
    CHECK(user_cases.count({t.state, true}) == (sec == section::starting ? 0u : 1u));
    CHECK(user_cases.count({t.state, false}) == (sec == section::online ? 1u : 0u));
  }
  CHECK(cases >= 2 * (2 + 3 * 2));
  f.finish();
}

TEST_CASE("callbacks that fail by themselves, exhaustively: every PREPARE startup, every "
          "ONLINE startup and teardown, each instance of a multi-instance state, on each core: "
          "the operation returns the callback's error and rolls back without leaking") {
  TWO_CPUS(cpu);
  fi_fixture f(cpu);
  int cases = 0;
  for (const auto& t : f.states) {
    const section sec = section_of(t.state);
    if (sec == section::starting) continue;  // not allowed to fail
    for (unsigned core : f.rt->cores())
      for (const instance_node* n : f.instances(t))
        for (bool up : {true, false}) {
          if (!up && sec == section::prepare) continue;  // PREPARE teardowns may not fail
          const std::string where = t.tag + " core" + std::to_string(core) + " " +
                                    node_name(n) + (up ? " up" : " down");
          INFO(where);
          f.both_online();
          if (up) REQUIRE(f.rt->core_down(core) == 0);
          f.led.fail_next(core, t.tag, n, up, -EIO);
          const int ret = up ? f.rt->core_up(core) : f.rt->core_down(core);
          CHECK(ret == -EIO);
          CHECK(f.rt->state(core) == (up ? OFFLINE : ONLINE));
          f.consistent(where);
          if (!up) REQUIRE(f.rt->core_down(core) == 0);
          REQUIRE(f.rt->core_up(core) == 0);
          f.consistent(where + ": recovered");
          ++cases;
        }
  }
  // 2 PREPARE x 2 cores + (2 single + 2 instances) ONLINE x 2 cores x 2 directions.
  CHECK(cases == 2 * 2 + 4 * 2 * 2);
  f.finish();
}

TEST_CASE("Recursive failures, for every pair of ONLINE states: a failure while rolling back "
          "stops the state machine right there (the CPU is left at the last state whose "
          "startup succeeded), the original error is returned, nothing leaks") {
  TWO_CPUS(cpu);
  fi_fixture f(cpu);
  std::vector<const tracked*> online;
  for (const auto& t : f.states)
    if (section_of(t.state) == section::online) online.push_back(&t);
  REQUIRE(online.size() == 3u);
  int cases = 0;
  for (unsigned core : f.rt->cores())
    for (const tracked* lo : online)
      for (const tracked* hi : online) {
        if (lo->state >= hi->state) continue;
        for (const instance_node* nlo : f.instances(*lo))
          for (const instance_node* nhi : f.instances(*hi)) {
            const std::string pair = lo->tag + "/" + node_name(nlo) + " & " + hi->tag + "/" +
                                     node_name(nhi) + " core" + std::to_string(core);
            {
              INFO("offline: " << pair);
              f.both_online();
              // [ONLINE - N]->teardown() fails, then a startup above it fails on the way back.
              f.led.fail_next(core, lo->tag, nlo, false, -EIO);
              f.led.fail_next(core, hi->tag, nhi, true, -ENOMEM);
              CHECK(f.rt->core_down(core) == -EIO);
              CHECK(f.rt->state(core) == hi->state - 1);
              f.consistent("offline: " + pair);
              REQUIRE(f.rt->core_up(core) == 0);
              f.consistent("offline: " + pair + ": recovered");
            }
            {
              INFO("online: " << pair);
              f.both_online();
              REQUIRE(f.rt->core_down(core) == 0);
              // A startup fails, then a teardown below it fails on the way back.
              f.led.fail_next(core, hi->tag, nhi, true, -EIO);
              f.led.fail_next(core, lo->tag, nlo, false, -ENOMEM);
              CHECK(f.rt->core_up(core) == -EIO);
              CHECK(f.rt->state(core) == lo->state);
              f.consistent("online: " + pair);
              REQUIRE(f.rt->core_up(core) == 0);
              f.consistent("online: " + pair + ": recovered");
            }
            ++cases;
          }
      }
  // Pairs (arena, dyn), (arena, multi x2), (dyn, multi x2): 5 per core.
  CHECK(cases == 2 * 5);
  f.finish();
}
