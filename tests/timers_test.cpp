// SPDX-License-Identifier: MIT
// tests/timers_test.cpp — per-core timers (hotcore/timers.h): a timer fires on the worker
// of its core, exactly once, never before its deadline (CLOCK_MONOTONIC); a leaving
// core's timers move to another core and still fire once; cancel() across migrations;
// arming an earlier deadline from another thread wakes the sleeping worker; fault
// injection at "timers:prepare" and "timers:online" on each core leaves no timer behind.
#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "hotcore/timers.h"
#include "on_core.h"
#include "test_support.h"

using namespace hotcore_test;
using namespace std::chrono_literals;

namespace {

// firing records what happened to one timer: how often it ran, when, on which core.
struct firing {
  std::atomic<int> count{0};
  std::atomic<std::int64_t> at{0};
  std::atomic<int> core{-2};
  std::int64_t deadline = 0;
};

// recorder makes timer functions that fill a table of firings, one per timer id.
struct recorder {
  runtime& rt;
  std::vector<firing> table;
  std::atomic<int> total{0};
  recorder(runtime& r, std::size_t n) : rt(r), table(n) {}

  timer_service::timer_fn fn(std::size_t id) {
    return [this, id] {
      firing& f = table[id];
      f.at.store(timer_service::now_ns(), std::memory_order_relaxed);
      f.core.store(rt.this_core(), std::memory_order_relaxed);
      f.count.fetch_add(1, std::memory_order_relaxed);
      total.fetch_add(1, std::memory_order_release);
    };
  }
  timer_handle arm(timer_service& ts, std::size_t id, std::int64_t deadline) {
    table[id].deadline = deadline;
    return ts.arm_at(deadline, fn(id));
  }
  // wait_for() waits until `n` timers ran (at most `limit`); false on timeout.
  bool wait_for(int n, std::chrono::milliseconds limit = 20s) {
    return wait_until([&] { return total.load(std::memory_order_acquire) >= n; }, limit);
  }
  // all_fired_once() waits until the first `n` timers ran (REQUIRE) and checks each ran
  // exactly once, never early.
  void all_fired_once(std::size_t n) {
    REQUIRE(wait_for(static_cast<int>(n)));
    check_once_never_early(0, n);
  }
  // check_once_never_early() checks every timer in [from, to) ran exactly once, at or
  // after its deadline, on a worker core.
  void check_once_never_early(std::size_t from, std::size_t to) {
    int wrong_count = 0, early = 0, off_pool = 0;
    for (std::size_t i = from; i < to; ++i) {
      const firing& f = table[i];
      wrong_count += f.count.load() != 1 ? 1 : 0;
      early += f.count.load() > 0 && f.at.load() < f.deadline ? 1 : 0;
      off_pool += f.count.load() > 0 && f.core.load() < 0 ? 1 : 0;
    }
    CHECK(wrong_count == 0);
    CHECK(early == 0);
    CHECK(off_pool == 0);
  }
};

std::unique_ptr<timer_service> make_timers(runtime& rt) {
  std::error_code ec;
  auto ts = timer_service::create(rt, ec);
  REQUIRE_MESSAGE(ts != nullptr, "timer_service::create: " << ec.message());
  return ts;
}

unsigned cores_at_or_past(const runtime& rt, int state) {
  unsigned n = 0;
  for (unsigned core : rt.cores()) n += rt.state(core) >= state ? 1 : 0;
  return n;
}

// timed_runtime is a runtime on the default cores (two or more where two CPUs are allowed),
// a timer service on it and a recorder for up to 6000 timers: the fixture of the cases
// that need nothing else (TEST_CASE_FIXTURE; the body sees rt, ts and rec).
struct timed_runtime {
  std::unique_ptr<runtime> rt = first_two_cpus() ? multi_core_runtime() : make_runtime();
  std::unique_ptr<timer_service> ts = make_timers(*rt);
  recorder rec{*rt, 6000};
};

// settled() waits until the service holds no timer (all fired or dropped): from then on
// no timer function can run again, so a count checked after it is final.
bool settled(const timer_service& ts, std::chrono::milliseconds limit = 10s) {
  return wait_until([&] { return ts.stats().queued == 0; }, limit);
}

}  // namespace

TEST_CASE("a service is an instance of the multi-instance states \"timers:prepare\" and "
          "\"timers:online\", set up on the runtime's first service; destroying it removes "
          "the instance, the states stay") {
  auto rt = make_runtime();
  {
    auto ts = make_timers(*rt);
    CHECK(state_named(*rt, "timers:prepare") == TIMERS_PREPARE);
    CHECK(state_named(*rt, "timers:online") == ts->online_state());
    CHECK(is_dynamic(ts->online_state()));
    CHECK(ts->online_state() < AP_SCHED_ACTIVE);
    const timer_stats s = ts->stats();
    CHECK(s.wheels == rt->cores().size());
    CHECK(s.attached == rt->cores().size());
    auto second = make_timers(*rt);
    CHECK(second->online_state() == ts->online_state());
    CHECK(second->stats().wheels == rt->cores().size());
  }
  for (const state_row& r : rt->states())
    if (r.name.rfind("timers:", 0) == 0) CHECK(r.instances == 0);
  // A program's own state of the same name is not taken for the service's: the service
  // sets up its own.
  auto other = make_runtime();
  const int mine = other->setup_state_multi(ONLINE_DYN, "timers:online", nullptr, nullptr);
  REQUIRE(mine == ONLINE_DYN);
  auto ts = make_timers(*other);
  CHECK(ts->online_state() == ONLINE_DYN + 1);
  ts.reset();
  CHECK(other->remove_multi_state(mine) == 0);
}

TEST_CASE("a timer armed from a task fires on the worker of that core, exactly once, never "
          "before its deadline") {
  auto rt = make_runtime();
  auto ts = make_timers(*rt);
  constexpr std::size_t per_core = 300;
  recorder rec(*rt, per_core * rt->cores().size());
  std::vector<timer_handle> handles(rec.table.size());
  std::size_t id = 0;
  for (unsigned core : rt->cores()) {
    const std::size_t first = id;
    REQUIRE(run_on(*rt, core, [&] {
              std::mt19937 rng(core);
              for (std::size_t i = first; i < first + per_core; ++i)
                handles[i] = rec.arm(*ts, i, timer_service::now_ns() +
                                                 std::uniform_int_distribution<int>(0, 30'000'000)(rng));
            }) == static_cast<int>(core));
    id += per_core;
  }
  rec.all_fired_once(rec.table.size());
  id = 0;
  for (unsigned core : rt->cores()) {
    int elsewhere = 0;
    for (std::size_t i = id; i < id + per_core; ++i)
      elsewhere += rec.table[i].core.load() != static_cast<int>(core) ? 1 : 0;
    CHECK(elsewhere == 0);
    id += per_core;
  }
  for (const auto& h : handles) CHECK(h.fired());
  CHECK(settled(*ts));
  const timer_stats s = ts->stats();
  CHECK(s.armed == rec.table.size());
  CHECK(s.fired == rec.table.size());
}

TEST_CASE_FIXTURE(timed_runtime, "a timer armed outside the pool goes to some active core and "
                  "fires there; a past deadline fires at once") {
  REQUIRE(this_core() == -1);
  for (std::size_t i = 0; i < 100; ++i)
    (void)rec.arm(*ts, i, timer_service::now_ns() + static_cast<std::int64_t>(i) * 100'000);
  for (std::size_t i = 100; i < 200; ++i) (void)rec.arm(*ts, i, timer_service::now_ns() - 1'000'000);
  rec.all_fired_once(200);
  CHECK(settled(*ts));
}

TEST_CASE_FIXTURE(timed_runtime, "cancel(): before the deadline the timer never runs and "
                  "cancel returns true (also the second time); after it ran cancel returns "
                  "false; an empty handle gives false") {
  timer_handle late = rec.arm(*ts, 0, timer_service::now_ns() + 50'000'000);
  timer_handle soon = rec.arm(*ts, 1, timer_service::now_ns());
  CHECK(ts->cancel(late));
  CHECK(ts->cancel(late));
  REQUIRE(rec.wait_for(1));
  CHECK_FALSE(ts->cancel(soon));
  CHECK(soon.fired());
  REQUIRE(settled(*ts));  // past the cancelled deadline its wheel dropped it, unrun
  CHECK(rec.table[0].count.load() == 0);
  CHECK_FALSE(late.fired());
  CHECK(ts->stats().cancelled == 1);
  CHECK_FALSE(ts->cancel(timer_handle{}));
  // A delay past the end of the clock saturates: armed, never due, cancellable.
  timer_handle never = ts->arm_after(std::chrono::nanoseconds::max(), [] {});
  REQUIRE(never);
  CHECK(never.deadline_ns() == std::numeric_limits<std::int64_t>::max());
  CHECK(ts->cancel(never));
  timer_handle bad = ts->arm_after(1ms, nullptr);
  CHECK_FALSE(bad);
  CHECK(bad.error() == -EINVAL);
}

TEST_CASE_FIXTURE(timed_runtime, "arming an earlier deadline from another thread kicks the "
                  "sleeping worker: it fires long before the later deadline the worker was "
                  "sleeping for") {
  // Every core's worker sleeps until a deadline 5 s away.
  std::vector<timer_handle> far;
  const std::int64_t far_deadline = timer_service::now_ns() + 5'000'000'000;
  for (unsigned core : rt->cores())
    REQUIRE(run_on(*rt, core, [&] { far.push_back(ts->arm_at(far_deadline, [] {})); }) ==
            static_cast<int>(core));
  // Past the workers' spin: each sleeps in ppoll() until the far deadline.
  for (unsigned core : rt->cores())
    REQUIRE(wait_until([&] { return thread_asleep("hc-worker/" + std::to_string(core)); }));
  (void)rec.arm(*ts, 0, timer_service::now_ns() + 10'000'000);
  REQUIRE(rec.wait_for(1, 10s));
  CHECK(rec.table[0].at.load() < far_deadline);
  rec.check_once_never_early(0, 1);
  for (const auto& h : far) CHECK(ts->cancel(h));
}

TEST_CASE_FIXTURE(timed_runtime, "a timer function may arm and cancel timers; they fire on the "
                  "same core") {
  timer_handle victim;
  std::atomic<bool> cancelled{false};
  const unsigned core = rt->cores().back();
  REQUIRE(run_on(*rt, core, [&] {
            victim = rec.arm(*ts, 2, timer_service::now_ns() + 20'000'000);
            rec.table[0].deadline = timer_service::now_ns() + 1'000'000;
            ts->arm_at(rec.table[0].deadline, [&, f = rec.fn(0)] {
              f();
              cancelled = ts->cancel(victim);
              (void)rec.arm(*ts, 1, timer_service::now_ns() + 1'000'000);
            });
          }) == static_cast<int>(core));
  REQUIRE(rec.wait_for(2));
  REQUIRE(settled(*ts));  // the victim's deadline passed and its wheel dropped it
  CHECK(cancelled.load());
  CHECK(rec.table[2].count.load() == 0);
  rec.check_once_never_early(0, 2);
  CHECK(rec.table[1].core.load() == static_cast<int>(core));
}

TEST_CASE_FIXTURE(timed_runtime, "when a core goes down its pending timers move to another "
                  "online core (timers:dead) and each fires exactly once there, never early") {
  NEEDS_TWO_CPUS();
  const unsigned leaving = rt->cores()[1], staying = rt->cores()[0];
  constexpr std::size_t n = 2000;
  REQUIRE(run_on(*rt, leaving, [&] {
            for (std::size_t i = 0; i < n; ++i)
              (void)rec.arm(*ts, i, timer_service::now_ns() + 20'000'000 +
                                        static_cast<std::int64_t>(i % 700) * 1'000'000);
          }) == static_cast<int>(leaving));
  REQUIRE(rt->core_down(leaving) == 0);
  const timer_stats s = ts->stats();
  CHECK(s.migrated > 0);
  CHECK(s.wheels == rt->cores().size() - 1);
  rec.all_fired_once(n);
  int on_staying = 0;
  for (const auto& f : rec.table) on_staying += f.core.load() == static_cast<int>(staying) ? 1 : 0;
  CHECK(on_staying == static_cast<int>(s.migrated));
  REQUIRE(rt->core_up(leaving) == 0);
  CHECK(settled(*ts));
}

TEST_CASE_FIXTURE(timed_runtime, "timers fire exactly once across migrations with cores going "
                  "down and up (thousands of timers, counted per id, fire time >= deadline)") {
  NEEDS_TWO_CPUS();
  constexpr std::size_t n = 6000;
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    std::size_t round = 0;
    while (!stop.load()) {
      const unsigned core = rt->cores()[round++ % rt->cores().size()];
      // Not waits: the pace of the churn. A core stays down a while (timers move off it
      // and land elsewhere), then up a while (timers are armed on it again).
      if (rt->core_down(core) == 0) {
        std::this_thread::sleep_for(1ms);
        REQUIRE(rt->core_up(core) == 0);
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  // Armed from tasks (on whichever core they land) and from this outside thread.
  std::atomic<std::size_t> next{0};
  std::mt19937 rng(7);
  for (std::size_t batch = 0; batch < n / 100; ++batch) {
    const std::int64_t spread = std::uniform_int_distribution<std::int64_t>(0, 40'000'000)(rng);
    if (batch % 2 == 0) {
      std::atomic<bool> done{false};
      REQUIRE(rt->submit([&, spread] {
        for (int i = 0; i < 100; ++i) {
          const std::size_t id = next.fetch_add(1);
          (void)rec.arm(*ts, id, timer_service::now_ns() + spread + i * 10'000);
        }
        done.store(true);
        done.notify_one();
      }) == 0);
      done.wait(false);
    } else {
      for (int i = 0; i < 100; ++i) {
        const std::size_t id = next.fetch_add(1);
        (void)rec.arm(*ts, id, timer_service::now_ns() + spread + i * 10'000);
      }
    }
  }
  const bool all = rec.wait_for(static_cast<int>(n));
  stop.store(true);
  churn.join();
  REQUIRE(all);
  REQUIRE(settled(*ts));  // nothing left to run: a duplicate would have run by now
  rec.check_once_never_early(0, n);
  const timer_stats s = ts->stats();
  CHECK(s.armed == n);
  CHECK(s.fired == n);
  MESSAGE("migrated " << s.migrated << " of " << n << " timers");
}

TEST_CASE_FIXTURE(timed_runtime, "cancel works across a migration: a timer whose cancel() "
                  "returned true never runs, one whose cancel() returned false ran exactly once") {
  NEEDS_TWO_CPUS();
  constexpr std::size_t n = 3000;
  std::vector<timer_handle> handles(n);
  const unsigned leaving = rt->cores()[1];
  REQUIRE(run_on(*rt, leaving, [&] {
            for (std::size_t i = 0; i < n; ++i)
              handles[i] = rec.arm(*ts, i, timer_service::now_ns() + 5'000'000 +
                                               static_cast<std::int64_t>(i) * 10'000);
          }) == static_cast<int>(leaving));
  std::vector<char> stopped(n, 0);
  std::thread canceller([&] {
    for (std::size_t i = 0; i < n; i += 2) stopped[i] = ts->cancel(handles[i]) ? 1 : 0;
  });
  for (int k = 0; k < 3; ++k) {
    REQUIRE(rt->core_down(leaving) == 0);
    REQUIRE(rt->core_up(leaving) == 0);
  }
  canceller.join();
  std::size_t expect = 0;
  for (std::size_t i = 0; i < n; ++i) expect += (i % 2 == 1 || !stopped[i]) ? 1 : 0;
  REQUIRE(rec.wait_for(static_cast<int>(expect)));
  REQUIRE(settled(*ts));  // past every deadline: nothing is left that could run
  int ran_after_cancel = 0, not_once = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int c = rec.table[i].count.load();
    if (i % 2 == 0 && stopped[i]) ran_after_cancel += c;
    else not_once += c != 1 ? 1 : 0;
  }
  CHECK(ran_after_cancel == 0);
  CHECK(not_once == 0);
  CHECK(rec.total.load() == static_cast<int>(expect));
}

TEST_CASE_FIXTURE(timed_runtime, "fault injection at timers:prepare and timers:online on each "
                  "core leaves no timer behind; pending timers still fire exactly once") {
  NEEDS_TWO_CPUS();
  constexpr std::size_t per_round = 200;
  std::size_t armed = 0;
  auto arm_some = [&](unsigned core) {
    REQUIRE(run_on(*rt, core, [&] {
              for (std::size_t i = 0; i < per_round; ++i, ++armed)
                (void)rec.arm(*ts, armed, timer_service::now_ns() + 2'000'000 +
                                              static_cast<std::int64_t>(i) * 20'000);
            }) == static_cast<int>(core));
  };
  auto wheels_match = [&](const char* where) {
    INFO(where);
    const timer_stats s = ts->stats();
    CHECK(s.wheels == cores_at_or_past(*rt, ts->prepare_state()));
    CHECK(s.attached == cores_at_or_past(*rt, ts->online_state()));
  };
  for (unsigned core : rt->cores()) {
    for (int st : {ts->prepare_state(), ts->online_state()}) {
      CAPTURE(core);
      CAPTURE(st);
      arm_some(core);
      REQUIRE(rt->core_down(core) == 0);  // its timers move away
      REQUIRE(rt->set_fail(core, st) == 0);
      CHECK(rt->core_up(core) == -EAGAIN);
      CHECK(rt->state(core) < st);
      wheels_match("failed up");
      REQUIRE(rt->core_up(core) == 0);
      wheels_match("up again");
    }
    // Down: the online teardown fails; the core rolls back up and keeps its timers.
    arm_some(core);
    REQUIRE(rt->set_fail(core, ts->online_state()) == 0);
    CHECK(rt->core_down(core) == -EAGAIN);
    CHECK(rt->state(core) == ONLINE);
    wheels_match("failed down");
  }
  REQUIRE(rec.wait_for(static_cast<int>(armed)));
  REQUIRE(settled(*ts));  // nothing is left that could run twice
  rec.check_once_never_early(0, armed);
  const timer_stats s = ts->stats();
  CHECK(s.fired == armed);
  CHECK(s.queued == 0);
}

TEST_CASE("timers armed while no core is online wait, and fire once a core comes up") {
  TWO_CPUS(c);
  auto rt = offline_runtime(c);
  auto ts = make_timers(*rt);
  CHECK(ts->stats().wheels == 0);
  recorder rec(*rt, 50);
  for (std::size_t i = 0; i < 50; ++i) (void)rec.arm(*ts, i, timer_service::now_ns());
  // Held, not run: no core is online, so no wheel exists that could run them.
  CHECK(ts->stats().queued == 50);
  CHECK(ts->stats().attached == 0);
  CHECK(rec.total.load() == 0);
  REQUIRE(rt->core_up(rt->cores().front()) == 0);
  rec.all_fired_once(50);
  CHECK(settled(*ts));
}

TEST_CASE_FIXTURE(timed_runtime, "destroying the service drops pending timers without running "
                  "them; their handles stay valid and report not fired") {
  std::vector<timer_handle> handles;
  for (std::size_t i = 0; i < 100; ++i)
    handles.push_back(rec.arm(*ts, i, timer_service::now_ns() + 10'000'000'000));
  // Timers armed from outside reach their wheels at the next poll; wait until they did.
  CHECK(wait_until([&] { return ts->stats().queued == 100; }));
  ts.reset();
  CHECK(rec.total.load() == 0);
  for (const auto& h : handles) CHECK_FALSE(h.fired());
}

TEST_CASE("timers cancelled long before their deadline do not pile up: the wheel drops them "
          "at its next poll once enough were cancelled") {
  auto rt = make_runtime();
  auto ts = make_timers(*rt);
  const unsigned core = rt->cores().front();
  std::vector<timer_handle> far;
  REQUIRE(run_on(*rt, core, [&] {
            for (int i = 0; i < 1000; ++i)  // in the wheel and in its overflow list
              far.push_back(ts->arm_after(std::chrono::milliseconds(i % 2 == 0 ? 100 : 60'000), [] {}));
          }) == static_cast<int>(core));
  CHECK(ts->stats().queued == 1000);
  for (const auto& h : far) REQUIRE(ts->cancel(h));
  // Any poll of the core sweeps: make one by running a timer there.
  recorder rec(*rt, 1);
  REQUIRE(run_on(*rt, core, [&] { (void)rec.arm(*ts, 0, timer_service::now_ns()); }) ==
          static_cast<int>(core));
  REQUIRE(rec.wait_for(1));
  CHECK(settled(*ts, 2s));
  CHECK(ts->stats().cancelled == 1000);
}
