// SPDX-License-Identifier: MIT
// tests/offline_start_test.cpp — Description: "CPUs that are offline at start exist, and
// come back later" (DESIGN.md): a runtime created while cpu1 is offline has core 1 as a
// worker core that is down, narrows no thread's mask, and brings core 1 up when the
// kernel onlines cpu1; core_up() of a core whose CPU the kernel holds offline returns
// -EHOSTDOWN in logical mode. As root only (skips with 77); holds /tmp/hotcore-cpu1.lock
// throughout and always leaves cpu1 online.
#include <fstream>
#include <thread>

#include "cpu1_guard.h"
#include "machine_support.h"
#include "on_core.h"
#include "runner.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// allowed_list_of() is the Cpus_allowed_list of a thread of this process ("0-1").
std::string allowed_list_of(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Cpus_allowed_list:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 18));
  return "";
}

}  // namespace

TEST_CASE("a runtime created while cpu1 is offline has core 1 as a down worker core, narrows "
          "no thread's mask, and brings core 1 up after echo 1 > cpu1/online") {
  cpu1_online_guard guard;
  const std::string main_before = allowed_list_of(::getpid());
  REQUIRE(list_has_cpu(main_before, 1));
  REQUIRE(write_cpu1_online(false));
  auto rt = make_runtime({.cores = {}, .follow_cpu_hotplug = true});
  CHECK(rt->cores() == std::vector<unsigned>{0, 1});
  CHECK(rt->state(0) == ONLINE);
  CHECK(rt->state(1) == OFFLINE);
  CHECK_FALSE(rt->core_available(1));
  const topology topo = rt->topology_snapshot();
  REQUIRE(topo.pus.size() == 2);
  CHECK_FALSE(topo.pus[1].online);
  CHECK(topo.pus[1].worker);
  // Loading the topology bound no thread to anything: the main thread keeps cpu1, and so
  // does a thread the user starts now.
  CHECK(allowed_list_of(::getpid()) == main_before);
  std::atomic<pid_t> user_tid{0};
  std::atomic<bool> release{false};
  std::thread user([&] {
    user_tid = ::gettid();
    release.wait(false);
  });
  REQUIRE(wait_until([&] { return user_tid.load() != 0; }));
  CHECK(list_has_cpu(allowed_list_of(user_tid), 1));

  REQUIRE(write_cpu1_online(true));
  const auto t0 = std::chrono::steady_clock::now();
  const bool up = wait_until([&] { return rt->state(1) == ONLINE; }, 5000ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(up);
  // How soon is a figure for bench/, not a bound here: it depends on the machine's load.
  MESSAGE("core 1 came up " << std::chrono::duration_cast<std::chrono::microseconds>(took).count()
                            << " us after echo 1");
  CHECK(core_pinned(1));
  CHECK(rt->core_available(1));
  CHECK(list_has_cpu(allowed_list_of(user_tid), 1));
  CHECK(allowed_list_of(::getpid()) == main_before);
  int cpu = -1;
  REQUIRE(run_on(*rt, 1, [&] { cpu = sched_getcpu(); }) >= 0);
  CHECK(cpu == 1);
  release = true;
  release.notify_all();
  user.join();
}

TEST_CASE("core_up() of a core whose CPU the kernel has offline returns -EHOSTDOWN in logical "
          "mode and leaves the core down; once the CPU is back core_up() brings it up") {
  cpu1_online_guard guard;
  SUBCASE("taken down, then the kernel offlines the CPU") {
    auto rt = make_runtime({.cores = {0, 1}});
    REQUIRE(rt->core_down(1) == 0);
    REQUIRE(write_cpu1_online(false));
    CHECK(rt->core_up(1) == -EHOSTDOWN);
    CHECK(rt->state(1) == OFFLINE);
    REQUIRE(write_cpu1_online(true));
    CHECK(rt->core_up(1) == 0);
    CHECK(core_pinned(1));
  }
  SUBCASE("created while the CPU is offline, without following the kernel") {
    REQUIRE(write_cpu1_online(false));
    auto rt = make_runtime({.cores = {0, 1}});
    CHECK(rt->state(1) == OFFLINE);
    CHECK(rt->core_up(1) == -EHOSTDOWN);
    REQUIRE(write_cpu1_online(true));
    CHECK(rt->core_up(1) == 0);
    CHECK(rt->state(1) == ONLINE);
  }
}

TEST_CASE("kernel_offlines() counts the times the kernel took the core's CPU away") {
  cpu1_online_guard guard;
  auto rt = make_runtime({.cores = {0, 1}, .follow_cpu_hotplug = true});
  CHECK(rt->kernel_offlines(1) == 0);
  for (unsigned long n = 1; n <= 2; ++n) {
    REQUIRE(write_cpu1_online(false));
    CHECK(wait_until([&] { return rt->kernel_offlines(1) == n && rt->state(1) == OFFLINE; }));
    REQUIRE(write_cpu1_online(true));
    CHECK(wait_until([&] { return rt->state(1) == ONLINE; }));
  }
  CHECK(rt->kernel_offlines(0) == 0);
}

int main(int argc, char** argv) {
  cpu1_session session;
  if (const int ret = session.start(); ret != 0) return ret;
  return hotcore_test::run_suite(argc, argv);
}
