// SPDX-License-Identifier: MIT
// tests/crash_safety_test.cpp — Description: a physical-mode process never leaves the
// machine worse: killed while cpu1 is offline, its guardian brings cpu1 back and removes
// its tracefs instance and mount; `hotcore restore` (restore_machine()) repairs what a
// dead process recorded and leaves an operator's offline CPU alone; two physical-mode
// runtimes on one CPU: the second fails with EBUSY; destruction causes no offline. As root
// only (skips with 77); holds /tmp/hotcore-cpu1.lock throughout, always leaves cpu1 online.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../tools/kernel_trace.h"
#include "cpu1_guard.h"
#include "hotcore/recovery.h"
#include "machine_support.h"
#include "platform/uevent_listener.h"
#include "runner.h"

using namespace hotcore_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* cpu1_record = "/run/hotcore/cpu1";

// tracefs_mounts() counts the tracefs mounts in /proc/self/mounts.
int tracefs_mounts() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  int n = 0;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) n += type == "tracefs";
  return n;
}

// instance_of() is where a process's tracefs instance lies if tracefs is mounted on the
// usual place.
std::string instance_of(pid_t pid) {
  return "/sys/kernel/tracing/instances/hotcore-" + std::to_string(pid);
}

// start_physical_child() forks a process that creates a physical-mode runtime on cores 0
// and 1, takes core 1 (and so cpu1) down, opens a tracefs instance (the kernel's cpuhp
// events, as `hotcore cycle --physical` does) and then waits to be killed. Returns its pid
// once it is in that state, or -1 (it said why on stderr).
pid_t start_physical_child() {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    ::close(ready[0]);
    for (int sig : {SIGTERM, SIGQUIT, SIGINT}) ::signal(sig, SIG_DFL);  // not doctest's
    std::error_code ec;
    auto rt = runtime::create({.cores = {0, 1}, .physical = true}, ec);
    if (!rt || rt->core_down(1) != 0) ::_exit(2);
    std::string why;
    auto trace = hotcore::tools::kernel_hotplug_trace::open(why);
    if (!trace) {
      std::fprintf(stderr, "child: %s\n", why.c_str());
      ::_exit(3);
    }
    (void)!::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  char c = 0;
  const bool ok = ::poll(&p, 1, 10'000) == 1 && ::read(ready[0], &c, 1) == 1 && c == 'r';
  ::close(ready[0]);
  if (ok) return child;
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return -1;
}

// dead_pid() is the pid of a process that existed and is gone (reaped).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

void write_text(const char* path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

bool has_line(const hotcore::restore_report& r, const std::string& start) {
  for (const std::string& line : r.lines)
    if (line.rfind(start, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("a physical-mode process killed by any signal while cpu1 is offline: its guardian "
          "brings cpu1 online and leaves no tracefs instance or mount (20 times)") {
  cpu1_online_guard guard;
  const int mounts_before = tracefs_mounts();
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const pid_t child = start_physical_child();
    REQUIRE(child > 0);
    REQUIRE(read_cpu1_online() == 0);
    REQUIRE(fs::exists(instance_of(child)));
    REQUIRE(fs::exists(cpu1_record));
    // Mostly SIGKILL (no handler can run); every fifth round SIGTERM and SIGQUIT.
    const int sig = round % 10 == 4 ? SIGTERM : round % 10 == 9 ? SIGQUIT : SIGKILL;
    CAPTURE(sig);
    REQUIRE(::kill(child, sig) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(wait_until([] { return read_cpu1_online() == 1; }));
    // The guardian onlines the CPU first, then removes the instance and the mount.
    CHECK(wait_until([&] { return !fs::exists(instance_of(child)); }));
    CHECK(wait_until([&] { return tracefs_mounts() == mounts_before; }));
    CHECK(wait_until([] { return !fs::exists(cpu1_record); }));
  }
}

TEST_CASE("hotcore restore brings back a CPU recorded by a dead process, and leaves alone a "
          "CPU offlined by hand and one recorded by a process that still runs") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");

  SUBCASE("recorded by a dead pid: online again, record gone") {
    write_text(cpu1_record, std::to_string(dead_pid()) + "\n\n\n");
    REQUIRE(write_cpu1_online(false));
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(r.errors == 0);
    CHECK(has_line(r, "cpu1: online again"));
    CHECK(read_cpu1_online() == 1);
    CHECK_FALSE(fs::exists(cpu1_record));
  }
  SUBCASE("offlined by hand, no record: stays offline") {
    fs::remove(cpu1_record);
    REQUIRE(write_cpu1_online(false));
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(r.errors == 0);
    CHECK(has_line(r, "cpu1: offline without a record"));
    CHECK(read_cpu1_online() == 0);
  }
  SUBCASE("recorded by a live pid: stays offline, record kept") {
    write_text(cpu1_record, std::to_string(::getpid()) + "\n\n\n");
    REQUIRE(write_cpu1_online(false));
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(has_line(r, "cpu1: left alone"));
    CHECK(read_cpu1_online() == 0);
    CHECK(fs::exists(cpu1_record));
    fs::remove(cpu1_record);
  }
}

TEST_CASE("two physical-mode runtimes on cpu1: the second fails with EBUSY (in this process "
          "and in another) and the first keeps working") {
  cpu1_online_guard guard;
  auto first = make_runtime({.cores = {0, 1}, .physical = true});
  std::error_code ec;
  CHECK(runtime::create({.cores = {0, 1}, .physical = true}, ec) == nullptr);
  CHECK(ec.value() == EBUSY);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::error_code err;
    auto rt = runtime::create({.cores = {0, 1}, .physical = true}, err);
    ::_exit(rt ? 100 : err.value());
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == EBUSY);
  CHECK(first->core_down(1) == 0);
  CHECK(read_cpu1_online() == 0);
  CHECK(first->core_up(1) == 0);
  CHECK(read_cpu1_online() == 1);
  first.reset();
  // The lock went with the first runtime.
  CHECK(runtime::create({.cores = {0, 1}, .physical = true}, ec) != nullptr);
}

TEST_CASE("destroying a physical runtime leaves each CPU as it found it: no offline event "
          "for an online CPU, one online for a CPU it took offline") {
  cpu1_online_guard guard;
  hotcore::detail::uevent_listener events;
  REQUIRE(events.open() == 0);
  int offline = 0, online = 0;
  auto count = [&](const hotcore::detail::cpu_uevent& ev) {
    if (ev.cpu != 1) return;
    offline += ev.act == hotcore::detail::cpu_uevent::action::offline;
    online += ev.act == hotcore::detail::cpu_uevent::action::online;
  };
  // drain_until_marker() takes cpu1 offline by hand (a marker) and counts every event up
  // to and including the marker's offline: what came before it is what the runtime did.
  auto drain_until_marker = [&] {
    const int before = offline;
    REQUIRE(write_cpu1_online(false));
    CHECK(wait_until([&] {
      (void)events.receive(count);
      return offline > before;
    }));
    REQUIRE(write_cpu1_online(true));
  };
  SUBCASE("every core online at destruction") {
    { auto rt = make_runtime({.cores = {0, 1}, .physical = true}); }
    drain_until_marker();
    CHECK(offline == 1);  // the marker only
    CHECK(online == 0);
  }
  SUBCASE("core 1 down at destruction") {
    {
      auto rt = make_runtime({.cores = {0, 1}, .physical = true});
      REQUIRE(rt->core_down(1) == 0);
    }
    CHECK(read_cpu1_online() == 1);
    drain_until_marker();
    CHECK(offline == 2);  // core_down(1), then the marker
    CHECK(online == 1);   // destruction
  }
}

int main(int argc, char** argv) {
  cpu1_session session;
  if (const int ret = session.start(); ret != 0) return ret;
  return hotcore_test::run_suite(argc, argv);
}
