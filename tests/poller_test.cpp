// SPDX-License-Identifier: MIT
// tests/poller_test.cpp — core pollers (hotcore/core_poller.h): polled by the core's own
// worker while the core is active and only then, woken by their fd and their deadline,
// detach waits for a running poll(), and the errors attach/detach return.
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// counting_poller counts its polls and where they ran.
struct counting_poller : hotcore::core_poller {
  hotcore::runtime* rt = nullptr;
  std::atomic<long> polls{0};
  std::atomic<int> wrong_core{0};
  int expected_core = -1;
  unsigned poll() noexcept override {
    polls.fetch_add(1, std::memory_order_relaxed);
    if (rt->this_core() != expected_core || sched_getcpu() != expected_core)
      wrong_core.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
};

// event_poller consumes an eventfd: the worker must wake up for it even while idle.
struct event_poller : hotcore::core_poller {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::atomic<std::uint64_t> consumed{0};
  ~event_poller() override { ::close(fd); }
  unsigned poll() noexcept override {
    std::uint64_t n = 0;
    if (::read(fd, &n, sizeof n) != sizeof n) return 0;
    consumed.fetch_add(n, std::memory_order_relaxed);
    return 1;
  }
  int wake_fd() noexcept override { return fd; }
};

// deadline_poller asks to be polled again at `due`, and records when it was.
struct deadline_poller : hotcore::core_poller {
  std::atomic<std::int64_t> due{-1};
  std::atomic<std::int64_t> fired_at{-1};
  unsigned poll() noexcept override {
    const std::int64_t d = due.load(std::memory_order_acquire);
    if (d < 0 || now_ns() < d) return 0;
    fired_at.store(now_ns(), std::memory_order_release);
    due.store(-1, std::memory_order_release);
    return 1;
  }
  std::int64_t next_deadline_ns() noexcept override { return due.load(std::memory_order_acquire); }
};

}  // namespace

TEST_CASE("a poller runs on the worker of the core it is attached to, only while the core is active") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  const unsigned core_of[2] = {cpu.a, cpu.b};
  counting_poller p[2];
  for (int c = 0; c < 2; ++c) {
    p[c].rt = rt.get();
    p[c].expected_core = static_cast<int>(core_of[c]);
    REQUIRE(rt->attach_poller(core_of[c], &p[c]) == 0);
  }
  // Busy workers poll between tasks: run some on each core.
  std::atomic<int> ran{0};
  for (int i = 0; i < 1000; ++i)
    REQUIRE(rt->submit_on(core_of[i % 2], [&] { ran.fetch_add(1); }) == 0);
  CHECK(wait_until([&] { return ran.load() == 1000; }));
  CHECK(wait_until([&] { return p[0].polls.load() > 0 && p[1].polls.load() > 0; }));

  REQUIRE(rt->core_down(cpu.b) == 0);
  const long frozen = p[1].polls.load();
  // Not a wait: an observation window for an absence. A kick would make a worker that
  // still polled poll at once; none may come (a slow machine shortens it, never fails it).
  rt->kick_core(cpu.b);
  std::this_thread::sleep_for(20ms);
  CHECK(p[1].polls.load() == frozen);  // a core that is down is not polled
  REQUIRE(rt->core_up(cpu.b) == 0);
  for (int i = 0; i < 200; ++i) REQUIRE(rt->submit_on(cpu.b, [&] { ran.fetch_add(1); }) == 0);
  CHECK(wait_until([&] { return p[1].polls.load() > frozen; }));

  CHECK(rt->detach_poller(cpu.a, &p[0]) == 0);
  CHECK(rt->detach_poller(cpu.b, &p[1]) == 0);
  CHECK(p[0].wrong_core.load() == 0);
  CHECK(p[1].wrong_core.load() == 0);
}

TEST_CASE("an idle worker wakes up when its poller's fd becomes readable") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  event_poller p;
  REQUIRE(p.fd >= 0);
  REQUIRE(rt->attach_poller(cpu.b, &p) == 0);
  // Past the worker's spin: it sleeps in ppoll(), where only the fd can wake it.
  const std::string worker = "hc-worker/" + std::to_string(cpu.b);
  REQUIRE(wait_until([&] { return thread_asleep(worker); }));
  std::uint64_t written = 0;
  for (int i = 0; i < 50; ++i) {
    const std::uint64_t one = 1;
    REQUIRE(::write(p.fd, &one, sizeof one) == sizeof one);
    ++written;
    CHECK(wait_until([&] { return p.consumed.load() == written; }));
    CHECK(wait_until([&] { return thread_asleep(worker); }));  // asleep again
  }
  CHECK(rt->detach_poller(cpu.b, &p) == 0);
}

TEST_CASE("an idle worker polls again at its poller's deadline, never before it") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  deadline_poller p;
  REQUIRE(rt->attach_poller(cpu.a, &p) == 0);
  for (int i = 0; i < 5; ++i) {
    const std::int64_t due = now_ns() + 3'000'000;  // 3 ms from now
    p.fired_at.store(-1);
    p.due.store(due, std::memory_order_release);
    rt->kick_core(cpu.a);  // the worker may be asleep with no deadline: make it look again
    CHECK(wait_until([&] { return p.fired_at.load() >= 0; }));
    CHECK(p.fired_at.load() >= due);
  }
  CHECK(rt->detach_poller(cpu.a, &p) == 0);
}

TEST_CASE("detach_poller returns only once the worker has left the poller's poll()") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  struct slow_poller : hotcore::core_poller {
    std::atomic<bool> inside{false};
    std::atomic<long> polls{0};
    unsigned poll() noexcept override {
      inside.store(true);
      const auto until = std::chrono::steady_clock::now() + 200us;
      while (std::chrono::steady_clock::now() < until) {
      }
      polls.fetch_add(1);
      inside.store(false);
      return 1;  // "did something": the worker keeps polling, so detach races a poll
    }
  };
  for (int round = 0; round < 20; ++round) {
    slow_poller p;
    const unsigned core = round % 2 == 0 ? cpu.a : cpu.b;
    REQUIRE(rt->attach_poller(core, &p) == 0);
    REQUIRE(wait_until([&] { return p.polls.load() > 2; }));
    REQUIRE(rt->detach_poller(core, &p) == 0);
    CHECK_FALSE(p.inside.load());
    const long after = p.polls.load();
    // Not a wait: an observation window for an absence (a slow machine shortens it, never
    // fails it). p would be polled at once were it still attached: it says "did something".
    std::this_thread::sleep_for(2ms);
    CHECK(p.polls.load() == after);  // never polled again
  }
}

TEST_CASE("a poller can feed tasks, and every task still runs exactly once") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  struct feeding_poller : hotcore::core_poller {
    hotcore::runtime* rt = nullptr;
    std::atomic<int> fed{0};
    std::vector<std::atomic<int>>* runs = nullptr;
    unsigned poll() noexcept override {
      const int id = fed.load(std::memory_order_relaxed);
      if (id >= static_cast<int>(runs->size())) return 0;
      if (rt->submit([this, id] { (*runs)[static_cast<std::size_t>(id)].fetch_add(1); }) != 0) return 0;
      fed.store(id + 1, std::memory_order_relaxed);
      return 1;
    }
  };
  std::vector<std::atomic<int>> runs(20000);
  feeding_poller p;
  p.rt = rt.get();
  p.runs = &runs;
  REQUIRE(rt->attach_poller(cpu.b, &p) == 0);
  rt->kick_core(cpu.b);
  CHECK(wait_until([&] { return p.fed.load() == 20000; }));
  REQUIRE(rt->detach_poller(cpu.b, &p) == 0);
  REQUIRE(rt->shutdown() == 0);
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  CHECK(wrong == 0);
}

TEST_CASE("attach_poller and detach_poller name what was wrong") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  counting_poller p;
  p.rt = rt.get();
  p.expected_core = static_cast<int>(cpu.a);
  CHECK(rt->attach_poller(cpu.a, nullptr) == -EINVAL);
  CHECK(rt->attach_poller(cpu.b + 1, &p) == -EINVAL);  // the cores are cpu.a < cpu.b
  CHECK(rt->detach_poller(cpu.a, &p) == -ENOENT);
  REQUIRE(rt->attach_poller(cpu.a, &p) == 0);
  CHECK(rt->attach_poller(cpu.a, &p) == -EEXIST);
  std::vector<counting_poller> more(8);
  int ok = 0, nospc = 0;
  for (auto& q : more) {
    q.rt = rt.get();
    q.expected_core = static_cast<int>(cpu.a);
    const int ret = rt->attach_poller(cpu.a, &q);
    ok += ret == 0;
    nospc += ret == -ENOSPC;
  }
  CHECK(ok == 7);  // 8 slots per core, one taken by p
  CHECK(nospc == 1);
  for (auto& q : more) (void)rt->detach_poller(cpu.a, &q);
  CHECK(rt->detach_poller(cpu.a, &p) == 0);
  CHECK(rt->detach_poller(cpu.a, &p) == -ENOENT);
  CHECK(rt->detach_poller(cpu.b + 1, &p) == -EINVAL);
}

TEST_CASE("run_on_worker runs a function on the core's own worker, from an ONLINE callback and from outside") {
  TWO_CPUS(cpu);
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  // From outside a callback, on an active core: it runs between tasks, on the worker.
  for (unsigned core : {cpu.a, cpu.b}) {
    int ran_on = -2, ran_cpu = -2;
    REQUIRE(rt->run_on_worker(core, [&] {
      ran_on = rt->this_core();
      ran_cpu = sched_getcpu();
    }) == 0);
    CHECK(ran_on == static_cast<int>(core));
    CHECK(ran_cpu == static_cast<int>(core));
  }
  // From the startup and teardown of an ONLINE state: the worker exists, is pinned, and
  // (below sched:active) runs no task, so the call runs at once.
  std::atomic<int> wrong{0}, calls{0};
  const int st = rt->setup_state(
      hotcore::ONLINE_DYN, "test:run-on-worker",
      [&](unsigned core) {
        return rt->run_on_worker(core, [&, core] {
          calls++;
          if (rt->this_core() != static_cast<int>(core)) wrong++;
        });
      },
      [&](unsigned core) {
        return rt->run_on_worker(core, [&, core] {
          calls++;
          if (sched_getcpu() != static_cast<int>(core)) wrong++;
        });
      });
  REQUIRE(st > 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(rt->remove_state(st) == 0);
  CHECK(calls.load() == 2 /* setup */ + 2 /* down, up */ + 2 /* remove */);
  CHECK(wrong.load() == 0);
  // A worker that is parked (core down) is not there to run it; bad input is named.
  REQUIRE(rt->core_down(cpu.b) == 0);
  CHECK(rt->run_on_worker(cpu.b, [] {}) == -ENODEV);
  CHECK(rt->run_on_worker(cpu.b + 1, [] {}) == -EINVAL);  // the cores are cpu.a < cpu.b
  CHECK(rt->run_on_worker(cpu.a, std::function<void()>{}) == -EINVAL);
  // From a task on the worker itself, inline.
  std::atomic<int> inline_ok{0};
  REQUIRE(rt->submit_on(cpu.a, [&] {
    const int a = static_cast<int>(cpu.a);
    if (rt->run_on_worker(cpu.a, [&] { inline_ok = rt->this_core() == a ? 1 : -1; }) != 0)
      inline_ok = -2;
  }) == 0);
  REQUIRE(rt->shutdown() == 0);
  CHECK(inline_ok.load() == 1);
}
