// SPDX-License-Identifier: MIT
// tests/concurrency_test.cpp — cpus_read_lock() against hotplug operations, and a bounded
// stress of everything at once: core up/down, instances, read-locked sections, state
// setup/removal and hotplug disable, checking the return codes, that states do not move
// under the read lock, that startups and teardowns balance, and that nothing deadlocks.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
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
  REQUIRE(rt->setup_state(ARENA_PREPARE, "race/a:prepare", led.startup("a"),
                          led.teardown("a")) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "race/t:starting", led.startup("t"),
                          led.teardown("t")) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "race/w:online", led.startup("w"),
                          led.teardown("w")) == 0);
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
  ledger led;
  errors errs;
  named_node nodes[3] = {named_node("n0"), named_node("n1"), named_node("n2")};
  auto rt = make_runtime();
  REQUIRE(rt->setup_state(ARENA_PREPARE, "stress/a:prepare", led.startup("a"),
                          led.teardown("a")) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_2, "stress/s:starting", led.startup("s"),
                          led.teardown("s")) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "stress/w:online", led.startup("w"),
                          led.teardown("w")) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "stress/m:online", led.multi_startup("m"),
                                      led.multi_teardown("m"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(rt->add_instance(m, &nodes[0]) == 0);

  const auto deadline = std::chrono::steady_clock::now() + 1500ms;
  auto running = [&] { return std::chrono::steady_clock::now() < deadline; };
  std::atomic<long> n_hotplug{0}, n_instance{0}, n_reader{0}, n_setup{0}, n_disable{0};
  std::vector<std::thread> threads;

  // core 1 up and down, and to intermediate targets; -EBUSY only while hotplug is disabled.
  threads.emplace_back([&] {
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
  });
  // instances n1, n2 added and removed.
  threads.emplace_back([&] {
    std::minstd_rand rng(11);
    while (running()) {
      named_node& n = nodes[1 + rng() % 2];
      const bool attached = n.attached_state == m;
      const int r = attached ? rt->remove_instance(m, &n) : rt->add_instance(m, &n);
      if (r != 0) errs.add(std::string(attached ? "remove_instance " : "add_instance ") +
                           n.name + ": " + std::to_string(r));
      n_instance.fetch_add(1, std::memory_order_relaxed);
    }
  });
  // readers: the state of core 1 does not change while they hold the lock.
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      while (running()) {
        const bool try_it = i == 1 && (n_reader.load(std::memory_order_relaxed) % 2 == 0);
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
    });
  // dynamic states set up with calls and removed with calls.
  threads.emplace_back([&] {
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
  });
  // hotplug disabled now and then.
  threads.emplace_back([&] {
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
  });
  for (auto& t : threads) t.join();

  CHECK(errs.list() == std::vector<std::string>{});
  CHECK(n_hotplug > 0);
  CHECK(n_instance > 0);
  CHECK(n_reader > 0);
  CHECK(n_setup > 0);
  CHECK(n_disable > 0);
  MESSAGE("hotplug ops " << n_hotplug.load() << ", instance ops " << n_instance.load()
                         << ", read sections " << n_reader.load() << ", setup/remove "
                         << n_setup.load() << ", disable " << n_disable.load());
  CHECK(rt->cpu_hotplug_enable() == -EINVAL);  // every disable was matched

  // The ledger matches where the cores are.
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
