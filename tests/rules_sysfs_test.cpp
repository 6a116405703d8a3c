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
