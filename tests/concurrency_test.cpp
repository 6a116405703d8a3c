// SPDX-License-Identifier: MIT
// tests/concurrency_test.cpp — cpus_read_lock() against hotplug operations, and a bounded
// stress of everything at once: core up/down, instances, read-locked sections, state
// setup/removal and hotplug disable, checking the return codes, that states do not move
// under the read lock, that startups and teardowns balance, and that nothing deadlocks.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// errors collects failures seen on worker threads; the test thread checks them after join.
class errors {
 public:
  void add(std::string e) {
    std::lock_guard lk(_mu);
    if (_list.size() < 50) _list.push_back(std::move(e));
  }
  std::vector<std::string> list() {
    std::lock_guard lk(_mu);
    return _list;
  }

 private:
  std::mutex _mu;
  std::vector<std::string> _list;
};

// watchdog ends the program if it is not disarmed in time: a deadlock fails the test.
class watchdog {
 public:
  watchdog(std::chrono::seconds limit, const char* what)
      : _thread([this, limit, what] {
          std::unique_lock lk(_mu);
          if (!_cv.wait_for(lk, limit, [this] { return _done; })) {
            std::fprintf(stderr, "DEADLOCK: %s did not finish within %lld s\n", what,
                         static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::_Exit(1);
          }
        }) {}
  ~watchdog() {
    {
      std::lock_guard lk(_mu);
      _done = true;
    }
    _cv.notify_one();
    _thread.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex _mu;
  std::condition_variable _cv;
  bool _done = false;
  std::thread _thread;
};

// gate is a one-shot latch a callback can wait on.
class gate {
 public:
  void open() {
    {
      std::lock_guard lk(_mu);
      _open = true;
    }
    _cv.notify_all();
  }
  void wait() {
    std::unique_lock lk(_mu);
    _cv.wait(lk, [this] { return _open; });
  }

 private:
  std::mutex _mu;
  std::condition_variable _cv;
  bool _open = false;
};

// stress_run is the state of the everything-at-once test: a runtime on the default cores
// with states whose callbacks keep a ledger, the instances of its multi-instance state `m`,
// the errors seen and a count per kind of operation. Each worker below runs one kind of
// operation until the deadline.
struct stress_run {
  cpu_pair cpu;
  ledger led;
  errors errs;
  named_node nodes[3] = {named_node("n0"), named_node("n1"), named_node("n2")};
  std::unique_ptr<runtime> rt = make_runtime();  // after the nodes: it holds them
  int m = -1;
  std::chrono::steady_clock::time_point deadline;
  std::atomic<long> n_hotplug{0}, n_instance{0}, n_reader{0}, n_setup{0}, n_disable{0};

  explicit stress_run(const cpu_pair& c) : cpu(c) {
    REQUIRE(logged_state(*rt, ARENA_PREPARE, "stress/a:prepare", led, "a") == 0);
    REQUIRE(logged_state(*rt, AP_USER_STARTING_2, "stress/s:starting", led, "s") == 0);
    REQUIRE(logged_state(*rt, AP_USER_ONLINE, "stress/w:online", led, "w") == 0);
    m = logged_multi_state(*rt, ONLINE_DYN, "stress/m:online", led, "m");
    REQUIRE(m == ONLINE_DYN);
    REQUIRE(rt->add_instance(m, &nodes[0]) == 0);
    deadline = std::chrono::steady_clock::now() + 1500ms;
  }

  bool running() const { return std::chrono::steady_clock::now() < deadline; }

  // move_core_b(): core B up and down, and to intermediate targets; -EBUSY only while
  // hotplug is disabled.
  void move_core_b() {
    std::minstd_rand rng(7);
    const int targets[] = {OFFLINE, ARENA_PREPARE, AP_USER_STARTING_2, AP_USER_ONLINE, ONLINE};
    while (running()) {
      int r;
      std::string what;
      switch (rng() % 3) {
        case 0: r = rt->core_down(cpu.b); what = "core_down(cpu.b)"; break;
        case 1: r = rt->core_up(cpu.b); what = "core_up(cpu.b)"; break;
        default: {
          const int t = targets[rng() % 5];
          r = rt->set_target(cpu.b, t);
          what = "set_target(cpu.b, " + std::to_string(t) + ")";
        }
      }
      if (r != 0 && r != -EBUSY) errs.add(what + ": " + std::to_string(r));
      n_hotplug.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // churn_instances(): instances n1 and n2 added and removed.
  void churn_instances() {
    std::minstd_rand rng(11);
    while (running()) {
      named_node& n = nodes[1 + rng() % 2];
      const bool attached = n.attached_state == m;
      const int r = attached ? rt->remove_instance(m, &n) : rt->add_instance(m, &n);
      if (r != 0) errs.add(std::string(attached ? "remove_instance " : "add_instance ") +
                           n.name + ": " + std::to_string(r));
      n_instance.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // read_sections(): a reader; the state of core B does not change while it holds the
  // lock. One that may try takes every other section with cpus_read_trylock().
  void read_sections(bool may_try) {
    while (running()) {
      const bool try_it = may_try && (n_reader.load(std::memory_order_relaxed) % 2 == 0);
      if (try_it && !rt->cpus_read_trylock()) {
        std::this_thread::yield();
        continue;
      }
      if (!try_it) rt->cpus_read_lock();
      const int before = rt->state(cpu.b);
      const bool online_before = rt->core_online(cpu.b);
      // Not a wait: the reader holds the lock a while, so that walks must wait for it.
      std::this_thread::sleep_for(200us);
      if (rt->state(cpu.b) != before)
        errs.add("core cpu.b moved under cpus_read_lock: " + std::to_string(before) + " -> " +
                 std::to_string(rt->state(cpu.b)));
      if (rt->core_online(cpu.b) != online_before) errs.add("core_online(cpu.b) changed under the lock");
      rt->cpus_read_unlock();
      n_reader.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(100us);  // not a wait: lets a writer in between reads
    }
  }

  // set_up_and_remove(): dynamic states set up with calls and removed with calls.
  void set_up_and_remove() {
    int i = 0;
    while (running()) {
      const bool prepare = (i++ % 2) == 0;
      const std::string tag = prepare ? "dp" : "do";
      const int st = rt->setup_state(prepare ? PREPARE_DYN : ONLINE_DYN,
                                     "stress/" + tag, led.startup(tag), led.teardown(tag));
      if (st <= 0) {
        errs.add("setup_state " + tag + ": " + std::to_string(st));
        continue;
      }
      const int r = rt->remove_state(st);
      if (r != 0) errs.add("remove_state " + tag + ": " + std::to_string(r));
      n_setup.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // disable_now_and_then(): hotplug disabled a while, then enabled a longer while.
  void disable_now_and_then() {
    while (running()) {
      const int d = rt->cpu_hotplug_disable();
      if (d != 0) errs.add("cpu_hotplug_disable: " + std::to_string(d));
      // Not waits: hotplug stays disabled a while, then enabled a longer while.
      std::this_thread::sleep_for(300us);
      const int e = rt->cpu_hotplug_enable();
      if (e != 0) errs.add("cpu_hotplug_enable: " + std::to_string(e));
      n_disable.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(2ms);
    }
  }

  // check_ledger_and_shut_down(): the ledger matches where the cores are, with core B up;
  // after the instances, the multi-instance state and the runtime are gone, every startup
  // was torn down once.
  void check_ledger_and_shut_down() {
    CHECK(led.violations() == std::vector<std::string>{});
    REQUIRE(rt->core_up(cpu.b) == 0);
    for (unsigned c : {cpu.a, cpu.b}) {
      for (const char* tag : {"a", "s", "w"}) CHECK(led.held(c, tag));
      for (const char* tag : {"dp", "do"}) CHECK_FALSE(led.held(c, tag));
      for (const auto& n : nodes) CHECK(led.held(c, "m", &n) == (n.attached_state == m));
    }
    for (auto& n : nodes)
      if (n.attached_state == m) CHECK(rt->remove_instance(m, &n) == 0);
    CHECK(rt->remove_multi_state(m) == 0);
    rt.reset();
    CHECK(led.held_keys() == std::vector<std::string>{});
    CHECK(led.violations() == std::vector<std::string>{});
    CHECK(led.acquires() == led.releases());
  }
};

}  // namespace

TEST_CASE("cpus_read_lock(): while any thread holds it, core_down() and core_up() on other "
          "threads do not complete; they do once it is released") {
  TWO_CPUS(cpu);
  watchdog dog(30s, "read lock blocking test");
  auto rt = make_runtime();
  for (bool down : {true, false}) {
    CAPTURE(down);
    std::atomic<bool> done{false};
    int ret = -1;
    std::thread op;
    {
      cpus_read_guard g(*rt);
      op = std::thread([&] {
        pthread_setname_np(pthread_self(), "test-op");
        ret = down ? rt->core_down(cpu.b) : rt->core_up(cpu.b);
        done = true;
      });
      // The operation blocks on the lock: its thread sleeps, not done.
      REQUIRE(wait_until([&] { return done || thread_asleep("test-op"); }));
      CHECK_FALSE(done);
      CHECK(rt->state(cpu.b) == (down ? ONLINE : OFFLINE));
      // Nested read locks on the holder's thread do not block either.
      rt->cpus_read_lock();
      rt->cpus_read_unlock();
      REQUIRE(wait_until([&] { return done || thread_asleep("test-op"); }));
      CHECK_FALSE(done);
    }
    op.join();
    CHECK(done);
    CHECK(ret == 0);
    CHECK(rt->state(cpu.b) == (down ? OFFLINE : ONLINE));
  }
}

TEST_CASE("cpus_read_lock(): readers do not exclude each other") {
  watchdog dog(30s, "readers test");
  auto rt = make_runtime();
  gate held, release;
  std::thread reader([&] {
    cpus_read_guard g(*rt);
    held.open();
    release.wait();
  });
  held.wait();
  CHECK(rt->cpus_read_trylock());
  rt->cpus_read_unlock();
  {
    cpus_read_guard g(*rt);  // would hang if readers excluded each other
    CHECK(rt->state(rt->cores().front()) == ONLINE);
  }
  release.open();
  reader.join();
}

TEST_CASE("cpus_read_trylock() fails while a hotplug operation is in progress, and succeeds "
          "again after it") {
  TWO_CPUS(cpu);
  watchdog dog(30s, "trylock test");
  gate entered, leave;  // before the runtime: its destructor runs the teardown below
  std::atomic<bool> block{false};
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "try/w:online", nullptr, [&](unsigned) {
    if (block.exchange(false)) {
      entered.open();
      leave.wait();  // ONLINE callbacks may block
    }
    return 0;
  }) == 0);
  block = true;
  int ret = -1;
  std::thread op([&] { ret = rt->core_down(cpu.b); });
  entered.wait();
  CHECK_FALSE(rt->cpus_read_trylock());
  leave.open();
  op.join();
  CHECK(ret == 0);
  CHECK(rt->cpus_read_trylock());
  rt->cpus_read_unlock();
}

TEST_CASE("hotplug operations from several threads are serialized: racing core_up/core_down "
          "of both cores never loses a callback, never runs one twice, and never takes the "
          "last active core down") {
  TWO_CPUS(cpu);
  watchdog dog(60s, "racing hotplug operations");
  ledger led;
  errors errs;
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});
  REQUIRE(logged_state(*rt, ARENA_PREPARE, "race/a:prepare", led, "a") == 0);
  REQUIRE(logged_state(*rt, AP_USER_STARTING_1, "race/t:starting", led, "t") == 0);
  REQUIRE(logged_state(*rt, AP_USER_ONLINE, "race/w:online", led, "w") == 0);
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0}, checks{0};
  const auto deadline = std::chrono::steady_clock::now() + 1s;

  auto cycler = [&](unsigned core, unsigned seed) {
    std::minstd_rand rng(seed);
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      const bool down = rng() % 2 == 0;
      const int r = down ? rt->core_down(core) : rt->core_up(core);
      if (r != 0 && !(down && r == -EBUSY))
        errs.add("core" + std::to_string(core) + (down ? " down: " : " up: ") +
                 std::to_string(r));
      ops.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(cycler, cpu.a, 1u);
  threads.emplace_back(cycler, cpu.b, 2u);
  threads.emplace_back(cycler, cpu.b, 3u);
  threads.emplace_back([&] {
    while (!stop && std::chrono::steady_clock::now() < deadline) {
      cpus_read_guard g(*rt);
      if (!rt->core_active(cpu.a) && !rt->core_active(cpu.b)) errs.add("no active core");
      for (unsigned c : {cpu.a, cpu.b}) {
        const int s = rt->state(c);
        if (s != OFFLINE && s != ONLINE) errs.add("core left between states: " + std::to_string(s));
      }
      checks.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (auto& t : threads) t.join();
  CHECK(errs.list() == std::vector<std::string>{});
  CHECK(ops > 0);
  CHECK(checks > 0);
  CHECK(led.violations() == std::vector<std::string>{});
  for (unsigned c : {cpu.a, cpu.b})
    for (const char* tag : {"a", "t", "w"}) CHECK(led.held(c, tag) == (rt->state(c) == ONLINE));
  rt.reset();
  CHECK(led.held_keys() == std::vector<std::string>{});
  CHECK(led.violations() == std::vector<std::string>{});
  CHECK(led.acquires() == led.releases());
}

TEST_CASE("everything at once, bounded: core up/down, add/remove instance, read-locked "
          "sections, dynamic state setup/removal and hotplug disable; every operation returns "
          "0 or an expected errno, no state moves under the read lock, startups and teardowns "
          "balance per (core, state, instance), nothing deadlocks") {
  TWO_CPUS(cpu);
  watchdog dog(90s, "concurrent stress");
  stress_run s(cpu);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { s.move_core_b(); });
  threads.emplace_back([&] { s.churn_instances(); });
  threads.emplace_back([&] { s.read_sections(false); });
  threads.emplace_back([&] { s.read_sections(true); });
  threads.emplace_back([&] { s.set_up_and_remove(); });
  threads.emplace_back([&] { s.disable_now_and_then(); });
  for (auto& t : threads) t.join();

  CHECK(s.errs.list() == std::vector<std::string>{});
  CHECK(s.n_hotplug > 0);
  CHECK(s.n_instance > 0);
  CHECK(s.n_reader > 0);
  CHECK(s.n_setup > 0);
  CHECK(s.n_disable > 0);
  MESSAGE("hotplug ops " << s.n_hotplug.load() << ", instance ops " << s.n_instance.load()
                         << ", read sections " << s.n_reader.load() << ", setup/remove "
                         << s.n_setup.load() << ", disable " << s.n_disable.load());
  CHECK(s.rt->cpu_hotplug_enable() == -EINVAL);  // every disable was matched
  s.check_ledger_and_shut_down();
}
