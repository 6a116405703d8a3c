// SPDX-License-Identifier: MIT
// tests/machine_test.cpp — the machine under the runtime, without root: the hwloc topology
// and the worker policy, the kernel's CPU uevents as parsed, vacating a core that is down
// (no runtime thread keeps it in its affinity), following the process's affinity mask
// (`taskset -p`), and a uevent socket the process may not open.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <string>

#include "machine_support.h"
#include "platform/sysfs_cpu.h"
#include "platform/uevent_listener.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// cpus_0_and_1_are_workers() is true when cores 0 and 1 are both worker cores here (the tests that move
// core 1 need them).
bool cpus_0_and_1_are_workers() {
  std::error_code ec;
  const topology t = load_topology(ec);
  return !ec && t.worker_cores.size() >= 2 && t.worker_cores[0] == 0 && t.worker_cores[1] == 1;
}

// set_main_mask() sets the affinity of the main thread (the process's mask, what
// `taskset -p` changes) to the CPUs given.
void set_main_mask(std::initializer_list<unsigned> cpus) {
  cpu_set_t m;
  CPU_ZERO(&m);
  for (unsigned c : cpus) CPU_SET(c, &m);
  REQUIRE(sched_setaffinity(::getpid(), sizeof m, &m) == 0);
}

// A datagram as the kernel sends it: "ACTION@DEVPATH" then KEY=VALUE fields, NUL-separated.
std::string datagram(const std::string& action, const std::string& devpath,
                     const std::string& subsystem) {
  std::string d = action + "@" + devpath;
  d.push_back('\0');
  for (const std::string& f : {"ACTION=" + action, "DEVPATH=" + devpath, "SUBSYSTEM=" + subsystem,
                               std::string("SEQNUM=4242")}) {
    d += f;
    d.push_back('\0');
  }
  return d;
}

}  // namespace

TEST_CASE("parse_cpu_uevent() reads the kernel's offline@/devices/system/cpu/cpu1 and its kin, "
          "and nothing of other subsystems") {
  using detail::cpu_uevent;
  cpu_uevent ev;
  const auto parse = [&ev](const std::string& d) {
    ev = cpu_uevent{};
    return detail::parse_cpu_uevent(d.data(), d.size(), ev);
  };
  REQUIRE(parse(datagram("offline", "/devices/system/cpu/cpu1", "cpu")));
  CHECK(ev.act == cpu_uevent::action::offline);
  CHECK(ev.cpu == 1);
  REQUIRE(parse(datagram("online", "/devices/system/cpu/cpu17", "cpu")));
  CHECK(ev.act == cpu_uevent::action::online);
  CHECK(ev.cpu == 17);
  REQUIRE(parse(datagram("add", "/devices/system/cpu/cpu3", "cpu")));
  CHECK(ev.act == cpu_uevent::action::add);
  REQUIRE(parse(datagram("remove", "/devices/system/cpu/cpu3", "cpu")));
  CHECK(ev.act == cpu_uevent::action::remove);
  REQUIRE(parse(datagram("change", "/devices/system/cpu/cpu3", "cpu")));
  CHECK(ev.act == cpu_uevent::action::other);
  CHECK_FALSE(parse(datagram("offline", "/devices/system/memory/memory1", "memory")));
  CHECK_FALSE(parse(datagram("add", "/devices/system/cpu/cpufreq", "cpu")));
  CHECK_FALSE(parse(datagram("add", "/devices/system/cpu/cpu1/cache", "cpu")));
  CHECK_FALSE(parse("libudev\0junk"));
  CHECK_FALSE(parse(""));
}

TEST_CASE("CPU lists read and write the kernel's format") {
  cpu_set_t m;
  REQUIRE(detail::parse_cpu_list("0-3,5,7-8\n", m) == 0);
  CHECK(CPU_COUNT(&m) == 7);
  CHECK(detail::format_cpu_list(m) == "0-3,5,7-8");
  CHECK(detail::parse_cpu_list("1", m) == 0);
  CHECK(detail::format_cpu_list(m) == "1");
  CHECK(detail::parse_cpu_list("3-1", m) == -EINVAL);
  CHECK(detail::parse_cpu_list("1,,2", m) == -EINVAL);
  CHECK(detail::parse_cpu_list("x", m) == -EINVAL);
}

TEST_CASE("topology: SMT siblings share a core, caches name their PUs, and the per-core policy "
          "gives one worker core per physical core") {
  std::error_code ec;
  const topology per_pu = load_topology(ec, worker_policy::per_pu);
  REQUIRE_MESSAGE(!ec, ec.message());
  const topology per_core = load_topology(ec, worker_policy::per_core);
  REQUIRE_MESSAGE(!ec, ec.message());
  std::set<int> cores_with_worker;
  for (const pu_info& pu : per_pu.pus) {
    CHECK(pu.worker == (pu.online && pu.allowed));
    for (unsigned s : pu.siblings) {
      const auto it = std::find_if(per_pu.pus.begin(), per_pu.pus.end(),
                                   [s](const pu_info& p) { return p.os_index == s; });
      REQUIRE(it != per_pu.pus.end());
      CHECK(it->core == pu.core);
      CHECK(s != pu.os_index);
    }
    if (pu.worker) cores_with_worker.insert(pu.core);
  }
  CHECK(per_core.worker_cores.size() == cores_with_worker.size());
  std::set<int> seen;
  for (unsigned w : per_core.worker_cores) {
    const auto it = std::find_if(per_core.pus.begin(), per_core.pus.end(),
                                 [w](const pu_info& p) { return p.os_index == w; });
    REQUIRE(it != per_core.pus.end());
    CHECK(seen.insert(it->core).second);  // one per physical core
  }
  for (const cache_info& c : per_pu.caches) {
    CHECK(c.level >= 1);
    CHECK_FALSE(c.pus.empty());
  }
  auto rt = make_runtime({.cores = {}, .policy = worker_policy::per_core});
  CHECK(rt->cores() == per_core.worker_cores);
}

TEST_CASE("a core down logically keeps its two threads asleep on its CPU, pinned there alone, "
          "and no other runtime thread is allowed there; after core_up they are pinned to it "
          "exactly as before") {
  if (!cpus_0_and_1_are_workers()) SKIP_CASE("needs cpu0 and cpu1 as worker cores here");
  auto rt = make_runtime({.cores = {0, 1}});
  CHECK(core_pinned(1));  // core 1's hotplug thread and worker
  for (unsigned core : {1u, 0u}) {
    const unsigned other = 1 - core;
    REQUIRE(rt->core_down(core) == 0);
    const std::string n = std::to_string(core);
    CHECK(core_pinned(core));
    CHECK(threads_allowed_on(core).size() == 2);  // only its own two
    CHECK(threads_pinned_to(core) == 2);
    CHECK(wait_until([&] { return thread_asleep("hc-hotplug/" + n) && thread_asleep("hc-worker/" + n); }));
    CHECK(core_pinned(other));
    REQUIRE(rt->core_up(core) == 0);
    CHECK(core_pinned(core));
    CHECK(core_pinned(other));
  }
}

TEST_CASE("affinity changes: when the process mask shrinks (taskset -p) the core leaves through "
          "the hotplug path and its tasks run exactly once; when it grows the core comes back") {
  if (!cpus_0_and_1_are_workers()) SKIP_CASE("needs cpu0 and cpu1 as worker cores here");
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(::getpid(), sizeof saved, &saved) == 0);
  {
    auto rt = make_runtime({.cores = {0, 1}, .follow_affinity = true, .affinity_poll_ms = 10});
    event_log log;
    const int st = logged_state(*rt, ONLINE_DYN, "test:affinity", log, "st");
    REQUIRE(st > 0);
    log.clear();
    run_ledger ledger(2'000'000);
    const std::size_t accepted = cpu1_leaves_and_returns(
        *rt, ledger, [] { set_main_mask({0}); }, [] { set_main_mask({0, 1}); },
        [&] { CHECK(wait_until([&] { return !rt->topology_snapshot().pus.at(1).allowed; })); });
    CHECK(log.take() == std::vector<std::string>{"down st core1", "up st core1"});
    shut_down_and_check_each_ran_once(*rt, ledger, accepted);
    CHECK(rt->remove_state(st) == 0);
  }
  REQUIRE(sched_setaffinity(::getpid(), sizeof saved, &saved) == 0);
}

TEST_CASE("affinity changes with come_back = false: the core that left stays down until "
          "core_up()") {
  if (!cpus_0_and_1_are_workers()) SKIP_CASE("needs cpu0 and cpu1 as worker cores here");
  cpu_set_t saved;
  REQUIRE(sched_getaffinity(::getpid(), sizeof saved, &saved) == 0);
  {
    auto rt = make_runtime({.cores = {0, 1}, .follow_affinity = true, .affinity_poll_ms = 10,
                            .come_back = false});
    set_main_mask({0});
    CHECK(wait_until([&] { return rt->state(1) == OFFLINE; }));
    set_main_mask({0, 1});
    CHECK(wait_until([&] { return rt->core_available(1); }));
    // The watch has told the governor (it counts the change once the governor acted): a
    // core that were to come back would be up by now.
    CHECK(wait_until([&] { return rt->stats().machine.availability_changes >= 2; }));
    CHECK(rt->state(1) == OFFLINE);
    CHECK(rt->core_up(1) == 0);
    CHECK(rt->state(1) == ONLINE);
  }
  REQUIRE(sched_setaffinity(::getpid(), sizeof saved, &saved) == 0);
}

TEST_CASE("the machine watch is one thread and two fds more while the runtime lives, and "
          "none after") {
  const int before = thread_count();
  const int fds_before = fd_count();
  {
    auto rt = make_runtime({.cores = {}, .follow_cpu_hotplug = true, .follow_affinity = true});
    CHECK(thread_count() == before + 2 * static_cast<int>(rt->cores().size()) + 1);
    // The uevent socket and the stop eventfd (the watch's first topology snapshot opens
    // /sys files for a moment: wait for it).
    CHECK(wait_until([&] { return fd_count() == fds_before + 2; }));
    CHECK(allowed_of("hc-watch") != "");
  }
  CHECK(settle_thread_count(before) == before);
  CHECK(fd_count() == fds_before);
}

TEST_CASE("a uevent socket the process may not open: create() fails with its error (EPERM), "
          "and no thread or fd is left behind") {
  // In a child: a seccomp filter makes socket(AF_NETLINK, ...) fail with EPERM, as an LSM
  // that denies it would. The child reports through its exit status.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
      ::_exit(10);
    const int fds = fd_count();
    const int refused = create_refused({.cores = {}, .follow_cpu_hotplug = true}, EPERM);
    if (refused != 0) ::_exit(refused);
    if (fd_count() != fds) ::_exit(4);
    ::_exit(0);
  }
  const int status = exit_status_of(child);
  INFO("child exit: 1 created, 2 other error, 3 thread left, 4 fd left, 10 no seccomp");
  CHECK(status == 0);
}
