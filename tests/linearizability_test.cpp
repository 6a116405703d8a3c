// SPDX-License-Identifier: MIT
// tests/linearizability_test.cpp — the task contract checked from a history: threads
// submit tasks (submit and submit_on) while cores go down and up; every submit's call and
// return, every task's start, end and core, and each core's window of taking tasks are
// recorded, then a checker verifies the history against runtime.h's guarantees.
// HOTCORE_LIN_TASKS (tasks per submitter) and HOTCORE_LIN_CYCLES (core down/up cycles
// they spread over) make a longer run.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "test_support.h"
#include "runner.h"

using namespace hotcore_test;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// task_record is one task's history; written by its submitter and by the task itself.
struct task_record {
  int wanted = -1;               // submit_on()'s core, -1 for submit()
  int ret = 1;                   // what submit returned
  std::int64_t call = 0, back = 0;  // submit called / returned
  std::atomic<std::int64_t> start{0}, end{0};
  std::atomic<int> ran_on{-2};
  std::atomic<int> runs{0};
};

// window is one stretch in which a core may take tasks: from the end of the startup of an
// ONLINE state below "sched:active" (the core is not active before it) to the start of its
// teardown (the core stopped taking tasks and its running task ended before it).
struct window {
  std::int64_t open = 0;
  std::int64_t close = INT64_MAX;
};

// down_call is one core_down() the cycler made, from call to return.
struct down_call {
  unsigned core;
  std::int64_t call, back;
  int ret;
};

struct history {
  std::mutex mu;
  std::map<unsigned, std::vector<window>> windows;
  std::vector<down_call> downs;
  // ups: when a core_up() returned (the core is active from then until the next
  // core_down() is called); the creation of the runtime counts as one for every core.
  std::vector<std::pair<unsigned, std::int64_t>> ups;
};

// active_throughout() is true when core c was surely active during [from, to]: a
// core_up() (or the creation) returned before `from` and no core_down() was called
// between that return and `to`.
bool active_throughout(const history& h, unsigned c, std::int64_t from, std::int64_t to) {
  std::int64_t up = -1;
  for (const auto& [core, back] : h.ups)
    if (core == c && back <= from && back > up) up = back;
  if (up < 0) return false;
  for (const down_call& d : h.downs)
    if (d.core == c && d.call >= up && d.call <= to) return false;
  return true;
}

// check() returns every way the history breaks the contract (empty: it holds).
// At most 20 are described; `count` counts them all.
std::vector<std::string> check(const std::vector<task_record>& tasks, history& h, long& count) {
  std::vector<std::string> bad;
  count = 0;
  auto fail = [&](std::size_t i, const std::string& what) {
    if (++count <= 20) bad.push_back("task " + std::to_string(i) + ": " + what);
  };
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const task_record& t = tasks[i];
    const int runs = t.runs.load();
    if (t.ret != 0) {
      // A refused task never runs; submit_on() refuses a core that is not active.
      if (runs != 0) fail(i, "refused (" + std::to_string(t.ret) + ") but ran");
      if (t.wanted < 0 || t.ret != -ENODEV) fail(i, "refused with " + std::to_string(t.ret));
      else if (active_throughout(h, static_cast<unsigned>(t.wanted), t.call, t.back))
        fail(i, "submit_on(" + std::to_string(t.wanted) + ") refused while the core was active throughout");
      continue;
    }
    // "Every accepted task runs exactly once."
    if (runs != 1) {
      fail(i, "accepted, ran " + std::to_string(runs) + " times");
      continue;
    }
    const std::int64_t start = t.start.load(), end = t.end.load();
    const int core = t.ran_on.load();
    if (start < t.call) fail(i, "started before submit was called");
    // No task runs on a core that is not taking tasks: [start, end] lies in one window.
    const auto it = h.windows.find(static_cast<unsigned>(core));
    const window* in = nullptr;
    if (it != h.windows.end())
      for (const window& w : it->second)
        if (w.open <= start && end <= w.close) in = &w;
    if (in == nullptr) {
      fail(i, "ran on core " + std::to_string(core) + " outside its active windows");
      continue;
    }
    if (t.wanted >= 0 && core != t.wanted) {
      // Only the core's own worker takes a submit_on() task, unless the core goes down:
      // then it moves. So the core went down between the call and the start.
      bool moved = false;
      for (const down_call& d : h.downs)
        if (static_cast<int>(d.core) == t.wanted && d.call <= start && d.back >= t.call) moved = true;
      if (!moved)
        fail(i, "submit_on(" + std::to_string(t.wanted) + ") ran on core " + std::to_string(core) +
                    " though core " + std::to_string(t.wanted) + " did not go down meanwhile");
    }
  }
  return bad;
}

// record_windows() installs an ONLINE state whose callbacks record, in h, when each core
// starts and stops taking tasks; it returns setup_state()'s result.
int record_windows(runtime& rt, history& h) {
  return rt.setup_state(
      ONLINE_DYN, "lin:online",
      [&](unsigned core) {
        std::lock_guard lk(h.mu);
        h.windows[core].push_back(window{now_ns(), INT64_MAX});
        return 0;
      },
      [&](unsigned core) {
        const std::int64_t t = now_ns();
        std::lock_guard lk(h.mu);
        h.windows[core].back().close = t;
        return 0;
      });
}

// recorded_run is the recorded run: a cycler takes random cores down and up while the
// submitters submit tasks (submit() or submit_on()); every call, move and run is recorded
// in `h` and `tasks`.
struct recorded_run {
  static constexpr int submitters = 2;
  runtime& rt;
  history& h;
  std::vector<unsigned> cores;
  const long per_thread = env_number("HOTCORE_LIN_TASKS", 20000);
  const long min_cycles = env_number("HOTCORE_LIN_CYCLES", 1000);
  std::vector<task_record> tasks =
      std::vector<task_record>(static_cast<std::size_t>(per_thread * submitters));
  std::atomic<int> finished{0};
  std::atomic<long> cycles{0};
  std::atomic<int> bad_moves{0};  // core_down/core_up results other than 0 (or -EBUSY)

  recorded_run(runtime& r, history& hist, std::vector<unsigned> c)
      : rt(r), h(hist), cores(std::move(c)) {}

  // cycle(): the cycler, until every submitter finished.
  void cycle() {
    std::mt19937 rng(7);
    while (finished.load() < submitters) {
      const unsigned c = cores[rng() % cores.size()];
      const std::int64_t call = now_ns();
      const int ret = rt.core_down(c);
      const std::int64_t back = now_ns();
      {
        std::lock_guard lk(h.mu);
        h.downs.push_back({c, call, back, ret});
      }
      if (ret != 0 && ret != -EBUSY) ++bad_moves;
      // Not waits: random stretches down and up, so that submissions meet every phase.
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
      if (rt.core_up(c) != 0) ++bad_moves;
      {
        std::lock_guard lk(h.mu);
        h.ups.emplace_back(c, now_ns());
      }
      ++cycles;
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
  }

  // submit(): submitter s, its share of the tasks.
  void submit(int s) {
    std::mt19937 rng(static_cast<unsigned>(s + 1));
    for (long k = 0; k < per_thread; ++k) {
      task_record& t = tasks[static_cast<std::size_t>(s * per_thread + k)];
      auto body = [&t, this] {
        t.start.store(now_ns());
        t.ran_on.store(rt.this_core());
        t.runs.fetch_add(1);
        for (int spin = 0; spin < 200; ++spin) __asm__ __volatile__("" ::: "memory");
        t.end.store(now_ns());
      };
      t.wanted = rng() % 2 ? static_cast<int>(cores[rng() % cores.size()]) : -1;
      t.call = now_ns();
      t.ret = t.wanted < 0 ? rt.submit(body) : rt.submit_on(static_cast<unsigned>(t.wanted), body);
      t.back = now_ns();
      // Keep pace with the cycler, so tasks are submitted across all its cycles.
      while (cycles.load() < k * min_cycles / per_thread) std::this_thread::yield();
    }
    ++finished;
  }
};

}  // namespace

TEST_CASE("the task contract holds on a recorded history: no task runs on a core that is "
          "not taking tasks, every accepted task runs exactly once, submit_on() to a core "
          "that is down is refused (-ENODEV) and a task queued on a core that goes down "
          "runs on another one") {
  TWO_CPUS(c);
  const std::vector<unsigned> cores{c.a, c.b};
  history h;  // outlives the runtime, whose teardowns write to it
  auto rt = make_runtime(runtime_options{.cores = cores});
  REQUIRE(record_windows(*rt, h) > 0);
  for (unsigned c : cores) h.ups.emplace_back(c, now_ns());  // both are up and active

  recorded_run run(*rt, h, cores);
  auto& tasks = run.tasks;
  bounded(std::chrono::seconds(240), "the recorded run", [&] {
    std::thread cycler([&] { run.cycle(); });
    std::vector<std::thread> threads;
    for (int s = 0; s < recorded_run::submitters; ++s)
      threads.emplace_back([&, s] { run.submit(s); });
    for (auto& t : threads) t.join();
    cycler.join();
    CHECK(rt->shutdown() == 0);  // returns once every accepted task has run
  });
  rt.reset();  // the last windows close

  long violations = 0;
  const std::vector<std::string> bad = check(tasks, h, violations);
  long accepted = 0, moved = 0;
  for (const auto& t : tasks) {
    accepted += t.ret == 0;
    moved += t.ret == 0 && t.wanted >= 0 && t.ran_on.load() != t.wanted;
  }
  std::printf("linearizability: %zu tasks, %ld accepted, %ld moved off their core, %ld down/up cycles, %ld violations\n",
              tasks.size(), accepted, moved, run.cycles.load(), violations);
  for (const auto& b : bad) std::printf("  %s\n", b.c_str());
  CHECK(bad.empty());
  CHECK(run.bad_moves.load() == 0);
}

TEST_CASE("a task that submit_on() accepted for a core that then goes down runs while that "
          "core stays down: nothing is left behind in the closed core's queue") {
  TWO_CPUS(c);
  auto rt = make_runtime(runtime_options{.cores = {c.a, c.b}});
  const unsigned leaving = c.b;
  const long rounds = env_number("HOTCORE_LIN_ROUNDS", 100);
  std::atomic<long> accepted{0}, ran{0};
  long stuck_rounds = 0, done_rounds = 0;
  std::mt19937 rng(3);
  for (long r = 0; r < rounds && stuck_rounds == 0; ++r, ++done_rounds) {
    REQUIRE(rt->core_up(leaving) == 0);
    // Two threads storm submit_on(leaving) while it goes down: some pushes race the close.
    std::atomic<bool> stop{false};
    std::vector<std::thread> storm;
    for (int t = 0; t < 2; ++t)
      storm.emplace_back([&] {
        for (int k = 0; k < 20000 && !stop.load(); ++k)
          if (rt->submit_on(leaving, [&ran] { ran.fetch_add(1); }) == 0) accepted.fetch_add(1);
      });
    // Not a wait: a random point inside the storm at which the core goes down.
    std::this_thread::sleep_for(std::chrono::microseconds(50 + rng() % 200));
    REQUIRE(rt->core_down(leaving) == 0);
    stop.store(true);
    for (auto& t : storm) t.join();
    // The core stays down: every accepted task has moved to the other core and runs there.
    if (!wait_until([&] { return ran.load() == accepted.load(); })) {
      ++stuck_rounds;
      std::printf("closed queue: round %ld: %ld accepted tasks did not run while core %u was down\n",
                  r, accepted.load() - ran.load(), leaving);
    }
  }
  REQUIRE(rt->core_up(leaving) == 0);  // a stuck task (if any) runs now, before the checks end
  std::printf("closed queue: %ld rounds, %ld tasks accepted, %ld rounds left tasks behind\n", done_rounds,
              accepted.load(), stuck_rounds);
  CHECK(stuck_rounds == 0);
}

int main(int argc, char** argv) {
  if (!first_two_cpus()) {
    std::puts("skipped: needs two worker cores (one goes down while the other stays)");
    return 77;
  }
  return hotcore_test::run_suite(argc, argv);
}
