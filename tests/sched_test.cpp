// SPDX-License-Identifier: MIT
// tests/sched_test.cpp — the task scheduler: every task runs exactly once (counted per
// task id) through submit, submit_on, task groups and parallel_for, also while cores go
// down and up; errors; shutdown; exceptions; worker threads pinned and gone at the end.
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hotcore/parallel.h"
#include "hotcore/task_group.h"
#include "on_core.h"
#include "sanitizers.h"
#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

// Counting replacements of the global operator new (not under a sanitizer, which has its
// own): the allocation test counts heap allocations made while `counting` is on.
#if !HOTCORE_TEST_ASAN && !HOTCORE_TEST_TSAN
#define HOTCORE_TEST_COUNTS_NEW 1
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
void* counted_alloc(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace
void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

namespace {

// run_counts counts, per task id, how many times the task ran.
class run_counts {
 public:
  explicit run_counts(std::size_t n) : _runs(n) {}
  // release/acquire: a test that saw a task's count may then destroy what the task used.
  void ran(std::size_t id) { _runs[id].fetch_add(1, std::memory_order_release); }
  [[nodiscard]] std::size_t size() const { return _runs.size(); }
  // missing()/twice() count ids that ran 0 / more than 1 times.
  [[nodiscard]] std::size_t missing() const { return count([](int r) { return r == 0; }); }
  [[nodiscard]] std::size_t twice() const { return count([](int r) { return r > 1; }); }
  [[nodiscard]] std::size_t ran_count() const { return count([](int r) { return r > 0; }); }

 private:
  template <class P>
  std::size_t count(P p) const {
    std::size_t n = 0;
    for (const auto& r : _runs) n += p(r.load(std::memory_order_acquire)) ? 1 : 0;
    return n;
  }
  std::vector<std::atomic<int>> _runs;
};

long serial_fib(int n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

long fib(runtime& rt, int n, std::atomic<long>& tasks) {
  if (n < 12) return serial_fib(n);
  long a = 0, b = 0;
  task_group g(rt);
  g.run([&] {
    tasks.fetch_add(1, std::memory_order_relaxed);
    a = fib(rt, n - 1, tasks);
  });
  b = fib(rt, n - 2, tasks);
  g.wait();
  return a + b;
}

long fib_tasks(int n) { return n < 12 ? 0 : 1 + fib_tasks(n - 1) + fib_tasks(n - 2); }

// churn moves `core` down and up every `period` until stopped, counting the cycles.
class churn {
 public:
  churn(runtime& rt, unsigned core, std::chrono::microseconds period)
      : _thread([this, &rt, core, period] {
          // Not waits: the pace of the churn, half the period down, half up.
          while (!_stop.load()) {
            if (rt.core_down(core) == 0) {
              std::this_thread::sleep_for(period / 2);
              CHECK(rt.core_up(core) == 0);
              cycles.fetch_add(1);
            }
            std::this_thread::sleep_for(period / 2);
          }
        }) {}
  ~churn() { stop(); }
  void stop() {
    _stop.store(true);
    if (_thread.joinable()) _thread.join();
  }
  std::atomic<int> cycles{0};

 private:
  std::atomic<bool> _stop{false};
  std::thread _thread;
};

}  // namespace

TEST_CASE("the built-in row \"workers:online\" is listed among the states") {
  auto rt = make_runtime();
  bool found = false;
  for (const auto& row : rt->states())
    if (row.state == AP_WORKERS_ONLINE) found = row.name == "workers:online";
  CHECK(found);
  CHECK(rt->setup_state(AP_WORKERS_ONLINE, "x:online", nullptr, nullptr) == -EBUSY);
}

TEST_CASE("submit() from several threads: every task runs exactly once, on a worker core") {
  auto rt = make_runtime();
  constexpr std::size_t per_thread = 20000, threads = 4;
  run_counts runs(per_thread * threads);
  std::atomic<std::size_t> done{0};
  std::atomic<int> not_on_worker{0};
  std::vector<std::thread> submitters;
  for (std::size_t t = 0; t < threads; ++t)
    submitters.emplace_back([&, t] {
      for (std::size_t i = 0; i < per_thread; ++i) {
        const std::size_t id = t * per_thread + i;
        const int ret = rt->submit([&, id] {
          if (rt->this_core() < 0 || hotcore::this_core() != rt->this_core()) not_on_worker++;
          runs.ran(id);
          done.fetch_add(1);
        });
        CHECK(ret == 0);
      }
    });
  for (auto& t : submitters) t.join();
  REQUIRE(wait_until([&] { return done.load() == runs.size(); }));
  CHECK(runs.missing() == 0);
  CHECK(runs.twice() == 0);
  CHECK(not_on_worker.load() == 0);
  CHECK(rt->this_core() == -1);
  CHECK(hotcore::this_core() == -1);
}

TEST_CASE("submit_on() runs the task on that core's pinned worker, on every core; -EINVAL "
          "for a core that is not a worker core, -ENODEV for one that is not online") {
  NEEDS_TWO_CPUS();
  auto rt = make_runtime();
  for (unsigned core : rt->cores()) {
    int cpu = -2;
    CHECK(run_on(*rt, core, [&] { cpu = sched_getcpu(); }) == static_cast<int>(core));
    CHECK(cpu == static_cast<int>(core));
  }
  bool ran = false;
  CHECK(rt->submit_on(100000, [&] { ran = true; }) == -EINVAL);
  REQUIRE(rt->cores().size() >= 2);
  const unsigned last = rt->cores().back();
  REQUIRE(rt->core_down(last) == 0);
  CHECK(rt->submit_on(last, [&] { ran = true; }) == -ENODEV);
  REQUIRE(rt->core_up(last) == 0);
  std::atomic<bool> done{false};
  CHECK(rt->submit_on(last, [&] { done = true; }) == 0);
  REQUIRE(wait_until([&] { return done.load(); }));
  CHECK_FALSE(ran);
}

TEST_CASE("nested task groups: fib computes the right value and every task runs once") {
  auto rt = make_runtime();
  std::atomic<long> tasks{0};
  long result = 0;
  SUBCASE("waited from an outside thread (it helps)") { result = fib(*rt, 24, tasks); }
  SUBCASE("waited from inside a worker") {
    std::atomic<bool> done{false};
    REQUIRE(rt->submit([&] {
      result = fib(*rt, 24, tasks);
      done = true;
    }) == 0);
    REQUIRE(wait_until([&] { return done.load(); }));
  }
  CHECK(result == serial_fib(24));
  CHECK(tasks.load() == fib_tasks(24));
}

TEST_CASE("task_group::wait() rethrows the first exception a task threw; the other tasks "
          "still ran, and the group can be used again") {
  auto rt = make_runtime();
  task_group g(*rt);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i)
    g.run([&, i] {
      ran++;
      if (i % 10 == 3) throw std::runtime_error("task " + std::to_string(i));
    });
  CHECK_THROWS_AS(g.wait(), std::runtime_error);
  CHECK(ran.load() == 100);
  g.run([&] { ran++; });
  CHECK_NOTHROW(g.wait());
  CHECK(ran.load() == 101);
  // parallel_for passes a body's exception on.
  CHECK_THROWS_WITH_AS(parallel_for(*rt, 0, 1000, 10,
                                    [](int i) {
                                      if (i == 777) throw std::logic_error("777");
                                    }),
                       "777", std::logic_error);
}

TEST_CASE("callables are moved into tasks, never copied; move-only and large callables work") {
  auto rt = make_runtime();
  struct counted {
    std::atomic<int>* copies;
    std::atomic<int>* calls;
    counted(std::atomic<int>* c, std::atomic<int>* k) : copies(c), calls(k) {}
    counted(const counted& o) : copies(o.copies), calls(o.calls) { copies->fetch_add(1); }
    counted(counted&&) noexcept = default;
    void operator()() const { calls->fetch_add(1); }
  };
  std::atomic<int> copies{0}, calls{0};
  {
    task_group g(*rt);
    for (int i = 0; i < 50; ++i) g.run(counted(&copies, &calls));
    g.wait();
  }
  REQUIRE(rt->submit(counted(&copies, &calls)) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 51; }));
  CHECK(copies.load() == 0);

  auto owned = std::make_unique<int>(41);
  std::atomic<int> got{0};
  REQUIRE(rt->submit([p = std::move(owned), &got] { got = *p + 1; }) == 0);
  REQUIRE(wait_until([&] { return got.load() == 42; }));

  std::array<long, 64> big{};  // 512 bytes: larger than the inline buffer
  big[63] = 7;
  std::atomic<long> big_seen{0};
  task_group g(*rt);
  g.run([big, &big_seen] { big_seen = big[63]; });
  g.wait();
  CHECK(big_seen.load() == 7);
}

TEST_CASE("small callables need no heap allocation: once warmed up, task groups of small "
          "tasks allocate (almost) nothing") {
#if HOTCORE_TEST_COUNTS_NEW
  auto rt = make_runtime();
  constexpr int tasks = 10000;
  std::atomic<long> sum{0};
  auto round = [&] {
    std::atomic<bool> done{false};
    REQUIRE(rt->submit([&] {
      task_group g(*rt);
      for (int i = 0; i < tasks; ++i) g.run([&sum, i] { sum.fetch_add(i, std::memory_order_relaxed); });
      g.wait();
      done = true;
    }) == 0);
    REQUIRE(wait_until([&] { return done.load(); }));
  };
  for (int i = 0; i < 50; ++i) round();  // deques grow, node population reaches its need
  counting = true;
  for (int i = 0; i < 5; ++i) round();
  counting = false;
  MESSAGE(allocations.load() << " heap allocations for " << 5 * tasks << " tasks");
  CHECK(allocations.load() < 5 * tasks / 100);
  CHECK(sum.load() == 55L * tasks * (tasks - 1) / 2);  // 50 + 5 rounds, each 0..tasks-1
#else
  MESSAGE("operator new is the sanitizer's here; skipped");
#endif
}

TEST_CASE("parallel_for visits every index exactly once (per index and per chunk); "
          "parallel_reduce gives the exact sum") {
  auto rt = make_runtime();
  constexpr std::size_t n = 200000;
  run_counts runs(n);
  parallel_for(*rt, std::size_t{0}, n, 1000, [&](std::size_t i) { runs.ran(i); });
  CHECK(runs.missing() == 0);
  CHECK(runs.twice() == 0);
  run_counts chunks(n);
  parallel_for(*rt, 0, static_cast<int>(n), [&](int b, int e) {
    for (int i = b; i < e; ++i) chunks.ran(static_cast<std::size_t>(i));
  });
  CHECK(chunks.missing() == 0);
  CHECK(chunks.twice() == 0);
  parallel_for(*rt, 5, 5, [](int) { FAIL("empty range"); });
  const long sum = parallel_reduce(
      *rt, 0L, 1000000L, 1000, 0L,
      [](long b, long e, long acc) {
        for (long i = b; i < e; ++i) acc += i;
        return acc;
      },
      [](long a, long b) { return a + b; });
  CHECK(sum == 999999L * 1000000L / 2);
  std::vector<double> v(100000);
  std::iota(v.begin(), v.end(), 0.5);
  auto map = [&](std::size_t b, std::size_t e, double acc) {
    for (std::size_t i = b; i < e; ++i) acc += std::sqrt(v[i]);
    return acc;
  };
  const double d1 = parallel_reduce(*rt, std::size_t{0}, v.size(), 777, 0.0, map, std::plus<>{});
  const double d2 = parallel_reduce(*rt, std::size_t{0}, v.size(), 777, 0.0, map, std::plus<>{});
  CHECK(d1 == d2);  // a fixed tree: bit-for-bit the same
}

TEST_CASE("core_down() lets the running task finish, moves the core's queued tasks (also "
          "submit_on ones) to another active core, and none is lost or run twice") {
  NEEDS_TWO_CPUS();
  auto rt = multi_core_runtime();
  const unsigned first = rt->cores().front(), last = rt->cores().back();
  std::atomic<bool> release{false}, blocker_started{false}, blocker_done{false};
  REQUIRE(rt->submit_on(last, [&] {
    blocker_started = true;
    release.wait(false);  // the running task that core_down() must let finish
    blocker_done = true;
  }) == 0);
  REQUIRE(wait_until([&] { return blocker_started.load(); }));
  constexpr std::size_t queued = 100;
  run_counts runs(queued);
  std::vector<std::atomic<int>> where(queued);
  for (std::size_t i = 0; i < queued; ++i)
    REQUIRE(rt->submit_on(last, [&, i] {
      where[i] = rt->this_core();
      runs.ran(i);
    }) == 0);
  std::atomic<int> down_ret{1};
  const auto moved = [&] {
    for (const core_stats& c : rt->stats().cores)
      if (c.core == last) return c.tasks_moved;
    return std::uint64_t{0};
  };
  const std::uint64_t moved_before = moved();
  std::thread downer([&] { down_ret = rt->core_down(last); });
  // The walk is past sched:active and has handed the queued tasks to another core; it
  // still waits for the running one.
  const bool handed_over = wait_until([&] { return moved() >= moved_before + queued; });
  CHECK(handed_over);
  CHECK_FALSE(rt->core_active(last));
  CHECK(down_ret.load() == 1);  // still waiting for the running task
  release = true;
  release.notify_all();
  downer.join();
  CHECK(down_ret.load() == 0);
  CHECK(blocker_done.load());
  REQUIRE(wait_until([&] { return runs.ran_count() == queued; }));
  CHECK(runs.twice() == 0);
  for (std::size_t i = 0; i < queued; ++i) CHECK(where[i].load() == static_cast<int>(first));
  REQUIRE(rt->core_up(last) == 0);
}

TEST_CASE("a task on a core going down that waits for a group whose tasks sit in that "
          "core's injection queue finishes: core_down() moves them first, without deadlock") {
  NEEDS_TWO_CPUS();
  auto rt = multi_core_runtime();
  const unsigned first = rt->cores().front(), last = rt->cores().back();
  std::atomic<bool> release_first{false}, release_last{false}, last_started{false},
      first_started{false};
  task_group g(*rt);
  std::atomic<int> group_ran{0};
  // Keep the first core's worker busy, so it cannot take the group's tasks.
  REQUIRE(rt->submit_on(first, [&] {
    first_started = true;
    release_first.wait(false);
  }) == 0);
  std::atomic<bool> waited{false};
  REQUIRE(rt->submit_on(last, [&] {
    last_started = true;
    release_last.wait(false);
    g.wait();
    waited = true;
  }) == 0);
  REQUIRE(wait_until([&] { return first_started.load() && last_started.load(); }));
  // An outside thread's tasks go to a core other than the CPU it runs on: run on the
  // first core's CPU, so they land in the last core's injection queue.
  cpu_set_t saved, only_first;
  REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
  CPU_ZERO(&only_first);
  CPU_SET(first, &only_first);
  REQUIRE(sched_setaffinity(0, sizeof only_first, &only_first) == 0);
  for (int i = 0; i < 40; ++i) g.run([&] { group_ran++; });
  REQUIRE(sched_setaffinity(0, sizeof saved, &saved) == 0);
  std::atomic<int> down_ret{1};
  std::thread downer([&] { down_ret = rt->core_down(last); });
  REQUIRE(wait_until([&] { return !rt->core_active(last); }));
  release_last = true;  // the task now waits for the group from a closing core
  release_last.notify_all();
  const bool finished = wait_until([&] { return waited.load(); }, 5s);
  release_first = true;  // unstick the test either way
  release_first.notify_all();
  downer.join();
  CHECK(finished);
  CHECK(down_ret.load() == 0);
  g.wait();
  CHECK(group_ran.load() == 40);
  REQUIRE(rt->core_up(last) == 0);
}

TEST_CASE("while a core goes down and up every few ms: parallel_for, nested groups, "
          "submit and submit_on still run every task exactly once") {
  NEEDS_TWO_CPUS();
  auto rt = multi_core_runtime();
  const unsigned last = rt->cores().back();
  churn c(*rt, last, 2ms);
  const auto end = std::chrono::steady_clock::now() + 1500ms;
  int rounds = 0;
  std::atomic<long> fib_tasks_run{0};
  std::size_t submitted = 0;
  run_counts roots(1 << 20);
  std::atomic<std::size_t> roots_done{0};
  std::thread submitter([&] {
    std::size_t i = 0;
    while (std::chrono::steady_clock::now() < end && i < roots.size()) {
      const unsigned core = rt->cores()[i % rt->cores().size()];
      auto fn = [&, id = i] {
        roots.ran(id);
        roots_done++;
      };
      const int ret = (i % 3 == 0) ? rt->submit_on(core, std::move(fn)) : rt->submit(std::move(fn));
      CHECK((ret == 0 || ret == -ENODEV));
      if (ret == 0) ++i;
      if (i % 64 == 0) std::this_thread::sleep_for(50us);  // not a wait: spreads the roots
    }
    submitted = i;
  });
  while (std::chrono::steady_clock::now() < end) {
    constexpr std::size_t n = 50000;
    run_counts runs(n);
    parallel_for(*rt, std::size_t{0}, n, 64, [&](std::size_t i) { runs.ran(i); });
    REQUIRE(runs.missing() == 0);
    REQUIRE(runs.twice() == 0);
    fib_tasks_run = 0;
    CHECK(fib(*rt, 18, fib_tasks_run) == serial_fib(18));
    CHECK(fib_tasks_run.load() == fib_tasks(18));
    ++rounds;
  }
  submitter.join();
  c.stop();
  REQUIRE(wait_until([&] { return roots_done.load() == submitted; }));
  CHECK(roots.ran_count() == submitted);
  CHECK(roots.twice() == 0);
  MESSAGE("rounds " << rounds << ", core cycles " << c.cycles.load() << ", roots " << submitted);
  CHECK(c.cycles.load() > 0);
}

TEST_CASE("shutdown() runs every task already accepted; submit() and submit_on() return "
          "-ESHUTDOWN afterwards, and task groups still work") {
  auto rt = make_runtime();
  constexpr std::size_t n = 2000;
  run_counts runs(n);
  for (std::size_t i = 0; i < n; ++i)
    REQUIRE(rt->submit([&, i] {
      // Not a wait: slow tasks, so that many are still queued when shutdown() starts.
      if (i % 100 == 0) std::this_thread::sleep_for(1ms);
      runs.ran(i);
    }) == 0);
  CHECK(rt->shutdown() == 0);
  CHECK(runs.missing() == 0);
  CHECK(runs.twice() == 0);
  bool ran = false;
  CHECK(rt->submit([&] { ran = true; }) == -ESHUTDOWN);
  CHECK(rt->submit_on(rt->cores().front(), [&] { ran = true; }) == -ESHUTDOWN);
  CHECK(rt->shutdown() == 0);
  std::atomic<int> in_group{0};
  task_group g(*rt);
  for (int i = 0; i < 10; ++i) g.run([&] { in_group++; });
  g.wait();
  CHECK(in_group.load() == 10);
  CHECK_FALSE(ran);
}

TEST_CASE("inside a task: core_down/core_up/set_target and shutdown() return -EDEADLK") {
  auto rt = make_runtime();
  std::atomic<int> down{1}, up{1}, target{1}, shut{1};
  std::atomic<bool> done{false};
  REQUIRE(rt->submit([&] {
    down = rt->core_down(rt->cores().back());
    up = rt->core_up(rt->cores().back());
    target = rt->set_target(rt->cores().back(), AP_ONLINE);
    shut = rt->shutdown();
    done = true;
  }) == 0);
  REQUIRE(wait_until([&] { return done.load(); }));
  CHECK(down.load() == -EDEADLK);
  CHECK(up.load() == -EDEADLK);
  CHECK(target.load() == -EDEADLK);
  CHECK(shut.load() == -EDEADLK);
}

TEST_CASE("with every core OFFLINE, submitted tasks wait for the first core to come up") {
  const unsigned cpu = allowed_cpus().front();
  auto rt = make_runtime(runtime_options{.cores = {cpu}, .online_at_start = false});
  std::atomic<int> ran{0}, where{-2};
  for (int i = 0; i < 10; ++i)
    REQUIRE(rt->submit([&] {
      where = rt->this_core();
      ran++;
    }) == 0);
  CHECK(rt->submit_on(cpu, [] {}) == -ENODEV);
  // Not a wait: an observation window for an absence (a slow machine shortens it, never
  // fails it): no task may run while no core is up.
  std::this_thread::sleep_for(20ms);
  CHECK(ran.load() == 0);
  REQUIRE(rt->core_up(cpu) == 0);
  REQUIRE(wait_until([&] { return ran.load() == 10; }));
  CHECK(where.load() == static_cast<int>(cpu));
}

TEST_CASE("destroying the runtime runs the pending tasks (none dropped) and leaves no thread") {
  const int before = thread_count();
  constexpr std::size_t n = 5000;
  run_counts runs(n);
  {
    auto rt = make_runtime();
    CHECK(thread_count() > before);
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(rt->submit([&, i] {
        if (i % 500 == 0) std::this_thread::sleep_for(2ms);  // not a wait: tasks still pending
        runs.ran(i);
      }) == 0);
  }
  CHECK(runs.missing() == 0);
  CHECK(runs.twice() == 0);
  CHECK(settle_thread_count(before) == before);
  SUBCASE("also tasks submitted while no core was ever online") {
    run_counts orphans(10);
    {
      auto rt = make_runtime(
          runtime_options{.cores = {allowed_cpus().front()}, .online_at_start = false});
      for (std::size_t i = 0; i < 10; ++i) REQUIRE(rt->submit([&, i] { orphans.ran(i); }) == 0);
    }
    CHECK(orphans.missing() == 0);
    CHECK(orphans.twice() == 0);
    CHECK(settle_thread_count(before) == before);
  }
}

TEST_CASE("an idle runtime's threads all sleep (none spins while there is no work), and it "
          "wakes up for new work") {
  auto rt = make_runtime();
  parallel_for(*rt, 0, 100000, 100, [](int) {});
  // Every thread but this one leaves the run queue once the workers' idle spin ends; a
  // worker that kept spinning would stay 'R' and the wait would time out.
  const pid_t self = ::gettid();
  auto running_others = [self] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
      if (std::stoi(e.path().filename().string()) == self) continue;
      std::ifstream f(e.path() / "stat");
      std::string line;
      std::getline(f, line);
      const auto close = line.rfind(')');
      if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'R') ++n;
    }
    return n;
  };
  CHECK(wait_until([&] { return running_others() == 0; }));
  std::atomic<bool> done{false};
  REQUIRE(rt->submit([&] { done = true; }) == 0);
  CHECK(wait_until([&] { return done.load(); }));
}

TEST_CASE("idle_spin: with no spin at all (every idle worker sleeps at once, as under a CPU "
          "limit) a fork-join tree and outside submits from two threads run every task once; "
          "a spin over max_idle_spin or below zero is EINVAL") {
  runtime_options options;
  options.idle_spin = 0us;
  auto rt = make_runtime(options);
  CHECK(rt->idle_spin() == 0us);
  std::vector<std::atomic<int>> runs(20000);
  parallel_for(*rt, 0, 10000, 1, [&](int i) { runs[static_cast<std::size_t>(i)].fetch_add(1); });
  std::atomic<int> done{0};
  auto submitter = [&](int from) {
    for (int i = from; i < from + 5000; ++i)
      REQUIRE(rt->submit([&, i] {
        runs[static_cast<std::size_t>(i)].fetch_add(1);
        done.fetch_add(1);
      }) == 0);
  };
  std::thread a(submitter, 10000), b(submitter, 15000);
  a.join();
  b.join();
  CHECK(wait_until([&] { return done.load() == 10000; }));
  CHECK(std::all_of(runs.begin(), runs.end(), [](const std::atomic<int>& r) { return r.load() == 1; }));
  CHECK(rt->set_idle_spin(max_idle_spin + 1us) == -EINVAL);
  CHECK(rt->set_idle_spin(-1us) == -EINVAL);
  CHECK(rt->idle_spin() == 0us);
  CHECK(rt->set_idle_spin(max_idle_spin) == 0);
  CHECK(rt->idle_spin() == max_idle_spin);
  options.idle_spin = max_idle_spin + 1us;
  std::error_code ec;
  CHECK(runtime::create(options, ec) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
}

namespace {
// context_switches() is how many times the thread named `name` (its comm) was switched out,
// voluntarily or not (/proc/self/task/TID/status), or -1 when there is no such thread.
long context_switches(const std::string& name) {
  const std::filesystem::path dir = task_dir(name);
  if (dir.empty()) return -1;
  std::ifstream status(dir / "status");
  long n = 0;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
        line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
      n += std::stol(line.substr(line.find(':') + 1));
  return n;
}
}  // namespace

TEST_CASE("sched:active up leaves a worker with nothing to run asleep, in the sleeper set: "
          "an idle core goes down and up 100 times without its worker running once; the "
          "first task submitted to the core wakes it, and tasks submitted while its core "
          "cycles run exactly once, on a worker core") {
  NEEDS_TWO_CPUS();
  auto rt = multi_core_runtime();
  const unsigned last = rt->cores().back();
  const std::string worker = "hc-worker/" + std::to_string(last);
  // One cycle first: the worker then waits for its command (it idled before).
  REQUIRE(rt->core_down(last) == 0);
  REQUIRE(rt->core_up(last) == 0);
  REQUIRE(wait_until([&] { return thread_asleep(worker); }));
  const long before = context_switches(worker);
  REQUIRE(before >= 0);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(rt->core_down(last) == 0);
    REQUIRE(rt->core_up(last) == 0);
  }
  CHECK(context_switches(worker) == before);
  int cpu = -2;
  CHECK(run_on(*rt, last, [&] { cpu = sched_getcpu(); }) == static_cast<int>(last));
  CHECK(cpu == static_cast<int>(last));
  CHECK(context_switches(worker) > before);

  // Pinned and shared tasks against the same core's cycles: none lost, none run twice,
  // none run off the workers.
  constexpr std::size_t n = 4000;
  run_counts runs(n);
  std::atomic<int> off_core{0};
  std::atomic<bool> stop{false};
  std::thread cycler([&] {
    // relaxed: a loop bound only.
    while (!stop.load(std::memory_order_relaxed))
      if (rt->core_down(last) == 0) CHECK(rt->core_up(last) == 0);
  });
  for (std::size_t i = 0; i < n; ++i) {
    auto task = [&, i] {
      if (rt->this_core() < 0) off_core.fetch_add(1);
      runs.ran(i);
    };
    // A pinned task meets a core that is down (-ENODEV): it goes to any core instead.
    if (i % 2 == 0 || rt->submit_on(last, task) != 0) REQUIRE(rt->submit(task) == 0);
  }
  CHECK(wait_until([&] { return runs.ran_count() == n; }));
  stop = true;
  cycler.join();
  CHECK(runs.missing() == 0);
  CHECK(runs.twice() == 0);
  CHECK(off_core.load() == 0);
}
