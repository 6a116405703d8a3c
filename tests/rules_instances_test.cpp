// SPDX-License-Identifier: MIT
// tests/rules_instances_test.cpp — the spec's rules for multi-instance states:
// add/remove_instance and their rollback, the order of a walk, removal, copied nodes.
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "rules_support.h"

using namespace hotcore_test;

// ---- multi-instance states

TEST_CASE("cpuhp_state_add_instance() adds the instance and invokes the startup callback for "
          "all CPUs at or past @state; the callback is only invoked for the to be added "
          "instance. cpuhp_state_remove_instance() invokes teardown only for the removed one") {
  TWO_CPUS(cpu);
  named_node a("a"), b("b");  // nodes outlive the runtime, which holds them
  auto [log, rt, m] = logged_multi_cores(cpu, "multi/m:online");
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == -1);

  CHECK(rt->add_instance(m, &a) == 0);
  CHECK(log.take() == on(cpu, {"up m coreA a", "up m coreB a"}));
  CHECK(a.attached_state == m);
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(log.take() == on(cpu, {"up m coreA b", "up m coreB b"}));

  REQUIRE(rt->core_down(cpu.b) == 0);  // core 1 below the state
  log.clear();
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == on(cpu, {"down m coreA a"}));
  CHECK(a.attached_state == -1);
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up m coreB b"}));
  CHECK(rt->remove_instance(m, &b) == 0);
  CHECK(log.take() == on(cpu, {"down m coreA b", "down m coreB b"}));

  // A core exactly at the state counts as at or past it.
  REQUIRE(rt->set_target(cpu.b, m) == 0);
  CHECK(rt->add_instance(m, &a) == 0);
  CHECK(log.take() == on(cpu, {"up m coreA a", "up m coreB a"}));
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == on(cpu, {"down m coreA a", "down m coreB a"}));
  CHECK(rt->remove_multi_state(m) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("multi-instance state: during a CPU online or offline operation the callbacks are "
          "invoked once per instance, in the order the instances were added") {
  TWO_CPUS(cpu);
  named_node n1("n1"), n2("n2"), n3("n3");
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_multi_state(*rt, AP_USER_ONLINE, "multi/w:online", log, "w") == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n2) == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n1) == 0);
  REQUIRE(rt->add_instance(AP_USER_ONLINE, &n3) == 0);
  log.clear();
  rt->set_trace(true);
  REQUIRE(rt->core_down(cpu.b) == 0);
  const auto down = on(cpu, {"down w coreB n2", "down w coreB n1", "down w coreB n3"});
  CHECK(log.take() == down);
  REQUIRE(rt->core_up(cpu.b) == 0);
  const auto up = on(cpu, {"up w coreB n2", "up w coreB n1", "up w coreB n3"});
  CHECK(log.take() == up);
  const auto trace = on(cpu, {
      "down 32 multi/w:online coreB n2", "down 32 multi/w:online coreB n1",
      "down 32 multi/w:online coreB n3", "up 32 multi/w:online coreB n2",
      "up 32 multi/w:online coreB n1",   "up 32 multi/w:online coreB n3"});
  CHECK(trace_lines(rt->take_trace(), {AP_USER_ONLINE}) == trace);
  for (auto* n : {&n1, &n2, &n3}) CHECK(rt->remove_instance(AP_USER_ONLINE, n) == 0);
}

TEST_CASE("multi-instance state: if the callback fails for instance k on the way up, "
          "instances 0..k-1 are torn down for that state on that CPU, then the operation "
          "rolls back as usual") {
  TWO_CPUS(cpu);
  named_node a("a"), b("b"), c("c");
  auto [log, rt] = logged_two_cores(cpu);
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "mk/below:online", log, "below") == 0);
  const int m = logged_multi_state(*rt, ONLINE_DYN, "mk/m:online", log, "m");
  REQUIRE(m == ONLINE_DYN);
  for (auto* n : {&a, &b, &c}) REQUIRE(rt->add_instance(m, n) == 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  log.clear();
  log.fail_on(line_on(cpu, "up m coreB c"), -EIO);
  CHECK(rt->core_up(cpu.b) == -EIO);
  CHECK(rt->state(cpu.b) == OFFLINE);
  const auto expected = on(cpu, {
      "up below coreB",   "up m coreB a", "up m coreB b", "up m coreB c fail",
      "down m coreB a",   "down m coreB b",  // undo the instances done on this core
      "down below coreB",
  });
  // The instances done are undone; the order among them is not what this rule is about.
  auto got = log.take();
  REQUIRE(got.size() == expected.size());
  CHECK(std::vector<std::string>(got.begin(), got.begin() + 4) ==
        std::vector<std::string>(expected.begin(), expected.begin() + 4));
  CHECK(std::set<std::string>(got.begin() + 4, got.begin() + 6) ==
        std::set<std::string>(expected.begin() + 4, expected.begin() + 6));
  CHECK(got.back() == expected.back());
  REQUIRE(rt->core_up(cpu.b) == 0);
  const auto up = on(cpu, {"up below coreB", "up m coreB a", "up m coreB b",
                                       "up m coreB c"});
  CHECK(log.take() == up);
  for (auto* n : {&a, &b, &c}) CHECK(rt->remove_instance(m, n) == 0);
}

TEST_CASE("cpuhp_state_add_instance(): If a callback fails for CPU N then the teardown "
          "callback for CPU 0 .. N-1 is invoked to rollback the operation, the function fails "
          "and the instance is not added to the node list") {
  TWO_CPUS(cpu);
  named_node a("a"), b("b");
  auto [log, rt, m] = logged_multi_cores(cpu, "addrb/m:online");
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  log.fail_on(line_on(cpu, "up m coreB b"), -ENOMEM);
  CHECK(rt->add_instance(m, &b) == -ENOMEM);
  const auto expected = on(cpu, {"up m coreA b", "up m coreB b fail",
                                             "down m coreA b"});
  CHECK(log.take() == expected);
  CHECK(b.attached_state == -1);
  CHECK(rt->remove_instance(m, &b) == -ENOENT);
  // Not in the node list: walks only see a.
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"down m coreB a"}));
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up m coreB a"}));
  // And it can be added later.
  CHECK(rt->add_instance(m, &b) == 0);
  CHECK(log.take() == on(cpu, {"up m coreA b", "up m coreB b"}));
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(rt->remove_instance(m, &b) == 0);
}

TEST_CASE("instances: add_instance() needs a multi-instance state (-EINVAL), a node is added "
          "once (-EEXIST), remove_instance() of a node not added is -ENOENT") {
  event_log log;
  named_node a("a"), b("b");
  auto rt = make_runtime();
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "inst/single:online", log, "s") == 0);
  const int m = logged_multi_state(*rt, ONLINE_DYN, "inst/m:online", log, "m");
  const int m2 = logged_multi_state(*rt, ONLINE_DYN, "inst/m2:online", log, "m2");
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
  TWO_CPUS(cpu);
  named_node a("a");
  auto [log, rt, m] = logged_multi_cores(cpu, "instn/m:online");
  CHECK(rt->add_instance_nocalls(m, &a) == 0);
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == m);
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"down m coreB a"}));
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.take() == on(cpu, {"up m coreB a"}));
  CHECK(rt->remove_instance_nocalls(m, &a) == 0);
  CHECK(log.take() == no_events);
  CHECK(a.attached_state == -1);
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(log.take() == no_events);
}

TEST_CASE("If a multi-instance state is removed then the caller has to remove all instances "
          "first: remove_multi_state() is -ENOTEMPTY while it has instances; remove_state() on "
          "a multi-instance state is -EINVAL") {
  TWO_CPUS(cpu);
  named_node a("a");
  auto [log, rt, m] = logged_multi_cores(cpu, "rmm/m:online");
  REQUIRE(rt->add_instance(m, &a) == 0);
  log.clear();
  CHECK(rt->remove_multi_state(m) == -ENOTEMPTY);
  CHECK(rt->remove_state(m) == -EINVAL);
  CHECK(rt->remove_state_nocalls(m) == -EINVAL);
  CHECK(log.take() == no_events);
  CHECK(has_state(*rt, "rmm/m:online"));
  CHECK(a.attached_state == m);
  CHECK(rt->remove_instance(m, &a) == 0);
  CHECK(log.take() == on(cpu, {"down m coreA a", "down m coreB a"}));
  CHECK(rt->remove_multi_state(m) == 0);
  CHECK(log.take() == no_events);  // only removes the callbacks
  CHECK_FALSE(has_state(*rt, "rmm/m:online"));
  // remove_multi_state() is for multi-instance states.
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "rmm/single:online", nullptr, nullptr) == 0);
  CHECK(rt->remove_multi_state(AP_USER_ONLINE) == -EINVAL);
  CHECK(has_state(*rt, "rmm/single:online"));
}

TEST_CASE("a copy of an added instance starts detached: it can be added on its own, and the "
          "original stays added") {
  event_log log;
  named_node a("a");
  auto rt = make_runtime();
  const int m = logged_multi_state(*rt, ONLINE_DYN, "multi/copy:online", log, "m");
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
