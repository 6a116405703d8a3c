// SPDX-License-Identifier: MIT
// tests/quota_follow_test.cpp — Description: the quota follower on a cgroup v2 tree of
// files made by the test (its root is the follower's proc_self): it follows cpu.max
// writes by inotify and by polling, takes the tightest of nested limits, does not flap at
// a boundary, keeps the last good target on every bad input (missing files, `max` alone,
// malformed contents, a third field, a quota below the kernel's minimum, the group
// removed, no permission) with a message naming the file, re-discovers a moved process,
// and when disabled has no thread and reads nothing; runtime::stats().quota sums one
// runtime's followers. The runtime's real cores move.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cgroup_tree.h"
#include "machine_support.h"
#include "test_support.h"

using namespace hotcore;
using hotcore_test::cgroup_tree;
using hotcore_test::wait_until;
using namespace std::chrono_literals;

namespace {

unsigned cores_up(const runtime& rt) { return static_cast<unsigned>(rt.online_cores().size()); }

// fixture: a runtime on two cores and a follower reading the tree.
struct fixture {
  explicit fixture(const std::string& group = "/kubepods/pod1") : tree(group) {}
  cgroup_tree tree;
  std::unique_ptr<runtime> rt = hotcore_test::make_runtime();
  std::mutex mu;
  std::vector<quota_change> changes;
  std::vector<cgroup_error> errors;

  quota_follower_options options() {
    quota_follower_options o;
    o.proc_self = tree.proc;
    o.on_change = [this](const quota_change& c) {
      std::lock_guard lk(mu);
      changes.push_back(c);
    };
    o.on_error = [this](const cgroup_error& e) {
      std::lock_guard lk(mu);
      errors.push_back(e);
    };
    return o;
  }
  std::unique_ptr<quota_follower> follower(const quota_follower_options& o) {
    std::error_code ec;
    auto f = quota_follower::create(*rt, o, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    return f;
  }
  // follows() writes cpu.max of the group and waits until the runtime has `cores` up.
  bool follows(const std::string& group, const std::string& text, unsigned cores) {
    tree.set(group, "cpu.max", text);
    return wait_until([&] { return cores_up(*rt) == cores; });
  }
  // seen() waits until the follower has read `limit` as its last good limit.
  bool seen(quota_follower& f, const cpu_limit& limit) {
    return wait_until([&] { return f.status().limit == limit; });
  }
  bool two_cores() const {
    return rt->cores().size() >= 2 && cores_up(*rt) == 2;
  }
};

cpu_limit lim(std::int64_t q, std::int64_t p = 100000) { return cpu_limit{q, p}; }

}  // namespace

TEST_CASE("The follower follows cpu.max writes by inotify: 2 CPUs -> 0.5 -> max moves the "
          "runtime 2 -> 1 -> 2 cores, one change each, with timings") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto o = fx.options();
  o.poll_interval = 0ms;  // events only: the writes must be seen through inotify
  auto f = fx.follower(o);
  REQUIRE(f->enable() == 0);
  CHECK(f->enabled());
  CHECK(f->status().cpu_group.dir() == fx.tree.dir("/kubepods/pod1"));
  CHECK(fx.follows("/kubepods/pod1", "200000 100000\n", 2));
  CHECK(fx.seen(*f, lim(200000)));
  CHECK(fx.follows("/kubepods/pod1", "50000 100000\n", 1));
  CHECK(fx.rt->core_limit() == 1);
  CHECK(f->status().note.find("below one period") != std::string::npos);
  // The follower's own thread leaves the core it took down, like the runtime's threads.
  CHECK(wait_until([] {
    const std::string allowed = hotcore_test::allowed_of("hc-quota");
    return !allowed.empty() && !hotcore_test::list_has_cpu(allowed, 1);
  }));
  CHECK(fx.follows("/kubepods/pod1", "max 100000\n", 2));
  CHECK(wait_until([&] { return fx.rt->core_limit() == 0; }));
  CHECK(f->status().events >= 3);
  // The runtime is at 2 cores while set_core_limit() is still returning; on_change runs
  // after it. So wait for the second move's record, not for the cores.
  const auto moves = [&] {
    std::lock_guard lk(fx.mu);
    std::vector<std::pair<unsigned, unsigned>> m;
    for (const quota_change& c : fx.changes)
      if (c.old_cores != c.new_cores) m.emplace_back(c.old_cores, c.new_cores);
    return m;
  };
  const std::vector<std::pair<unsigned, unsigned>> expected{{2, 1}, {1, 2}};
  CHECK(wait_until([&] { return moves().size() >= expected.size(); }));
  CHECK(moves() == expected);
  std::lock_guard lk(fx.mu);
  for (const quota_change& c : fx.changes) {
    CHECK(c.applied_ns >= c.seen_ns);
    CHECK(c.seen_ns > c.previous_check_ns);
    CHECK(c.result == 0);
  }
}

TEST_CASE("The follower follows by polling where there are no events") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto o = fx.options();
  o.use_inotify = false;
  o.poll_interval = 10ms;
  auto f = fx.follower(o);
  REQUIRE(f->enable() == 0);
  CHECK(fx.follows("/kubepods/pod1", "100000 100000\n", 1));
  CHECK(fx.follows("/kubepods/pod1", "150000 100000\n", 2));
  CHECK(f->status().events == 0);
  CHECK(f->status().checks > 2);
}

TEST_CASE("Nested limits: the quota of every ancestor counts and the tightest wins") {
  fixture fx("/kubepods/burstable/pod1");
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto f = fx.follower(fx.options());
  REQUIRE(f->enable() == 0);
  CHECK(fx.follows("/kubepods", "100000 100000\n", 1));  // the grandparent: 1 CPU
  CHECK(f->status().limit_dir == fx.tree.dir("/kubepods"));
  fx.tree.set("/kubepods/burstable/pod1", "cpu.max", "400000 100000\n");
  CHECK(fx.seen(*f, lim(100000)));
  CHECK(cores_up(*fx.rt) == 1);
  CHECK(fx.follows("/kubepods", "max 100000\n", 2));  // now the group's own 4 CPUs
  CHECK(f->status().limit_dir == fx.tree.dir("/kubepods/burstable/pod1"));
  CHECK(fx.follows("/kubepods/burstable", "25000 50000\n", 1));  // the parent: 0.5
  CHECK(f->status().limit_dir == fx.tree.dir("/kubepods/burstable"));
}

TEST_CASE("Hysteresis: a quota hovering just above one CPU does not flap the cores") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto f = fx.follower(fx.options());
  REQUIRE(f->enable() == 0);
  CHECK(fx.follows("/kubepods/pod1", "100000 100000\n", 1));
  for (std::int64_t q : {105000, 98000, 108000, 101000}) {
    fx.tree.set("/kubepods/pod1", "cpu.max", std::to_string(q) + " 100000\n");
    CHECK(fx.seen(*f, lim(q)));
    CHECK_MESSAGE(cores_up(*fx.rt) == 1, "quota " << q);
    CHECK(fx.rt->core_limit() == 1);
  }
  CHECK(fx.follows("/kubepods/pod1", "120000 100000\n", 2));  // past the band
}

TEST_CASE("Bad input keeps the last good target and names the file: `max` alone, malformed "
          "contents, a third field, a quota below the kernel's 1 ms, a missing file, the "
          "group removed; then a good value is followed again") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto f = fx.follower(fx.options());
  REQUIRE(f->enable() == 0);
  CHECK(fx.follows("/kubepods/pod1", "50000 100000\n", 1));  // last good: 1 core
  const std::string file = fx.tree.dir("/kubepods/pod1") + "/cpu.max";
  for (const hotcore_test::bad_cpu_max& r : hotcore_test::bad_cpu_max_rows()) {
    const std::string text = r.text;
    CAPTURE(text);
    fx.tree.set("/kubepods/pod1", "cpu.max", r.text);
    // The test's writer truncates, then writes: a read in between sees an empty file (an
    // error too). Wait for the error of the whole contents.
    CHECK(wait_until([&] {
      const cgroup_error e = f->status().last_error;
      return e.code == r.code && e.message.find(r.says) != std::string::npos;
    }));
    const quota_status st = f->status();
    CHECK(st.last_error.message.find(file) == 0);
    CHECK(st.last_error.message.find(r.says) != std::string::npos);
    CHECK(st.limit == lim(50000));
    CHECK(st.target == 1);
    CHECK(cores_up(*fx.rt) == 1);
    CHECK(fx.rt->core_limit() == 1);
    CHECK(f->check_now() < 0);
  }
  {
    std::lock_guard lk(fx.mu);
    CHECK(fx.errors.size() >= 5);  // on_error heard each new one
  }
  // Back to a good value: followed, error cleared.
  CHECK(fx.follows("/kubepods/pod1", "200000 100000\n", 2));
  CHECK(wait_until([&] { return !f->status().last_error; }));

  CHECK(fx.follows("/kubepods/pod1", "50000 100000\n", 1));
  // A missing file (the controller says cpu is enabled, cpu.max is gone).
  std::filesystem::remove(file);
  CHECK(f->check_now() == -ENOENT);
  CHECK(f->status().last_error.message.find(file) == 0);
  CHECK(cores_up(*fx.rt) == 1);
  fx.tree.set("/kubepods/pod1", "cpu.max", "50000 100000\n");
  CHECK(wait_until([&] { return !f->status().last_error; }));

  // The group removed under us: ENOENT naming it, last target kept.
  std::filesystem::remove_all(fx.tree.dir("/kubepods/pod1"));
  CHECK(wait_until([&] { return f->status().last_error.code == std::errc::no_such_file_or_directory; }));
  CHECK(f->status().last_error.message.find(fx.tree.dir("/kubepods/pod1")) == 0);
  CHECK(cores_up(*fx.rt) == 1);
  // The process was moved to another group (that is how a group can go away): followed.
  fx.tree.make_group("/kubepods/pod2");
  fx.tree.set("/kubepods/pod2", "cpu.max", "300000 100000\n");
  fx.tree.move_to("/kubepods/pod2");
  CHECK(wait_until([&] { return cores_up(*fx.rt) == 2 && !f->status().last_error; }));
  CHECK(f->status().cpu_group.dir() == fx.tree.dir("/kubepods/pod2"));
}

TEST_CASE("Missing files at the start: no target is set and the error names the file") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  std::filesystem::remove(fx.tree.dir("/kubepods/pod1") + "/cpu.max");
  auto f = fx.follower(fx.options());
  REQUIRE(f->enable() == 0);
  const quota_status st = f->status();
  CHECK(st.last_error.code == std::errc::no_such_file_or_directory);
  CHECK(st.last_error.message.find("/kubepods/pod1/cpu.max") != std::string::npos);
  CHECK(st.target == 0);
  CHECK(fx.rt->core_limit() == 0);
  CHECK(cores_up(*fx.rt) == 2);
  // No mountinfo at all: the error names that file.
  std::filesystem::remove(fx.tree.proc + "/mountinfo");
  fx.tree.move_to("/kubepods");
  CHECK(f->check_now() == -ENOENT);
  CHECK(f->status().last_error.message.find("mountinfo") != std::string::npos);
}

TEST_CASE("No permission: a group the process may not read keeps the last good target, "
          "with EACCES naming the file") {
  if (geteuid() != 0) {
    SKIP_CASE("needs root to make a file another user cannot read");
  }
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  fx.tree.set("/kubepods/pod1", "cpu.max", "50000 100000\n");
  fx.tree.make_group("/locked");
  fx.tree.set("/locked", "cpu.max", "200000 100000\n");
  std::filesystem::permissions(fx.tree.dir("/locked") + "/cpu.max", std::filesystem::perms::none);
  fx.rt.reset();  // the child makes its own runtime; fork with no threads running
  int ready[2], moved[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(moved) == 0);
  // Root reads anything, so the follower runs in a child that drops to nobody. It exits
  // 0 when every check held, or the number of the first that did not.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    std::error_code ec;
    auto rt = runtime::create({}, ec);
    if (!rt || rt->cores().size() < 2) _exit(11);
    quota_follower_options o;
    o.proc_self = fx.tree.proc;
    o.poll_interval = 5ms;
    auto f = quota_follower::create(*rt, o, ec);
    if (!f || f->enable() != 0) _exit(12);
    if (rt->online_cores().size() != 1 || f->status().last_error) _exit(13);
    char byte = 1;
    if (write(ready[1], &byte, 1) != 1 || read(moved[0], &byte, 1) != 1) _exit(14);
    if (!wait_until([&] { return f->status().last_error.code == std::errc::permission_denied; }))
      _exit(15);
    const quota_status st = f->status();
    if (st.last_error.message.find("/locked/cpu.max") == std::string::npos) _exit(16);
    if (st.last_error.message.find("no permission") == std::string::npos) _exit(17);
    if (rt->online_cores().size() != 1 || rt->core_limit() != 1 || st.target != 1) _exit(18);
    if (f->check_now() != -EACCES) _exit(19);
    f.reset();
    rt.reset();
    _exit(0);
  }
  char byte = 0;
  CHECK(read(ready[0], &byte, 1) == 1);
  fx.tree.move_to("/locked");
  CHECK(write(moved[1], &byte, 1) == 1);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  for (int fd : {ready[0], ready[1], moved[0], moved[1]}) close(fd);
  REQUIRE(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, "the child's check number " << WEXITSTATUS(status) << " failed");
}

TEST_CASE("Switchable at run time: disabled, the follower has no thread and reads nothing; "
          "enabled again, it applies the current quota at once") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  auto o = fx.options();
  o.poll_interval = 5ms;
  auto f = fx.follower(o);
  const int before = hotcore_test::thread_count();
  REQUIRE(f->enable() == 0);
  CHECK(f->enable() == -EALREADY);
  CHECK(hotcore_test::thread_count() == before + 1);
  CHECK(fx.follows("/kubepods/pod1", "100000 100000\n", 1));
  f->disable();
  CHECK_FALSE(f->enabled());
  CHECK(hotcore_test::settle_thread_count(before) == before);
  const std::uint64_t checks = f->status().checks;
  fx.tree.set("/kubepods/pod1", "cpu.max", "max 100000\n");
  // Not a wait: an observation window for an absence (a slow machine shortens it, never
  // fails it): with its thread gone, nothing reads the file.
  std::this_thread::sleep_for(100ms);
  CHECK(f->status().checks == checks);  // nothing read the file
  CHECK(cores_up(*fx.rt) == 1);         // the limit stays where it was
  f->disable();                         // idempotent
  REQUIRE(f->enable() == 0);            // the first check runs inside enable()
  CHECK(cores_up(*fx.rt) == 2);         // applied before enable() returned
  // At least that check; the new thread's first poll (5 ms later) may have run too.
  CHECK(f->status().checks >= checks + 1);
}

TEST_CASE("runtime::stats().quota sums the checks and changes of the runtime's own followers "
          "and of no other runtime's") {
  fixture fx;
  auto a = fx.follower(fx.options());
  auto b = fx.follower(fx.options());
  fx.tree.set("/kubepods/pod1", "cpu.max", "100000 100000\n");
  REQUIRE(a->check_now() == 0);
  REQUIRE(b->check_now() == 0);
  REQUIRE(b->check_now() == 0);
  const quota_counters sums = fx.rt->stats().quota;
  CHECK(sums.checks == 3);
  CHECK(sums.checks == a->status().checks + b->status().checks);
  CHECK(sums.changes >= 1);  // each follower's first check sees the limit as new
  CHECK(sums.changes == a->status().changes + b->status().changes);
  const auto other = hotcore_test::make_runtime();
  std::error_code ec;
  auto c = quota_follower::create(*other, fx.options(), ec);
  REQUIRE_MESSAGE(c != nullptr, ec.message());
  REQUIRE(c->check_now() == 0);
  CHECK(other->stats().quota.checks == 1);
  CHECK(fx.rt->stats().quota.checks == 3);
}

TEST_CASE("The follower reports its own CPU use, and enable() from inside a task is "
          "refused with -EDEADLK") {
  fixture fx;
  auto o = fx.options();
  o.poll_interval = 1ms;
  auto f = fx.follower(o);
  REQUIRE(f->enable() == 0);
  CHECK(wait_until([&] { return f->status().checks > 50 && f->status().cpu_ns > 0; }));
  f->disable();
  const quota_status st = f->status();
  CHECK(st.cpu_ns > 0);
  CHECK(st.cpu_ns < 5'000'000'000);
  MESSAGE(st.checks << " checks used " << st.cpu_ns / 1000 << " us of CPU ("
                    << st.cpu_ns / static_cast<std::int64_t>(st.checks) << " ns each)");

  std::atomic<int> from_task{1};
  REQUIRE(fx.rt->submit([&] { from_task = f->enable(); }) == 0);
  CHECK(wait_until([&] { return from_task.load() != 1; }));
  CHECK(from_task.load() == -EDEADLK);
  CHECK_FALSE(f->enabled());
}

TEST_CASE("Bad options are refused with EINVAL") {
  fixture fx;
  quota_follower_options o = fx.options();
  o.use_inotify = false;
  o.poll_interval = 0ms;  // nothing would ever wake it
  std::error_code ec;
  CHECK(quota_follower::create(*fx.rt, o, ec) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
  o = fx.options();
  o.proc_self.clear();
  CHECK(quota_follower::create(*fx.rt, o, ec) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
  o = fx.options();
  o.idle_spin_limited = max_idle_spin + 1us;
  CHECK(quota_follower::create(*fx.rt, o, ec) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
}

TEST_CASE("Spinning is paid out of the limit: while a CPU limit applies the runtime's idle "
          "spin is the follower's idle_spin_limited, and its own spin returns when the limit "
          "goes away and when the follower is disabled") {
  fixture fx;
  REQUIRE(fx.rt->set_idle_spin(80us) == 0);
  auto o = fx.options();
  o.idle_spin_limited = 3us;
  auto f = fx.follower(o);
  fx.tree.set("/kubepods/pod1", "cpu.max", "150000 100000\n");
  REQUIRE(f->enable() == 0);
  CHECK(fx.rt->idle_spin() == 3us);  // enable() applies the limit at once
  fx.tree.set("/kubepods/pod1", "cpu.max", "max 100000\n");
  CHECK(wait_until([&] { return fx.rt->idle_spin() == 80us; }));
  fx.tree.set("/kubepods/pod1", "cpu.max", "100000 100000\n");
  CHECK(wait_until([&] { return fx.rt->idle_spin() == 3us; }));
  f->disable();
  CHECK(fx.rt->idle_spin() == 80us);
}

TEST_CASE("Never throttle itself below the limit: at 1.5 CPUs on 2 busy cores the pacer holds "
          "the extra core back before the quota is spent and gives it back as the period "
          "slides; with pace off it never moves a core") {
  fixture fx;
  if (!fx.two_cores()) SKIP_CASE("needs two worker cores up");
  // The process's CPU time as if every core that is up were busy all the time.
  struct busy_clock {
    runtime* rt;
    std::int64_t last = 0, cpu = 0;
    std::int64_t operator()() {
      const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch()).count();
      if (last != 0) cpu += (now - last) * static_cast<std::int64_t>(cores_up(*rt));
      last = now;
      return cpu;
    }
  };
  fx.tree.set("/kubepods/pod1", "cpu.max", "150000 100000\n");
  auto o = fx.options();
  o.process_cpu_ns = busy_clock{fx.rt.get()};
  SUBCASE("paced") {
    o.pace = true;
    auto f = fx.follower(o);
    REQUIRE(f->enable() == 0);
    CHECK(f->status().pacing);
    CHECK(wait_until([&] { return cores_up(*fx.rt) == 1 && f->status().paced; }));
    CHECK(wait_until([&] { return cores_up(*fx.rt) == 2 && !f->status().paced; }));
    CHECK(f->status().paced_moves >= 2);
    std::lock_guard lk(fx.mu);
    CHECK(fx.changes.size() == 1);  // the limit changed once; pacing is not a quota change
  }
  SUBCASE("pace off (the default)") {
    auto f = fx.follower(o);
    REQUIRE(f->enable() == 0);
    CHECK_FALSE(f->status().pacing);
    const std::uint64_t checks = f->status().checks;
    CHECK(wait_until([&] { return f->status().checks >= checks + 5; }));
    CHECK(f->status().paced_moves == 0);
    CHECK(cores_up(*fx.rt) == 2);
  }
}
