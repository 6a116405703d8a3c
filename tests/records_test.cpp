// SPDX-License-Identifier: MIT
// tests/records_test.cpp — Description: the records under /run/hotcore/ cannot be turned
// into weapons and name their owner across pid namespaces: `hotcore restore`
// (restore_machine()) takes a record of another namespace's pid 1, a zombie's and a reused
// pid's for dead ones; refuses a forged tracefs record (a tmpfs, a plain directory); never
// follows a symlinked cpu1.lock or cpu1.tmp; prints names escaped; reads pid 4294967297 as
// no pid (not pid 1); puts a CPU found offline back offline; reports a CPU held by a live
// runtime (restore then exits 1); removes a dead writer's cpu1.tmp. A successor started while its predecessor is an unreaped
// zombie waits for the guardian instead of failing with EBUSY. As root only (skips with
// 77); holds /tmp/hotcore-cpu1.lock throughout, always leaves cpu1 online.
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cpu1_guard.h"
#include "hotcore/recovery.h"
#include "machine_support.h"
#include "platform/proc_id.h"
#include "runner.h"

using namespace hotcore_test;
namespace fs = std::filesystem;

namespace {

constexpr const char* cpu1_record = "/run/hotcore/cpu1";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool has_line(const hotcore::restore_report& r, const std::string& part) {
  for (const std::string& line : r.lines)
    if (line.find(part) != std::string::npos) return true;
  return false;
}

// zombie() is a child that exited and is not reaped (state Z); reap it with waitpid.
pid_t zombie() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(wait_until([&] { return read_text("/proc/" + std::to_string(child) + "/stat").find(") Z ") != std::string::npos; }));
  return child;
}

bool mounted_on(const std::string& dir) {
  return read_text("/proc/self/mounts").find(" " + dir + " ") != std::string::npos;
}

}  // namespace

TEST_CASE("restore: the owner of a record is alive only if that very process runs, in its "
          "own pid namespace") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");
  REQUIRE(write_cpu1_online(false));
  SUBCASE("pid 1 of a pid namespace that is gone: online again, success") {
    write_text(cpu1_record, "1 12345 1\n\n\n");  // no namespace has inode 1
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK_FALSE(has_line(r, "still runs"));
    CHECK(has_line(r, "cpu1: online again"));
    CHECK(r.errors == 0);
    CHECK(r.still_held == 0);
    CHECK(read_cpu1_online() == 1);
  }
  SUBCASE("a zombie is dead") {
    const pid_t z = zombie();
    write_text(cpu1_record, std::to_string(z) + "\n\n\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(has_line(r, "cpu1: online again"));
    CHECK(read_cpu1_online() == 1);
    ::waitpid(z, nullptr, 0);
  }
  SUBCASE("a live pid with another start time (a reused pid) is not the owner") {
    hotcore::detail::proc_id self;
    REQUIRE(hotcore::detail::read_proc_id(0, self) == 0);
    write_text(cpu1_record, std::to_string(self.pid) + " " + std::to_string(self.start + 1) + " " +
                                std::to_string(self.pidns) + "\n\n\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(has_line(r, "cpu1: online again"));
    CHECK(read_cpu1_online() == 1);
  }
  SUBCASE("this very process: left alone, and counted as still held") {
    hotcore::detail::proc_id self;
    REQUIRE(hotcore::detail::read_proc_id(0, self) == 0);
    write_text(cpu1_record, std::to_string(self.pid) + " " + std::to_string(self.start) + " " +
                                std::to_string(self.pidns) + "\n\n\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(has_line(r, "cpu1: left alone"));
    CHECK(r.still_held == 1);
    CHECK(read_cpu1_online() == 0);
  }
  fs::remove(cpu1_record);
}

TEST_CASE("restore: a CPU its runtime found offline goes back offline") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");
  const pid_t z = zombie();
  ::waitpid(z, nullptr, 0);  // now a dead pid
  write_text(cpu1_record, std::to_string(z) + "\nfound offline\n\n");
  REQUIRE(write_cpu1_online(true));  // the runtime had brought it online, then died
  const hotcore::restore_report r = hotcore::restore_machine();
  CHECK(has_line(r, "cpu1: offline again"));
  CHECK(r.errors == 0);
  CHECK(read_cpu1_online() == 0);
  CHECK_FALSE(fs::exists(cpu1_record));
}

TEST_CASE("a physical runtime that found cpu1 offline leaves it offline") {
  cpu1_online_guard guard;
  REQUIRE(write_cpu1_online(false));
  {
    auto rt = make_runtime({.cores = {0, 1}, .physical = true});
    // Core 1 starts down with its CPU offline; up, it brings the CPU online.
    if (rt->state(1) == OFFLINE) CHECK(rt->core_up(1) == 0);
    CHECK(read_cpu1_online() == 1);
    CHECK(rt->core_down(1) == 0);
    CHECK(rt->core_up(1) == 0);
  }
  CHECK(read_cpu1_online() == 0);
  CHECK_FALSE(fs::exists(cpu1_record));
}

TEST_CASE("restore: forged records remove, unmount and follow nothing") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");
  const pid_t dead = zombie();
  ::waitpid(dead, nullptr, 0);
  const std::string record = "/run/hotcore/tracefs-" + std::to_string(dead);
  const std::string root = "/tmp/hotcore-forge-" + std::to_string(::getpid());
  const std::string instance = root + "/instances/hotcore-" + std::to_string(dead);
  fs::create_directories(root);

  SUBCASE("a tmpfs dressed as a tracefs instance: not removed, not unmounted") {
    REQUIRE(::mount("none", root.c_str(), "tmpfs", 0, nullptr) == 0);
    fs::create_directories(instance);
    write_text(record, std::to_string(dead) + "\n" + instance + "\n" + root + "\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(r.errors == 1);
    CHECK(fs::exists(instance));
    CHECK(mounted_on(root));
    CHECK(::umount(root.c_str()) == 0);
  }
  SUBCASE("a plain directory, not named as an instance: left") {
    fs::create_directories(root + "/precious");
    write_text(record, std::to_string(dead) + "\n" + root + "/precious\n\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK(r.errors == 1);
    CHECK(fs::exists(root + "/precious"));
  }
  SUBCASE("a name with an ESC byte is printed escaped") {
    const std::string odd = std::string("/run/hotcore/cpu1\x1b[2J");
    write_text(odd, "1\n\n\n");
    const hotcore::restore_report r = hotcore::restore_machine();
    for (const std::string& line : r.lines) CHECK(line.find('\x1b') == std::string::npos);
    CHECK(has_line(r, "cpu1\\x1b[2J: not a hotcore record"));
    fs::remove(odd);
  }
  SUBCASE("pid 4294967297 is no pid, not pid 1") {
    write_text(cpu1_record, "4294967297\n\n\n");
    REQUIRE(write_cpu1_online(false));
    const hotcore::restore_report r = hotcore::restore_machine();
    CHECK_FALSE(has_line(r, "pid 1 "));
    CHECK(has_line(r, "cpu1: unreadable record"));
    CHECK(r.errors == 1);
  }
  fs::remove(record);
  fs::remove(cpu1_record);
  fs::remove_all(root);
}

TEST_CASE("a symlinked cpu1.tmp or cpu1.lock is never followed: its target stays as it was") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");
  const std::string target = "/tmp/hotcore-victim-" + std::to_string(::getpid());
  write_text(target, "keep\n");
  SUBCASE("cpu1.tmp: the record is written beside it") {
    fs::create_symlink(target, "/run/hotcore/cpu1.tmp");
    auto rt = make_runtime({.cores = {0, 1}, .physical = true});
    CHECK(rt->core_down(1) == 0);
    CHECK(read_cpu1_online() == 0);
    CHECK(fs::exists(cpu1_record));
    CHECK(read_text(target) == "keep\n");
    CHECK(rt->core_up(1) == 0);
  }
  SUBCASE("cpu1.lock: physical mode refuses (ELOOP)") {
    fs::remove("/run/hotcore/cpu1.lock");
    fs::create_symlink(target, "/run/hotcore/cpu1.lock");
    std::error_code ec;
    CHECK(runtime::create({.cores = {0, 1}, .physical = true}, ec) == nullptr);
    CHECK(ec.value() == ELOOP);
    CHECK(read_text(target) == "keep\n");
    fs::remove("/run/hotcore/cpu1.lock");
  }
  fs::remove("/run/hotcore/cpu1.tmp");
  fs::remove(target);
}

TEST_CASE("restore removes a half-written cpu1.tmp whose writer is gone (nobody holds the "
          "lock), and keeps it while a runtime holds cpu1") {
  cpu1_online_guard guard;
  fs::create_directories("/run/hotcore");
  write_text("/run/hotcore/cpu1.tmp", "1");
  {
    auto rt = make_runtime({.cores = {0, 1}, .physical = true});
    (void)hotcore::restore_machine();
    CHECK(fs::exists("/run/hotcore/cpu1.tmp"));
  }
  const hotcore::restore_report r = hotcore::restore_machine();
  CHECK(has_line(r, "cpu1.tmp: removed a half-written record"));
  CHECK_FALSE(fs::exists("/run/hotcore/cpu1.tmp"));
}

TEST_CASE("a successor started while its SIGKILLed predecessor is an unreaped zombie waits "
          "for the guardian's repair (up to 2 s) instead of failing with EBUSY") {
  cpu1_online_guard guard;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::error_code ec;
    auto rt = runtime::create({.cores = {0, 1}, .physical = true}, ec);
    if (!rt || rt->core_down(1) != 0) ::_exit(2);
    (void)!::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  REQUIRE(read_cpu1_online() == 0);
  REQUIRE(::kill(child, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return hotcore::detail::pid_dead(child); }));
  // Not reaped yet: a zombie.
  CHECK(read_text("/proc/" + std::to_string(child) + "/stat").find(") Z ") != std::string::npos);
  std::error_code ec;
  auto successor = runtime::create({.cores = {0, 1}, .physical = true}, ec);
  CHECK(successor != nullptr);
  CHECK(ec.value() == 0);
  CHECK(read_cpu1_online() == 1);
  successor.reset();
  ::waitpid(child, nullptr, 0);
}

int main(int argc, char** argv) {
  cpu1_session session;
  if (const int ret = session.start(); ret != 0) return ret;
  return hotcore_test::run_suite(argc, argv);
}
