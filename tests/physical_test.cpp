// SPDX-License-Identifier: MIT
// tests/physical_test.cpp — Description: the kernel's own CPU hotplug under the runtime, as
// root, on cpu1: physical mode (cpu:physical writes cpu1/online) keeps /sys and the runtime
// consistent and rolls back under fault injection; an external `echo 0 > cpu1/online` while
// tasks run takes core 1 down through the hotplug path (every task runs once) and `echo 1`
// brings it back. Skips (77) when not root or without cpu1/online; holds
// /tmp/hotcore-cpu1.lock throughout and always leaves cpu1 online.
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

#include "cpu1_guard.h"
#include "machine_support.h"
#include "on_core.h"
#include "runner.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// line() is the trace line of the events of one state (see trace_lines()).
std::vector<std::string> lines_of(const std::vector<trace_event>& trace, std::set<int> states) {
  return trace_lines(trace, states);
}

// ran_on() is where a task given to submit_on(core) ran (sched_getcpu()), or -1.
int ran_on(runtime& rt, unsigned core) {
  int cpu = -1;
  return run_on(rt, core, [&] { cpu = sched_getcpu(); }) < 0 ? -1 : cpu;
}

// kernel_follower is a runtime on cores 0 and 1 that follows the kernel's CPU hotplug, and
// a state `st` whose callbacks log "st".
struct kernel_follower {
  std::unique_ptr<runtime> rt;
  event_log log;
  int st;
};

// follow_kernel() installs that state as `name` at ONLINE_DYN (REQUIREd to succeed) and
// clears the log its startups wrote.
kernel_follower follow_kernel(std::string_view name) {
  kernel_follower k{make_runtime({.cores = {0, 1}, .follow_cpu_hotplug = true}), {}, -1};
  k.st = logged_state(*k.rt, ONLINE_DYN, name, k.log, "st");
  REQUIRE(k.st > 0);
  k.log.clear();
  return k;
}

}  // namespace

TEST_CASE("physical mode: core_down(1) takes cpu1 offline after every runtime thread left it; "
          "core_up(1) brings it online before they return; /sys and the runtime agree") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .physical = true});
  CHECK(rt->core_physical(1));
  CHECK_FALSE(rt->core_physical(0));  // cpu0 has no online file: it stays logical
  CHECK(state_named(*rt, "cpu:physical") == CPU_PHYSICAL);
  const int kernel_online = rt->kernel_state(0);
  CHECK(rt->kernel_state(1) == kernel_online);

  rt->set_trace(true);
  REQUIRE(rt->core_down(1) == 0);
  CHECK(rt->state(1) == OFFLINE);
  CHECK(read_cpu1_online() == 0);
  CHECK(rt->kernel_state(1) == 0);  // the kernel's CPUHP_OFFLINE
  CHECK(threads_allowed_on(1) == std::vector<std::string>{});
  CHECK(lines_of(rt->take_trace(), {BRINGUP_CORE, CPU_PHYSICAL}) ==
        std::vector<std::string>{"down 25 core:bringup core1", "down 24 cpu:physical core1"});

  REQUIRE(rt->core_up(1) == 0);
  CHECK(lines_of(rt->take_trace(), {BRINGUP_CORE, CPU_PHYSICAL}) ==
        std::vector<std::string>{"up 24 cpu:physical core1", "up 25 core:bringup core1"});
  CHECK(rt->state(1) == ONLINE);
  CHECK(read_cpu1_online() == 1);
  CHECK(rt->kernel_state(1) == kernel_online);
  CHECK(core_pinned(1));
  CHECK(ran_on(*rt, 1) == 1);

  // A core without an online file moves logically: the kernel's cpu0 stays online.
  REQUIRE(rt->core_down(0) == 0);
  CHECK(rt->kernel_state(0) == kernel_online);
  REQUIRE(rt->core_up(0) == 0);
}

TEST_CASE("fault injection at cpu:physical: an injected failure rolls back and /sys is restored") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .physical = true});
  event_log log;
  const int st = logged_state(*rt, ONLINE_DYN, "test:physical", log, "st");
  REQUIRE(st > 0);

  SUBCASE("at cpu:physical itself: the core stays down and cpu1 stays offline") {
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(read_cpu1_online() == 0);
    REQUIRE(rt->set_fail(1, CPU_PHYSICAL) == 0);
    CHECK(rt->core_up(1) == -EAGAIN);
    CHECK(rt->state(1) == OFFLINE);
    CHECK(read_cpu1_online() == 0);
    CHECK(rt->core_up(1) == 0);  // the failure was one-shot
    CHECK(read_cpu1_online() == 1);
  }
  SUBCASE("above it, on the way up: the rollback's cpu:physical teardown takes cpu1 offline again") {
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(rt->set_fail(1, st) == 0);
    rt->set_trace(true);
    CHECK(rt->core_up(1) == -EAGAIN);
    CHECK(rt->state(1) == OFFLINE);
    CHECK(read_cpu1_online() == 0);
    CHECK(lines_of(rt->take_trace(), {CPU_PHYSICAL}) ==
          std::vector<std::string>{"up 24 cpu:physical core1", "down 24 cpu:physical core1 rollback"});
    CHECK(threads_allowed_on(1) == std::vector<std::string>{});
    CHECK(rt->core_up(1) == 0);
    CHECK(read_cpu1_online() == 1);
  }
  SUBCASE("on the way down: the core rolls back up and cpu1 never went offline") {
    REQUIRE(rt->set_fail(1, st) == 0);
    CHECK(rt->core_down(1) == -EAGAIN);
    CHECK(rt->state(1) == ONLINE);
    CHECK(read_cpu1_online() == 1);
    CHECK(core_pinned(1));
  }
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("physical mode without permission fails with EACCES and starts nothing; a runtime "
          "without a CPU that has an online file fails with ENODEV") {
  std::error_code ec;
  CHECK(runtime::create({.cores = {0}, .physical = true}, ec) == nullptr);
  CHECK(ec.value() == ENODEV);

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Drop root: nobody may not write cpu1/online.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    const int refused = create_refused({.cores = {}, .physical = true}, EACCES);
    if (refused != 0) ::_exit(refused);
    std::error_code err;
    // Without the option the same process gets a (logical) runtime.
    if (!runtime::create({}, err)) ::_exit(4);
    ::_exit(0);
  }
  const int status = exit_status_of(child);
  INFO("child exit: 1 created, 2 other error, 3 thread left, 4 logical failed, 10 setuid");
  CHECK(status == 0);
  CHECK(read_cpu1_online() == 1);
}

TEST_CASE("the kernel's own hotplug: echo 0 > cpu1/online while tasks run takes core 1 down "
          "through the hotplug path (its teardowns run on its hotplug thread, off cpu1), every "
          "task runs exactly once, and echo 1 brings it back, pinned") {
  cpu1_online_guard guard;
  auto [rt, log, st] = follow_kernel("test:kernel");
  rt->set_trace(true);
  run_ledger ledger(2'000'000);
  const std::size_t accepted = cpu1_leaves_and_returns(
      *rt, ledger, [] { REQUIRE(write_cpu1_online(false)); },
      [] { REQUIRE(write_cpu1_online(true)); }, [] {});
  CHECK(log.take() == std::vector<std::string>{"down st core1", "up st core1"});
  for (const trace_event& ev : rt->take_trace())
    if (ev.state == st && ev.dir == direction::down) {
      INFO("the teardown ran on cpu" << ev.ran_on_cpu);
      CHECK(ev.on_hotplug_thread);
      CHECK(ev.ran_on_cpu != 1);  // the CPU was gone: the kernel had moved the thread
    }
  CHECK(ran_on(*rt, 1) == 1);
  shut_down_and_check_each_ran_once(*rt, ledger, accepted);
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("a CPU offlined and onlined again before the runtime looked still takes its core "
          "through its teardowns and back up") {
  cpu1_online_guard guard;
  auto [rt, log, st] = follow_kernel("test:blink");
  REQUIRE(write_cpu1_online(false));
  REQUIRE(write_cpu1_online(true));
  CHECK(wait_until([&] { return log.snapshot().size() == 2 && rt->state(1) == ONLINE; }));
  CHECK(log.take() == std::vector<std::string>{"down st core1", "up st core1"});
  CHECK(core_pinned(1));
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("come_back = false: after echo 1 the core stays down until core_up()") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .follow_cpu_hotplug = true, .come_back = false});
  const std::uint64_t seen = rt->stats().machine.uevents;
  REQUIRE(write_cpu1_online(false));
  CHECK(wait_until([&] { return rt->state(1) == OFFLINE; }));
  REQUIRE(write_cpu1_online(true));
  CHECK(wait_until([&] { return rt->core_available(1); }));
  // The watch has acted on both uevents: a core that were to come back would be up now.
  CHECK(wait_until([&] { return watch_idle(*rt, seen + 2); }));
  CHECK(rt->state(1) == OFFLINE);
  CHECK(rt->core_up(1) == 0);
  CHECK(core_pinned(1));
}

TEST_CASE("the last active core stays up when the kernel takes its CPU (-EBUSY), keeps running "
          "tasks elsewhere, and is pinned again when the CPU comes back") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .follow_cpu_hotplug = true});
  REQUIRE(rt->core_down(0) == 0);
  REQUIRE(write_cpu1_online(false));
  CHECK(wait_until([&] { return !rt->core_available(1); }));
  CHECK(rt->state(1) == ONLINE);
  CHECK(ran_on(*rt, 1) == 0);  // core 1's worker, moved to cpu0 by the kernel
  REQUIRE(write_cpu1_online(true));
  // Re-pinned: core 1's threads on cpu1 alone again; core 0's parked threads stay on cpu0
  // (a logical down keeps them there), and the watch is on the spare mask (the process's
  // minus core 0, which is down), whatever the kernel did.
  CHECK(wait_until([&] { return core_pinned(1); }));
  CHECK(wait_until([&] { return allowed_of("hc-watch") == "1"; }));
  CHECK(allowed_of("hc-hotplug/0") == "0");
  CHECK(allowed_of("hc-worker/0") == "0");
  CHECK(ran_on(*rt, 1) == 1);
  CHECK(rt->core_up(0) == 0);
}

TEST_CASE("physical mode under the kernel's own hotplug: the runtime's own offline is not taken "
          "for the kernel's, and someone else's is followed") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .physical = true, .follow_cpu_hotplug = true});
  const std::uint64_t seen = rt->stats().machine.uevents;
  REQUIRE(rt->core_down(1) == 0);
  CHECK(wait_until([&] { return watch_idle(*rt, seen + 1); }));  // it acted on the offline
  CHECK(rt->core_available(1));
  REQUIRE(rt->core_up(1) == 0);
  CHECK(wait_until([&] { return watch_idle(*rt, seen + 2); }));  // and on the online
  CHECK(rt->core_available(1));
  CHECK(rt->state(1) == ONLINE);

  REQUIRE(write_cpu1_online(false));
  CHECK(wait_until([&] { return rt->state(1) == OFFLINE; }));
  // The operator's offline is not undone: the runtime did not take cpu1 offline, so it is
  // not the runtime's to bring back.
  CHECK(wait_until([&] { return watch_idle(*rt, seen + 3); }));
  CHECK(rt->state(1) == OFFLINE);
  CHECK(read_cpu1_online() == 0);
  CHECK_FALSE(rt->core_available(1));
  REQUIRE(write_cpu1_online(true));
  CHECK(wait_until([&] { return rt->state(1) == ONLINE; }));
  CHECK(read_cpu1_online() == 1);
  CHECK(core_pinned(1));
}

TEST_CASE("destroying a physical runtime brings back online every CPU it took offline") {
  cpu1_online_guard guard;
  {
    auto rt = make_runtime({.cores = {0, 1}, .physical = true});
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(read_cpu1_online() == 0);
  }
  CHECK(read_cpu1_online() == 1);
}

int main(int argc, char** argv) {
  cpu1_session session;
  if (const int ret = session.start(); ret != 0) return ret;
  return hotcore_test::run_suite(argc, argv);
}
