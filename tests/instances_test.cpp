// SPDX-License-Identifier: MIT
// tests/instances_test.cpp — arenas and timer services as instances of multi-instance
// states ("mm/arena:prepare"/"mm/arena:online", "timers:prepare"/"timers:online"): several
// live side by side through core churn with exact accounting and exact event logs, an
// instance whose startup fails on core N is torn down on cores 0..N-1 only, removing one
// instance leaves the others alone, and the listing shows each state once with its count.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hotcore/arena.h"
#include "hotcore/io_context.h"
#include "hotcore/timers.h"
#include "on_core.h"
#include "test_support.h"
#include "two_cores.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// instance_log turns the runtime's trace into event strings, "up mm/arena:online core1
// a2", naming each instance by the object it belongs to. Instances are learned from the
// trace of their creation: learn() names every instance pointer not yet known.
struct instance_log {
  std::map<const instance_node*, std::string> names;

  void learn(const std::vector<trace_event>& events, const std::string& name) {
    for (const trace_event& ev : events)
      if (ev.instance != nullptr && names.count(ev.instance) == 0) names[ev.instance] = name;
  }
  std::string line(const trace_event& ev) const {
    std::string s = ev.dir == direction::up ? "up " : "down ";
    s += ev.name + " core" + std::to_string(ev.core);
    if (ev.instance != nullptr) {
      auto it = names.find(ev.instance);
      s += " " + (it != names.end() ? it->second : std::string("?"));
    }
    if (ev.result != 0) s += " -> " + std::to_string(ev.result);
    if (ev.injected) s += " injected";
    if (ev.rollback) s += " rollback";
    return s;
  }
  // lines() formats the events of the subsystems' states (those with an instance).
  std::vector<std::string> lines(const std::vector<trace_event>& events) const {
    std::vector<std::string> out;
    for (const trace_event& ev : events)
      if (ev.instance != nullptr) out.push_back(line(ev));
    return out;
  }
};

// traced_runtime is a runtime on two CPUs (TWO_CPUS) with the trace on and a log that names
// the instances made with add().
struct traced_runtime {
  std::unique_ptr<runtime> rt;
  instance_log log;
  explicit traced_runtime(const cpu_pair& cpu) : rt(two_core_runtime(cpu)) {
    rt->set_trace(true);
  }
  // add() makes an instance with make(rt) and names its nodes (the trace taken now is
  // its creation).
  template <class Make>
  auto add(const std::string& name, Make make) {
    auto made = make(*rt);
    log.learn(rt->take_trace(), name);
    return made;
  }
};

std::unique_ptr<arena> make_arena(runtime& rt) {
  std::error_code ec;
  auto a = arena::create(rt, ec);
  REQUIRE_MESSAGE(a != nullptr, "arena::create: " << ec.message());
  return a;
}

std::unique_ptr<timer_service> make_timers(runtime& rt) {
  std::error_code ec;
  auto ts = timer_service::create(rt, ec);
  REQUIRE_MESSAGE(ts != nullptr, "timer_service::create: " << ec.message());
  return ts;
}

// arena_snapshot is what must not change in an arena that another arena's failure or
// removal does not concern.
std::vector<std::uint64_t> arena_snapshot(const arena& a) {
  const arena_stats s = a.stats();
  return {s.allocated, s.freed, s.carved, s.in_core_caches, s.in_arena, s.reserved,
          s.live_caches, s.prepared_caches};
}

// exact() checks an arena's accounting once no block is held: every byte handed out came
// back (`bytes` of them, no more: the other arena's blocks never count here) and every
// block cut is cached in a core cache or in the shared arena.
void exact(const arena& a, std::uint64_t bytes, const char* where) {
  INFO(where);
  const arena_stats s = a.stats();
  CHECK(s.allocated == bytes);
  CHECK(s.freed == bytes);
  CHECK(s.allocated_small == s.freed_small);
  CHECK(s.carved == s.in_core_caches + s.in_arena);
}

// fire_table counts, per timer, how often its function ran.
struct fire_table {
  std::vector<std::atomic<int>> count;
  std::atomic<int> total{0};
  explicit fire_table(std::size_t n) : count(n) {}
  timer_service::timer_fn fn(std::size_t id) {
    return [this, id] {
      count[id].fetch_add(1, std::memory_order_relaxed);
      total.fetch_add(1, std::memory_order_release);
    };
  }
  bool wait_for(int n) {
    return wait_until([&] { return total.load(std::memory_order_acquire) >= n; }, 30s);
  }
  int not_once(std::size_t from, std::size_t to) const {
    int n = 0;
    for (std::size_t i = from; i < to; ++i) n += count[i].load(std::memory_order_relaxed) != 1;
    return n;
  }
};

std::string row_text(int state, const char* name, int instances) {
  char line[96];
  std::snprintf(line, sizeof line, "%3d: %s (%d instance%s)\n", state, name, instances,
                instances == 1 ? "" : "s");
  return line;
}

}  // namespace

TEST_CASE("two arenas and two timer services are instances of the same states: they survive "
          "1000 core down/up cycles with exact accounting, an exact event log, and every "
          "timer fires once") {
  TWO_CPUS(cpu);
  traced_runtime tr(cpu);
  auto& rt = tr.rt;
  auto& log = tr.log;
  auto a1 = tr.add("a1", make_arena);
  auto a2 = tr.add("a2", make_arena);
  auto t1 = tr.add("t1", make_timers);
  auto t2 = make_timers(*rt);
  const std::vector<trace_event> t2_created = rt->take_trace();
  log.learn(t2_created, "t2");
  // Adding an instance runs its startups on every online core, PREPARE then ONLINE, for
  // that instance only.
  CHECK(log.lines(t2_created) == on(cpu, {
                                     "up timers:prepare coreA t2", "up timers:prepare coreB t2",
                                     "up timers:online coreA t2", "up timers:online coreB t2"}));
  CHECK(log.names.size() == 8);  // two nodes each: one per state
  CHECK(a1->prepare_state() == a2->prepare_state());
  CHECK(a1->online_state() == a2->online_state());
  CHECK(t1->online_state() == t2->online_state());

  constexpr int cycles = 1000;
  constexpr int timers_per_cycle = 2;  // per service
  fire_table fired1(cycles * timers_per_cycle), fired2(cycles * timers_per_cycle);
  std::vector<void*> held1, held2;  // blocks made on core 1, freed after it went down
  std::uint64_t bytes1 = 0, bytes2 = 0;
  std::vector<std::string> expected;
  for (int i = 0; i < cycles; ++i) {
    // On core 1: blocks from each arena (a1 small, a2 larger classes, so the two sums
    // differ) and timers on each service, some due before the core leaves, some after.
    REQUIRE(run_on(*rt, cpu.b, [&] {
              for (int k = 0; k < 3; ++k) {
                const std::size_t s1 = 16 + 16 * static_cast<std::size_t>((i + k) % 8);
                const std::size_t s2 = 200 + 100 * static_cast<std::size_t>((i + k) % 30);
                held1.push_back(a1->allocate(s1));
                held2.push_back(a2->allocate(s2));
                bytes1 += arena::class_size(arena::size_class_of(s1));
                bytes2 += arena::class_size(arena::size_class_of(s2));
              }
              for (int k = 0; k < timers_per_cycle; ++k) {
                const std::size_t id = static_cast<std::size_t>(i * timers_per_cycle + k);
                const auto delay = std::chrono::microseconds(k == 0 ? 0 : 300);
                REQUIRE(t1->arm_after(delay, fired1.fn(id)));
                REQUIRE(t2->arm_after(delay, fired2.fn(id)));
              }
            }) == 1);
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->core_up(cpu.b) == 0);
    // Teardown in descending state order, each state's instances in the order added;
    // startup ascending.
    for (const char* line :
         {"down timers:online coreB t1", "down timers:online coreB t2",
          "down mm/arena:online coreB a1", "down mm/arena:online coreB a2",
          "down timers:prepare coreB t1", "down timers:prepare coreB t2",
          "down mm/arena:prepare coreB a1", "down mm/arena:prepare coreB a2",
          "up mm/arena:prepare coreB a1", "up mm/arena:prepare coreB a2",
          "up timers:prepare coreB t1", "up timers:prepare coreB t2",
          "up mm/arena:online coreB a1", "up mm/arena:online coreB a2",
          "up timers:online coreB t1", "up timers:online coreB t2"})
      expected.push_back(line_on(cpu, line));
    if (i % 100 == 99) {
      // Free on core 0 what core 1 made: a cross-core free into core 0's caches.
      REQUIRE(run_on(*rt, cpu.a, [&] {
                for (void* p : held1) a1->deallocate(p);
                for (void* p : held2) a2->deallocate(p);
              }) == 0);
      held1.clear();
      held2.clear();
    }
  }
  const std::vector<std::string> got = log.lines(rt->take_trace());
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
  rt->set_trace(false);

  REQUIRE(fired1.wait_for(cycles * timers_per_cycle));
  REQUIRE(fired2.wait_for(cycles * timers_per_cycle));
  // Nothing left queued: no timer can run again, so the counts below are final.
  REQUIRE(wait_until([&] { return t1->stats().queued == 0 && t2->stats().queued == 0; }));
  CHECK(fired1.not_once(0, fired1.count.size()) == 0);
  CHECK(fired2.not_once(0, fired2.count.size()) == 0);
  for (timer_service* ts : {t1.get(), t2.get()}) {
    const timer_stats s = ts->stats();
    CHECK(s.armed == cycles * timers_per_cycle);
    CHECK(s.fired == cycles * timers_per_cycle);
    CHECK(s.queued == 0);
    CHECK(s.wheels == 2);
    CHECK(s.attached == 2);
  }
  // Timers were pending on core 1 when it went down: they moved and still fired once.
  CHECK(t1->stats().migrated + t2->stats().migrated > 0);
  exact(*a1, bytes1, "a1 after 1000 cycles");
  exact(*a2, bytes2, "a2 after 1000 cycles");
  for (const arena* a : {a1.get(), a2.get()}) {
    CHECK(a->stats().live_caches == 2);
    CHECK(a->stats().prepared_caches == 2);
  }
}

TEST_CASE("an arena whose \"mm/arena:online\" startup fails on core N is torn down on exactly "
          "cores 0..N-1 (\"If a callback fails for CPU N then the teardown callback for CPU "
          "0 .. N-1 is invoked\"); the other two arenas are untouched") {
  TWO_CPUS(cpu);
  traced_runtime tr(cpu);
  auto& rt = tr.rt;
  auto& log = tr.log;
  auto a1 = tr.add("a1", make_arena);
  auto a2 = tr.add("a2", make_arena);
  // Both hold blocks in both cores' caches.
  std::vector<void*> held;
  for (unsigned core : rt->cores())
    REQUIRE(run_on(*rt, core, [&] {
              for (int i = 0; i < 40; ++i) {
                a1->deallocate(a1->allocate(64));
                held.push_back(a2->allocate(512));
              }
            }) == static_cast<int>(core));
  const auto before1 = arena_snapshot(*a1);
  const auto before2 = arena_snapshot(*a2);

  for (unsigned n : rt->cores()) {
    CAPTURE(n);
    REQUIRE(rt->set_fail(n, AP_ARENA_ONLINE) == 0);
    std::error_code ec;
    auto a3 = arena::create(*rt, ec);
    CHECK(a3 == nullptr);
    CHECK(ec == std::errc::resource_unavailable_try_again);
    CHECK(rt->fail(n) == -1);  // the one-shot fail fired
    const std::vector<trace_event> events = rt->take_trace();
    log.learn(events, "a3");
    // Prepare on every core; online on cores 0..N-1 and the injected failure on core N;
    // online torn down on cores 0..N-1 (rollback); then the prepare instance removed.
    std::vector<std::string> expected = on(cpu, {"up mm/arena:prepare coreA a3",
                                                 "up mm/arena:prepare coreB a3"});
    for (unsigned c : rt->cores())
      if (c < n) expected.push_back("up mm/arena:online core" + std::to_string(c) + " a3");
    expected.push_back("up mm/arena:online core" + std::to_string(n) + " a3 -> " +
                       std::to_string(-EAGAIN) + " injected");
    for (unsigned c : rt->cores())
      if (c < n)
        expected.push_back("down mm/arena:online core" + std::to_string(c) + " a3 rollback");
    expected.push_back(line_on(cpu, "down mm/arena:prepare coreA a3"));
    expected.push_back(line_on(cpu, "down mm/arena:prepare coreB a3"));
    CHECK(log.lines(events) == expected);
    // Nothing of a3 stays; a1 and a2 saw no callback and kept every cached block.
    CHECK(arena_snapshot(*a1) == before1);
    CHECK(arena_snapshot(*a2) == before2);
    CHECK(rt->states_text().find(row_text(AP_ARENA_ONLINE, "mm/arena:online", 2)) !=
          std::string::npos);
  }
  // The same with a failing startup rather than an injected one: a3's prepare fails on
  // core 1 when that core comes up, and only a3's instance on core 1 rolls back.
  REQUIRE(rt->core_down(cpu.b) == 0);
  auto a3 = tr.add("a3", make_arena);
  REQUIRE(rt->set_fail(cpu.b, ARENA_PREPARE) == 0);
  CHECK(rt->core_up(cpu.b) == -EAGAIN);
  CHECK(log.lines(rt->take_trace()).empty());  // injected before any instance ran
  REQUIRE(rt->core_up(cpu.b) == 0);
  CHECK(log.lines(rt->take_trace()) ==
        on(cpu, {
            "up mm/arena:prepare coreB a1", "up mm/arena:prepare coreB a2",
            "up mm/arena:prepare coreB a3", "up mm/arena:online coreB a1",
            "up mm/arena:online coreB a2", "up mm/arena:online coreB a3"}));
  for (unsigned core : rt->cores())
    REQUIRE(run_on(*rt, core, [&] {
              for (void* p : held) a2->deallocate(p);
              held.clear();
              a3->deallocate(a3->allocate(100));
            }) == static_cast<int>(core));
  exact(*a1, 2 * 40 * 64, "a1");
  exact(*a2, 2 * 40 * 512, "a2");
  exact(*a3, 2 * 112, "a3");
}

TEST_CASE("removing one timer service while a core churns leaves the other's timers firing "
          "exactly once; the removed one's callbacks stop and balance") {
  TWO_CPUS(cpu);
  traced_runtime tr(cpu);
  auto& rt = tr.rt;
  auto& log = tr.log;
  auto t1 = tr.add("t1", make_timers);
  auto t2 = tr.add("t2", make_timers);

  std::atomic<bool> stop{false};
  std::atomic<int> churned{0};
  std::thread churn([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (rt->core_down(cpu.b) == 0) (void)rt->core_up(cpu.b);
      churned.fetch_add(1, std::memory_order_relaxed);
    }
  });
  constexpr std::size_t n = 4000;
  fire_table fired1(n), fired2(n);
  std::vector<timer_handle> h1;
  for (std::size_t i = 0; i < n; ++i) {
    const auto delay = std::chrono::microseconds(static_cast<long>(i % 7) * 200);
    REQUIRE(t2->arm_after(delay, fired2.fn(i)));
    if (i < n / 2) h1.push_back(t1->arm_after(delay, fired1.fn(i)));
    if (i == n / 2) t1.reset();  // removed while core 1 goes down and up
    // Not a wait: the arming is spread out so that it overlaps many down/up cycles.
    if (i % 64 == 0) std::this_thread::sleep_for(100us);
  }
  REQUIRE(wait_until([&] { return churned.load(std::memory_order_relaxed) >= 20; }));
  stop.store(true, std::memory_order_relaxed);
  churn.join();
  REQUIRE(rt->core_up(cpu.b) == 0);
  REQUIRE(fired2.wait_for(static_cast<int>(n)));
  REQUIRE(wait_until([&] { return t2->stats().queued == 0; }));  // nothing left to run twice
  CHECK(fired2.not_once(0, n) == 0);
  CHECK(t2->stats().fired == n);
  CHECK(t2->stats().queued == 0);
  // t1's timers ran at most once each; those that had not were dropped with it.
  int twice = 0, dropped = 0;
  for (std::size_t i = 0; i < h1.size(); ++i) {
    const int c = fired1.count[i].load();
    twice += c > 1;
    dropped += c == 0;
    CHECK(h1[i].fired() == (c == 1));
  }
  CHECK(twice == 0);
  CHECK(fired1.total.load() + dropped == static_cast<int>(h1.size()));

  // The event log: per instance, state and core, startups and teardowns alternate; t1
  // ends with each started instance torn down, t2 with both cores up.
  std::map<std::string, int> balance;  // "t1 timers:online core1" -> ups - downs
  for (const char* t : {"t1 ", "t2 "})  // both started on both cores when created
    for (const char* state : {"timers:prepare", "timers:online"})
      for (unsigned core : {cpu.a, cpu.b})
        balance[std::string(t) + state + " core" + std::to_string(core)] = 1;
  bool alternates = true;
  const std::vector<trace_event> events = rt->take_trace();
  for (const trace_event& ev : events) {
    if (ev.instance == nullptr || ev.injected) continue;
    const std::string key = log.names.at(ev.instance) + " " + ev.name + " core" +
                            std::to_string(ev.core);
    int& b = balance[key];
    b += ev.dir == direction::up ? 1 : -1;
    alternates = alternates && (b == 0 || b == 1);
  }
  CHECK(alternates);
  CHECK(events.size() > 40);  // the churn ran through both services
  for (const auto& [key, b] : balance) {
    CAPTURE(key);
    CHECK(b == (key.rfind("t2 ", 0) == 0 ? 1 : 0));
  }
  for (const char* state : {"timers:prepare", "timers:online"})
    CHECK(balance.count(std::string("t1 ") + state + " core" + std::to_string(cpu.b)) == 1);
  rt->set_trace(false);
}

TEST_CASE("the listing shows one mm/arena pair, one timers pair and one io/uring state, each "
          "with its instance count, whatever the number of arenas, services and contexts") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  std::error_code ec;
  auto io = io_uring_state::install(*rt, ec);
  REQUIRE_MESSAGE(io != nullptr, "io_uring_state::install: " << ec.message());
  auto c1 = io_context::create(*io, ec);
  REQUIRE(c1 != nullptr);
  auto c2 = io_context::create(*io, ec);
  REQUIRE(c2 != nullptr);
  auto a1 = make_arena(*rt);
  auto a2 = make_arena(*rt);
  auto t1 = make_timers(*rt);
  auto t2 = make_timers(*rt);
  CHECK(io->state() == ONLINE_DYN);
  CHECK(t1->online_state() == ONLINE_DYN + 1);
  const std::string text = rt->states_text();
  INFO(text);
  CHECK(text.find(row_text(ARENA_PREPARE, "mm/arena:prepare", 2)) != std::string::npos);
  CHECK(text.find(row_text(TIMERS_PREPARE, "timers:prepare", 2)) != std::string::npos);
  CHECK(text.find(row_text(AP_ARENA_ONLINE, "mm/arena:online", 2)) != std::string::npos);
  CHECK(text.find(" 33: io/uring:online (2 instances)\n") != std::string::npos);
  CHECK(text.find(row_text(ONLINE_DYN + 1, "timers:online", 2)) != std::string::npos);
  // Each once: no row per arena, service or context.
  for (const char* name : {"mm/arena:prepare", "mm/arena:online", "timers:prepare",
                           "timers:online", "io/uring:online"}) {
    int rows = 0;
    for (const state_row& r : rt->states()) rows += r.name == name;
    CHECK_MESSAGE(rows == 1, name);
  }
  // Single-instance rows carry no count; the API gives -1 for them.
  CHECK(text.find(" 73: sched:active\n") != std::string::npos);
  for (const state_row& r : rt->states())
    if (r.name == "sched:active") CHECK(r.instances == -1);
  // The counts follow the instances; with none left the states stay, with 0.
  a2.reset();
  t2.reset();
  c2.reset();
  CHECK(rt->states_text().find(row_text(AP_ARENA_ONLINE, "mm/arena:online", 1)) !=
        std::string::npos);
  CHECK(rt->states_text().find(" 33: io/uring:online (1 instance)\n") != std::string::npos);
  a1.reset();
  t1.reset();
  const std::string empty = rt->states_text();
  CHECK(empty.find(row_text(ARENA_PREPARE, "mm/arena:prepare", 0)) != std::string::npos);
  CHECK(empty.find(row_text(ONLINE_DYN + 1, "timers:online", 0)) != std::string::npos);
  // A new arena finds the installed states instead of setting up new ones.
  const std::size_t rows_before = rt->states().size();
  auto a3 = make_arena(*rt);
  CHECK(rt->states_text().find(row_text(ARENA_PREPARE, "mm/arena:prepare", 1)) !=
        std::string::npos);
  CHECK(rt->states().size() == rows_before);
  a3.reset();
  c1.reset();
}
