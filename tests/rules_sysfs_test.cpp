// SPDX-License-Identifier: MIT
// tests/rules_sysfs_test.cpp — the spec's rules for what cpuN/hotplug and
// hotplug/states show and refuse: cpu_hotplug_disable, the last active core, no-ops, the listing.
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;

// ---- hotplug disable, last core

TEST_CASE("cpu_hotplug_disable() makes core_up, core_down and set_target return -EBUSY until "
          "the matching cpu_hotplug_enable(); it counts, and enable without disable is "
          "-EINVAL") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu, AP_USER_ONLINE, "dis/w:online", "w");
  CHECK(rt->cpu_hotplug_enable() == -EINVAL);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->core_down(cpu.b) == -EBUSY);
  CHECK(rt->set_target(cpu.b, AP_USER_ONLINE) == -EBUSY);
  CHECK(rt->state(cpu.b) == ONLINE);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->core_down(cpu.b) == -EBUSY);  // still disabled once
  CHECK(log.take() == no_events);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->cpu_hotplug_enable() == -EINVAL);
  CHECK(rt->core_down(cpu.b) == 0);
  CHECK(rt->cpu_hotplug_disable() == 0);
  CHECK(rt->core_up(cpu.b) == -EBUSY);
  CHECK(rt->state(cpu.b) == OFFLINE);
  CHECK(rt->cpu_hotplug_enable() == 0);
  CHECK(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"down w coreB", "up w coreB"}));
}

TEST_CASE("core_down() of the last core that takes tasks (sched:active) is -EBUSY") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu, AP_USER_ONLINE, "last/w:online", "w");
  rt->set_trace(true);
  REQUIRE(rt->core_down(cpu.b) == 0);
  (void)rt->take_trace();
  log.clear();
  CHECK(rt->core_down(cpu.a) == -EBUSY);
  CHECK(rt->set_target(cpu.a, OFFLINE) == -EBUSY);
  CHECK(rt->set_target(cpu.a, AP_USER_ONLINE) == -EBUSY);  // below sched:active
  CHECK(rt->state(cpu.a) == ONLINE);
  CHECK(rt->core_active(cpu.a));
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());

  // Another active core makes it possible; then that one is the last.
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(rt->core_down(cpu.a) == 0);
  CHECK(rt->state(cpu.a) == OFFLINE);
  CHECK(rt->core_down(cpu.b) == -EBUSY);
  CHECK(rt->state(cpu.b) == ONLINE);
  CHECK(rt->core_up(cpu.a) == 0);
  CHECK(rt->online_cores() == std::vector<unsigned>{cpu.a, cpu.b});
}

TEST_CASE("core_up() of an ONLINE core and core_down() of an OFFLINE core are no-ops that "
          "return 0; an unknown core is -EINVAL") {
  TWO_CPUS(cpu);
  auto [log, rt] = logged_two_cores(cpu, AP_USER_ONLINE, "noop/w:online", "w");
  rt->set_trace(true);
  CHECK(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());
  REQUIRE(rt->core_down(cpu.b) == 0);
  (void)rt->take_trace();
  log.clear();
  CHECK(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == no_events);
  CHECK(rt->take_trace().empty());
  const unsigned unknown = cpu.b + 1;  // the cores are cpu.a < cpu.b
  CHECK(rt->core_up(unknown) == -EINVAL);
  CHECK(rt->core_down(64) == -EINVAL);
  CHECK(rt->state(unknown) == -EINVAL);
  CHECK(rt->target(unknown) == -EINVAL);
  CHECK_FALSE(rt->core_online(unknown));
  CHECK_FALSE(rt->core_active(unknown));
}

TEST_CASE("core_online() is true between sched:starting up and down, core_active() between "
          "sched:active up and down; online_cores() lists the cores at ONLINE") {
  TWO_CPUS(cpu);
  auto rt = offline_runtime(cpu);
  CHECK(rt->online_cores().empty());
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "flags/t:starting", nullptr, nullptr) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "flags/w:online", nullptr, nullptr) == 0);
  for (unsigned c : rt->cores()) {
    CHECK_FALSE(rt->core_online(c));
    CHECK_FALSE(rt->core_active(c));
  }
  REQUIRE(rt->set_target(cpu.a, AP_USER_STARTING_1) == 0);
  CHECK(rt->core_online(cpu.a));
  CHECK_FALSE(rt->core_active(cpu.a));
  REQUIRE(rt->set_target(cpu.a, AP_USER_ONLINE) == 0);
  CHECK(rt->core_online(cpu.a));
  CHECK_FALSE(rt->core_active(cpu.a));
  CHECK(rt->online_cores().empty());
  REQUIRE(rt->core_up(cpu.a) == 0);
  CHECK(rt->core_active(cpu.a));
  CHECK(rt->online_cores() == std::vector<unsigned>{cpu.a});
  CHECK_FALSE(rt->core_online(cpu.b));
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
