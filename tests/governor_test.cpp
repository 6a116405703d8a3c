// SPDX-License-Identifier: MIT
// tests/governor_test.cpp — the governor: cores leave for an availability change or a core
// limit through the one hotplug path (their teardowns run), come back only if the
// governor took them down, in the leave order given, never below one core.
#include <atomic>
#include <cerrno>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;

namespace {
std::vector<unsigned> up(hotcore::runtime& rt) { return rt.online_cores(); }
using cores = std::vector<unsigned>;
}  // namespace

TEST_CASE("a core limit takes the highest cores down first and brings them back when it rises") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  std::atomic<int> teardowns{0}, startups{0};
  const int st = rt->setup_state(hotcore::ONLINE_DYN, "test:gov",
                                 [&](unsigned) { return ++startups, 0; },
                                 [&](unsigned) { return ++teardowns, 0; });
  REQUIRE(st > 0);
  CHECK(rt->set_core_limit(1) == 0);
  CHECK(rt->core_limit() == 1);
  CHECK(up(*rt) == cores{cpu.a});
  CHECK(teardowns.load() == 1);  // core 1 left through the hotplug path
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
  CHECK(startups.load() == 3);
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("an unavailable core goes down and comes back when available again") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  CHECK(rt->set_core_available(cpu.b, false) == 0);
  CHECK_FALSE(rt->core_available(cpu.b));
  CHECK(up(*rt) == cores{cpu.a});
  CHECK(rt->state(cpu.b) == hotcore::OFFLINE);
  CHECK(rt->set_core_available(cpu.b, true) == 0);
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
}

TEST_CASE("a core the user took down stays down whatever the governor's triggers say") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(rt->set_core_available(cpu.b, false) == 0);
  CHECK(rt->set_core_available(cpu.b, true) == 0);
  CHECK(rt->set_core_limit(2) == 0);
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(up(*rt) == cores{cpu.a});
  REQUIRE(rt->core_up(cpu.b) == 0);  // the user brings it back
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
}

TEST_CASE("the leave order decides which core goes first") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  std::vector<cores> asked;
  CHECK(rt->set_leave_order([&](const cores& c) {
    asked.push_back(c);
    return cores{cpu.a, cpu.b};  // lowest first
  }) == 0);
  CHECK(rt->set_core_limit(1) == 0);
  CHECK(up(*rt) == cores{cpu.b});
  REQUIRE_FALSE(asked.empty());
  CHECK(asked.back() == cores{cpu.a, cpu.b});
  // A policy that returns nonsense (unknown ids, duplicates, missing cores) is tamed:
  // known cores it names leave first, the rest highest first.
  CHECK(rt->set_leave_order([&](const cores&) { return cores{cpu.b + 7, cpu.b, cpu.b}; }) == 0);
  CHECK(up(*rt) == cores{cpu.a});
  CHECK(rt->set_leave_order({}) == 0);  // back to the default
  CHECK(up(*rt) == cores{cpu.a});
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
}

TEST_CASE("the governor never takes the last active core down") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  CHECK(rt->set_core_available(cpu.a, false) == 0);
  CHECK(rt->set_core_available(cpu.b, false) == -EBUSY);
  CHECK(up(*rt) == cores{cpu.b});
  // 0 comes back first, and then 1, still unavailable, can leave.
  CHECK(rt->set_core_available(cpu.a, true) == 0);
  CHECK(up(*rt) == cores{cpu.a});
  CHECK(rt->set_core_available(cpu.b, true) == 0);
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
}

TEST_CASE("governor calls name what was wrong: a bad core, or a call from a callback or a task") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  CHECK(rt->set_core_available(cpu.b + 1, false) == -EINVAL);  // the cores are cpu.a < cpu.b
  CHECK_FALSE(rt->core_available(cpu.b + 1));
  std::atomic<int> from_callback{0};
  const int st = rt->setup_state(hotcore::ONLINE_DYN, "test:gov-deadlock", nullptr,
                                 [&](unsigned) {
                                   from_callback = rt->set_core_limit(1);
                                   return 0;
                                 });
  REQUIRE(st > 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(from_callback.load() == -EDEADLK);
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(rt->remove_state_nocalls(st) == 0);
  std::atomic<int> from_task{0};
  hotcore::task_group g(*rt);
  g.run([&] { from_task = rt->set_core_available(cpu.b, false); });
  g.wait();
  CHECK(from_task.load() == -EDEADLK);
  rt->cpus_read_lock();
  CHECK(rt->set_core_limit(1) == -EDEADLK);
  rt->cpus_read_unlock();
  CHECK(up(*rt) == cores{cpu.a, cpu.b});
}

TEST_CASE("set_target() is the user's move: below online the governor leaves the core where the user put it") {
  CPUS_0_AND_1();
  auto rt = make_runtime({.cores = {0, 1}});
  REQUIRE(rt->set_target(1, hotcore::AP_WORKERS_ONLINE) == 0);
  CHECK(rt->set_core_limit(1) == 0);
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(rt->state(1) == hotcore::AP_WORKERS_ONLINE);  // not brought up, not taken down
  CHECK(rt->set_core_available(1, false) == 0);
  CHECK(rt->state(1) == hotcore::OFFLINE);  // it cannot run: it goes down
  CHECK(rt->set_core_available(1, true) == 0);
  CHECK(rt->state(1) == hotcore::OFFLINE);  // still the user's
  REQUIRE(rt->set_target(1, hotcore::ONLINE) == 0);  // the governor's again
  CHECK(rt->set_core_limit(1) == 0);
  CHECK(up(*rt) == cores{0});
  CHECK(rt->set_core_limit(0) == 0);
  CHECK(up(*rt) == cores{0, 1});
}
