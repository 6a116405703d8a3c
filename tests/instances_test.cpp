// SPDX-License-Identifier: MIT
// tests/instances_test.cpp — arenas and timer services as instances of multi-instance
// states ("mm/arena:prepare"/"mm/arena:online", "timers:prepare"/"timers:online"): several
// live side by side through core churn with exact accounting and exact event logs, an
// instance whose startup fails on core N is torn down on cores 0..N-1 only, removing one
// instance leaves the others alone, and the listing shows each state once with its count.
#include <array>
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
  // two_arenas() adds the arenas "a1" and "a2".
  std::pair<std::unique_ptr<arena>, std::unique_ptr<arena>> two_arenas();
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

std::pair<std::unique_ptr<arena>, std::unique_ptr<arena>> traced_runtime::two_arenas() {
  auto a1 = add("a1", make_arena);
  return {std::move(a1), add("a2", make_arena)};
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

// cycle_load is the load of the 1000-cycle case: each cycle blocks from two arenas and
// timers on two services, made on core B before it goes down; every 100 cycles the blocks
// are freed on core A.
struct cycle_load {
  static constexpr int cycles = 1000;
  static constexpr int timers_per_cycle = 2;  // per service
  runtime& rt;
  cpu_pair cpu;
  std::array<arena*, 2> arenas;
  std::array<timer_service*, 2> services;
  fire_table fired[2] = {fire_table(cycles * timers_per_cycle),
                         fire_table(cycles * timers_per_cycle)};
  std::vector<void*> held[2];  // blocks made on core B, freed after it went down
  std::uint64_t bytes[2] = {0, 0};

  cycle_load(runtime& r, const cpu_pair& c, std::array<arena*, 2> a,
             std::array<timer_service*, 2> t)
      : rt(r), cpu(c), arenas(a), services(t) {}

  // load_core_b(): on core B, blocks from each arena (the first small, the second larger
  // classes, so the two sums differ) and timers on each service, some due before the core
  // leaves, some after.
  void load_core_b(int i) {
    REQUIRE(run_on(rt, cpu.b, [&] {
              for (int k = 0; k < 3; ++k) {
                const std::size_t s1 = 16 + 16 * static_cast<std::size_t>((i + k) % 8);
                const std::size_t s2 = 200 + 100 * static_cast<std::size_t>((i + k) % 30);
                held[0].push_back(arenas[0]->allocate(s1));
                held[1].push_back(arenas[1]->allocate(s2));
                bytes[0] += arena::class_size(arena::size_class_of(s1));
                bytes[1] += arena::class_size(arena::size_class_of(s2));
              }
              for (int k = 0; k < timers_per_cycle; ++k) {
                const std::size_t id = static_cast<std::size_t>(i * timers_per_cycle + k);
                const auto delay = std::chrono::microseconds(k == 0 ? 0 : 300);
                REQUIRE(services[0]->arm_after(delay, fired[0].fn(id)));
                REQUIRE(services[1]->arm_after(delay, fired[1].fn(id)));
              }
            }) == 1);
  }

  // free_on_core_a(): frees on core A what core B made: a cross-core free into core A's
  // caches.
  void free_on_core_a() {
    REQUIRE(run_on(rt, cpu.a, [&] {
              for (void* p : held[0]) arenas[0]->deallocate(p);
              for (void* p : held[1]) arenas[1]->deallocate(p);
            }) == 0);
    held[0].clear();
    held[1].clear();
  }

  // check_timers_fired_once(): every timer fired exactly once, also those that were pending
  // on core B when it went down (they moved).
  void check_timers_fired_once() {
    constexpr int armed = cycles * timers_per_cycle;
    REQUIRE(fired[0].wait_for(armed));
    REQUIRE(fired[1].wait_for(armed));
    // Nothing left queued: no timer can run again, so the counts below are final.
    REQUIRE(wait_until(
        [&] { return services[0]->stats().queued == 0 && services[1]->stats().queued == 0; }));
    CHECK(fired[0].not_once(0, fired[0].count.size()) == 0);
    CHECK(fired[1].not_once(0, fired[1].count.size()) == 0);
    for (timer_service* ts : services) {
      const timer_stats s = ts->stats();
      CHECK(s.armed == armed);
      CHECK(s.fired == armed);
      CHECK(s.queued == 0);
      CHECK(s.wheels == 2);
      CHECK(s.attached == 2);
    }
    CHECK(services[0]->stats().migrated + services[1]->stats().migrated > 0);
  }
};

// cycle_lines() is what one down/up cycle of core B logs: teardown in descending state
// order, each state's instances in the order added; startup ascending.
std::vector<std::string> cycle_lines(const cpu_pair& cpu) {
  return on(cpu, {"down timers:online coreB t1", "down timers:online coreB t2",
                  "down mm/arena:online coreB a1", "down mm/arena:online coreB a2",
                  "down timers:prepare coreB t1", "down timers:prepare coreB t2",
                  "down mm/arena:prepare coreB a1", "down mm/arena:prepare coreB a2",
                  "up mm/arena:prepare coreB a1", "up mm/arena:prepare coreB a2",
                  "up timers:prepare coreB t1", "up timers:prepare coreB t2",
                  "up mm/arena:online coreB a1", "up mm/arena:online coreB a2",
                  "up timers:online coreB t1", "up timers:online coreB t2"});
}

// failed_arena_lines() is the log of an arena "a3" whose mm/arena:online startup failed
// (injected) on core n: prepare on every core; online on the cores before n and the
// injected failure on n; online torn down on the cores before n (rollback); then the
// prepare instance removed.
std::vector<std::string> failed_arena_lines(const cpu_pair& cpu,
                                            const std::vector<unsigned>& cores, unsigned n) {
  std::vector<std::string> expected = on(cpu, {"up mm/arena:prepare coreA a3",
                                               "up mm/arena:prepare coreB a3"});
  for (unsigned c : cores)
    if (c < n) expected.push_back("up mm/arena:online core" + std::to_string(c) + " a3");
  expected.push_back("up mm/arena:online core" + std::to_string(n) + " a3 -> " +
                     std::to_string(-EAGAIN) + " injected");
  for (unsigned c : cores)
    if (c < n)
      expected.push_back("down mm/arena:online core" + std::to_string(c) + " a3 rollback");
  expected.push_back(line_on(cpu, "down mm/arena:prepare coreA a3"));
  expected.push_back(line_on(cpu, "down mm/arena:prepare coreB a3"));
  return expected;
}

// check_t1_torn_down_t2_up() checks the trace of two timer services "t1" and "t2" through
// a churn in which t1 was removed: per instance, state and core, startups and teardowns
// alternate; t1 ends with each started instance torn down, t2 with both cores up.
void check_t1_torn_down_t2_up(const instance_log& log, const std::vector<trace_event>& events,
                              const cpu_pair& cpu) {
  std::map<std::string, int> balance;  // "t1 timers:online core1" -> ups - downs
  for (const char* t : {"t1 ", "t2 "})  // both started on both cores when created
    for (const char* state : {"timers:prepare", "timers:online"})
      for (unsigned core : {cpu.a, cpu.b})
        balance[std::string(t) + state + " core" + std::to_string(core)] = 1;
  bool alternates = true;
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
}

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
  auto& [rt, log] = tr;
  auto [a1, a2] = tr.two_arenas();
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

  cycle_load load(*rt, cpu, {a1.get(), a2.get()}, {t1.get(), t2.get()});
  std::vector<std::string> expected;
  for (int i = 0; i < cycle_load::cycles; ++i) {
    load.load_core_b(i);
    REQUIRE(rt->core_down(cpu.b) == 0);
    REQUIRE(rt->core_up(cpu.b) == 0);
    for (const std::string& line : cycle_lines(cpu)) expected.push_back(line);
    if (i % 100 == 99) load.free_on_core_a();
  }
  const std::vector<std::string> got = log.lines(rt->take_trace());
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
  rt->set_trace(false);

  load.check_timers_fired_once();
  exact(*a1, load.bytes[0], "a1 after 1000 cycles");
  exact(*a2, load.bytes[1], "a2 after 1000 cycles");
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
  auto& [rt, log] = tr;
  auto [a1, a2] = tr.two_arenas();
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
    CHECK(log.lines(events) == failed_arena_lines(cpu, rt->cores(), n));
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
  auto& [rt, log] = tr;
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

  check_t1_torn_down_t2_up(log, rt->take_trace(), cpu);
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
