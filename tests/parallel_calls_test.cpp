// SPDX-License-Identifier: MIT
// tests/parallel_calls_test.cpp — runtime_options::parallel_calls: setup_state() with calls,
// add_instance(), remove_instance() and remove_state() run the STARTING and ONLINE
// callbacks of different cores at the same time, each on its own core's hotplug thread;
// a failed startup is rolled back on exactly the cores whose startup succeeded.
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hotcore/arena.h"
#include "hotcore/timers.h"
#include "on_core.h"
#include "rendezvous.h"
#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<runtime> parallel_runtime(const cpu_pair& cpus, bool parallel = true) {
  return make_runtime(runtime_options{.cores = {cpus.a, cpus.b}, .parallel_calls = parallel});
}

// as_set() is a log without its order across cores (parallel calls fix none).
std::multiset<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::string core_str(unsigned core) { return " core" + std::to_string(core); }

}  // namespace

TEST_CASE("parallel_calls: setup_state() with calls, remove_state(), add_instance() and "
          "remove_instance() run the ONLINE and STARTING callbacks of different cores at the "
          "same time: each core's callback meets the other core's") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus);
  rendezvous rv(2, 10s);

  SUBCASE("setup_state() and remove_state() of an ONLINE state") {
    const int st = rt->setup_state(ONLINE_DYN, "par/meet:online", rv.single(), rv.single());
    REQUIRE(st >= ONLINE_DYN);
    CHECK(rv.met.load() == 2);
    rv.reset();
    CHECK(rt->remove_state(st) == 0);
    CHECK(rv.met.load() == 2);
  }
  SUBCASE("setup_state() and remove_state() of a STARTING state") {
    REQUIRE(rt->setup_state(AP_USER_STARTING_1, "par/meet:starting", rv.single(), rv.single()) ==
            0);
    CHECK(rv.met.load() == 2);
    rv.reset();
    CHECK(rt->remove_state(AP_USER_STARTING_1) == 0);
    CHECK(rv.met.load() == 2);
  }
  SUBCASE("add_instance() and remove_instance()") {
    const int m = rt->setup_state_multi(ONLINE_DYN, "par/meet:multi", rv.multi(), rv.multi());
    REQUIRE(m >= ONLINE_DYN);
    named_node a("a");
    CHECK(rt->add_instance(m, &a) == 0);
    CHECK(rv.met.load() == 2);
    rv.reset();
    CHECK(rt->remove_instance(m, &a) == 0);
    CHECK(rv.met.load() == 2);
    CHECK(rt->remove_multi_state(m) == 0);
  }
}

TEST_CASE("without parallel_calls the callbacks run one core after another: the first core's "
          "callback waits alone, only the second one meets both (the rendezvous can tell)") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus, false);
  rendezvous rv(2, 100ms);
  const int st = rt->setup_state(ONLINE_DYN, "seq/meet:online", rv.single(), nullptr);
  REQUIRE(st >= ONLINE_DYN);
  CHECK(rv.arrived.load() == 2);
  CHECK(rv.met.load() == 1);
  CHECK(rt->remove_state(st) == 0);
}

TEST_CASE("parallel_calls: \"The startup callbacks ... are invoked on the target CPU\": each "
          "core's callback runs on that core's own hotplug thread, pinned to its CPU, and a "
          "hotplug operation from inside it is -EDEADLK") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus);
  rt->set_trace(true);
  struct seen {
    unsigned core;
    int cpu;
    pid_t tid;
    int nested;
  };
  std::mutex mu;
  std::vector<seen> calls;
  runtime* r = rt.get();
  auto record = [&, r](unsigned core, instance_node*) {
    const int nested = r->setup_state(ONLINE_DYN, "par/nested:online", nullptr, nullptr);
    std::lock_guard lk(mu);
    calls.push_back({core, ::sched_getcpu(), ::gettid(), nested});
    return 0;
  };
  const int m = rt->setup_state_multi(ONLINE_DYN, "par/where:online", record, record);
  REQUIRE(m >= ONLINE_DYN);
  named_node a("a");
  REQUIRE(rt->add_instance(m, &a) == 0);
  REQUIRE(rt->remove_instance(m, &a) == 0);
  REQUIRE(calls.size() == 4);  // up and down on both cores
  std::set<pid_t> tids[2];
  for (const seen& s : calls) {
    INFO("core " << s.core);
    CHECK(s.cpu == static_cast<int>(s.core));
    CHECK(s.tid != ::gettid());
    CHECK(s.nested == -EDEADLK);
    tids[s.core == cpus.a ? 0 : 1].insert(s.tid);
  }
  // One thread per core, the same for its startup and teardown, not the other core's.
  CHECK(tids[0].size() == 1);
  CHECK(tids[1].size() == 1);
  CHECK(*tids[0].begin() != *tids[1].begin());
  int traced = 0;
  for (const trace_event& ev : rt->take_trace()) {
    if (ev.state != m) continue;
    ++traced;
    CHECK(ev.on_hotplug_thread);
    CHECK(ev.ran_on_cpu == static_cast<int>(ev.core));
  }
  CHECK(traced == 4);
  CHECK_FALSE(has_state(*rt, "par/nested:online"));
  CHECK(rt->remove_multi_state(m) == 0);
}

TEST_CASE("parallel_calls: \"If a callback fails for CPU N then the teardown callback for CPU "
          "0 .. N-1 is invoked to rollback the operation\": every core whose startup succeeded "
          "is torn down (a core after N too), never a failed one, and the first failing "
          "core's error is returned") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus);
  rt->set_trace(true);
  event_log log;
  const std::string a = core_str(cpus.a), b = core_str(cpus.b);
  const int m =
      logged_multi_state(*rt, ONLINE_DYN, "par/rb:online", log, "m");
  REQUIRE(m >= ONLINE_DYN);
  named_node x("x");

  SUBCASE("the second core fails: the first is torn down") {
    log.fail_on("up m" + b + " x", -ENOMEM);
    CHECK(rt->add_instance(m, &x) == -ENOMEM);
    CHECK(as_set(log.take()) ==
          std::multiset<std::string>{"up m" + a + " x", "up m" + b + " x fail", "down m" + a + " x"});
  }
  SUBCASE("the first core fails: the second, which succeeded meanwhile, is torn down") {
    log.fail_on("up m" + a + " x", -EIO);
    CHECK(rt->add_instance(m, &x) == -EIO);
    CHECK(as_set(log.take()) ==
          std::multiset<std::string>{"up m" + a + " x fail", "up m" + b + " x", "down m" + b + " x"});
  }
  SUBCASE("both fail: nothing is torn down, the first core's error is returned") {
    log.fail_on("up m" + a + " x", -EIO);
    log.fail_on("up m" + b + " x", -ENOMEM);
    CHECK(rt->add_instance(m, &x) == -EIO);
    CHECK(as_set(log.take()) ==
          std::multiset<std::string>{"up m" + a + " x fail", "up m" + b + " x fail"});
  }
  // Whatever failed, the node is not added, and the rollback's teardowns say so in the
  // trace, on the core they undo.
  CHECK(x.attached_state == -1);
  CHECK(rt->remove_instance(m, &x) == -ENOENT);
  for (const trace_event& ev : rt->take_trace()) {
    if (ev.state != m) continue;
    CHECK(ev.rollback == (ev.dir == direction::down));
    CHECK(ev.ran_on_cpu == static_cast<int>(ev.core));
  }
  // Afterwards the instance adds and removes normally.
  REQUIRE(rt->add_instance(m, &x) == 0);
  CHECK(as_set(log.take()) == std::multiset<std::string>{"up m" + a + " x", "up m" + b + " x"});
  REQUIRE(rt->remove_instance(m, &x) == 0);
  CHECK(as_set(log.take()) == std::multiset<std::string>{"down m" + a + " x", "down m" + b + " x"});
  CHECK(rt->remove_multi_state(m) == 0);
}

TEST_CASE("parallel_calls: setup_state() failing on the first core tears the second down and "
          "installs nothing; remove_state() and remove_instance() run every teardown, return "
          "the first failing core's error and remove anyway") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus);
  event_log log;
  const std::string a = core_str(cpus.a), b = core_str(cpus.b);

  log.fail_on("up s" + a, -EIO);
  CHECK(logged_state(*rt, ONLINE_DYN, "par/s:online", log, "s") == -EIO);
  CHECK(as_set(log.take()) == std::multiset<std::string>{"up s" + a + " fail", "up s" + b, "down s" + b});
  CHECK_FALSE(has_state(*rt, "par/s:online"));

  const int st = logged_state(*rt, ONLINE_DYN, "par/s:online", log, "s");
  REQUIRE(st >= ONLINE_DYN);
  log.clear();
  log.fail_on("down s" + a, -EBUSY);
  log.fail_on("down s" + b, -EIO);
  CHECK(rt->remove_state(st) == -EBUSY);
  CHECK(as_set(log.take()) == std::multiset<std::string>{"down s" + a + " fail", "down s" + b + " fail"});
  CHECK_FALSE(has_state(*rt, "par/s:online"));

  const int m = logged_multi_state(*rt, ONLINE_DYN, "par/r:online", log, "m");
  REQUIRE(m >= ONLINE_DYN);
  named_node x("x");
  REQUIRE(rt->add_instance(m, &x) == 0);
  log.clear();
  log.fail_on("down m" + b + " x", -EIO);
  CHECK(rt->remove_instance(m, &x) == -EIO);
  CHECK(as_set(log.take()) == std::multiset<std::string>{"down m" + a + " x", "down m" + b + " x fail"});
  CHECK(rt->remove_instance(m, &x) == -ENOENT);
  CHECK(rt->remove_multi_state(m) == 0);
}

TEST_CASE("parallel_calls: arenas and timer services come and go while a core churns; their "
          "callbacks of both cores run at the same time, every timer fires exactly once and "
          "every arena balances") {
  TWO_CPUS(cpus);
  auto rt = parallel_runtime(cpus);
  std::atomic<bool> stop{false};
  std::atomic<int> churned{0};
  std::thread churn([&] {
    while (!stop.load()) {
      if (rt->core_down(cpus.b) == 0) (void)rt->core_up(cpus.b);
      churned.fetch_add(1);
    }
  });
  constexpr int rounds = 20, timers = 40;
  for (int round = 0; round < rounds; ++round) {
    std::error_code ec;
    auto ar = arena::create(*rt, ec);
    REQUIRE_MESSAGE(ar != nullptr, "arena::create: " << ec.message());
    auto ts = timer_service::create(*rt, ec);
    REQUIRE_MESSAGE(ts != nullptr, "timer_service::create: " << ec.message());
    std::vector<std::atomic<int>> fired(timers);
    std::atomic<int> total{0};
    for (int i = 0; i < timers; ++i)
      REQUIRE(ts->arm_after(std::chrono::microseconds(i % 5 * 100), [&fired, &total, i] {
        fired[static_cast<std::size_t>(i)].fetch_add(1);
        total.fetch_add(1);
      }));
    // cpus.a never goes down: the task runs there.
    REQUIRE(run_on(*rt, cpus.a, [&] { ar->deallocate(ar->allocate(64)); }) ==
            static_cast<int>(cpus.a));
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (total.load() < timers && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100us);
    int once = 0;
    for (const auto& f : fired) once += f.load() == 1;
    CHECK(once == timers);
    ts.reset();
    CHECK(ar->stats().allocated == ar->stats().freed);
    ar.reset();
  }
  while (churned.load() < 5) std::this_thread::sleep_for(1ms);
  stop.store(true);
  churn.join();
  CHECK(rt->core_up(cpus.b) == 0);
  CHECK(churned.load() >= 5);
}
