// SPDX-License-Identifier: MIT
// tests/parallel_steps_test.cpp — runtime_options::parallel_calls and the governor: a step
// that moves several cores (set_core_limit()) walks them together, each core's STARTING
// and ONLINE callbacks on its own hotplug thread at the same time, and a core that fails
// walks back alone.
#include <sched.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cpu1_hold.h"
#include "rendezvous.h"
#include "test_support.h"

using namespace hotcore_test;

namespace {

const cpu1_hold hold_cpu1;  // every simulated core's CPU stays online

// Four simulated cores on this machine's CPUs: a limit of 1 moves three of them in one step.
constexpr unsigned cores = 4;

std::unique_ptr<runtime> four_cores(bool parallel) {
  runtime_options o;
  o.simulated_cores = cores;
  o.parallel_calls = parallel;
  return make_runtime(o);
}

std::multiset<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("parallel_calls: a governor step walks the cores it moves together: the ONLINE "
          "callbacks of the three cores that leave at set_core_limit(1) meet, and so do those "
          "of the three that come back at set_core_limit(0), each on its core's CPU") {
  auto rt = four_cores(true);
  rendezvous rv(3, 10s);
  std::mutex mu;
  std::set<unsigned> wrong_cpu;
  runtime* r = rt.get();
  auto meet = [&, r](unsigned core) {
    if (::sched_getcpu() != r->cpu_of(core)) {
      std::lock_guard lk(mu);
      wrong_cpu.insert(core);
    }
    return rv.arrive();
  };
  const int st = rt->setup_state_nocalls(ONLINE_DYN, "step/meet:online", meet, meet);
  REQUIRE(st >= ONLINE_DYN);

  CHECK(rt->set_core_limit(1) == 0);
  CHECK(rt->online_cores() == std::vector<unsigned>{0});
  CHECK(rv.arrived.load() == 3);
  CHECK(rv.met.load() == 3);

  rv.reset();
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(rt->online_cores().size() == cores);
  CHECK(rv.arrived.load() == 3);
  CHECK(rv.met.load() == 3);
  CHECK(wrong_cpu.empty());
  CHECK(rt->remove_state_nocalls(st) == 0);
}

TEST_CASE("without parallel_calls a governor step walks one core after another: only the "
          "last of the three callbacks meets the others") {
  auto rt = four_cores(false);
  rendezvous rv(3, 100ms);
  const int st = rt->setup_state_nocalls(ONLINE_DYN, "step/seq:online", nullptr, rv.single());
  REQUIRE(st >= ONLINE_DYN);
  CHECK(rt->set_core_limit(1) == 0);
  CHECK(rv.arrived.load() == 3);
  CHECK(rv.met.load() == 1);
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(rt->remove_state_nocalls(st) == 0);
}

TEST_CASE("parallel_calls: \"If a callback fails for CPU N then the teardown callback for CPU "
          "0 .. N-1 is invoked to rollback the operation\", per core in a governor step: the "
          "failing core walks back alone to where it was, the others reach the target, and "
          "the step returns the error") {
  auto rt = four_cores(true);
  event_log log;
  const int st = logged_state(*rt, ONLINE_DYN, "step/log:online", log, "s");
  REQUIRE(st >= ONLINE_DYN);
  log.clear();

  SUBCASE("going down: core 2's teardown fails, it comes back up; cores 3 and 1 leave") {
    log.fail_on("down s core2", -EBUSY);
    CHECK(rt->set_core_limit(1) == -EBUSY);
    CHECK(as_set(log.take()) ==
          std::multiset<std::string>{"down s core3", "down s core2 fail", "down s core1"});
    CHECK(rt->online_cores() == std::vector<unsigned>{0, 2});
    CHECK(rt->state(2) == ONLINE);
    CHECK(rt->set_core_limit(0) == 0);
    CHECK(as_set(log.take()) == std::multiset<std::string>{"up s core1", "up s core3"});
  }
  SUBCASE("going up: core 1's startup fails, it goes back down; cores 2 and 3 come up, and "
          "the next step brings core 1 too") {
    REQUIRE(rt->set_core_limit(1) == 0);
    log.clear();
    log.fail_on("up s core1", -ENOMEM);
    CHECK(rt->set_core_limit(0) == -ENOMEM);
    CHECK(as_set(log.take()) ==
          std::multiset<std::string>{"up s core1 fail", "up s core2", "up s core3"});
    CHECK(rt->online_cores() == std::vector<unsigned>{0, 2, 3});
    CHECK(rt->state(1) == OFFLINE);
    CHECK(rt->set_core_limit(0) == 0);
    CHECK(log.take() == std::vector<std::string>{"up s core1"});
  }
  CHECK(rt->online_cores().size() == cores);
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("parallel_calls: tasks submitted while a governor step takes three cores down and "
          "brings them back all run, each exactly once") {
  auto rt = four_cores(true);
  constexpr int tasks = 4000;
  std::vector<std::atomic<int>> ran(tasks);
  std::atomic<int> total{0};
  for (int round = 0; round < 4; ++round) {
    for (int i = round * (tasks / 4); i < (round + 1) * (tasks / 4); ++i)
      REQUIRE(rt->submit([&ran, &total, i] {
        ran[static_cast<std::size_t>(i)].fetch_add(1);
        total.fetch_add(1);
      }) == 0);
    CHECK(rt->set_core_limit(1) == 0);
    CHECK(rt->set_core_limit(0) == 0);
  }
  REQUIRE(wait_until([&] { return total.load() == tasks; }));
  int once = 0;
  for (const auto& n : ran) once += n.load() == 1;
  CHECK(once == tasks);
}
