// SPDX-License-Identifier: MIT
// tests/threads_test.cpp — where callbacks run: PREPARE on the control thread (the caller),
// STARTING and ONLINE on the core's hotplug thread, pinned to that core; the trace's
// ran_on_cpu and on_hotplug_thread fields say the same; an ONLINE callback may block.
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace hotcore_test;

namespace {

// where is one observation made inside a callback.
struct where {
  std::string tag;
  unsigned core;
  int cpu;             // sched_getcpu()
  pid_t tid;           // gettid()
  bool pinned_alone;   // the thread's affinity is exactly {core}
};

// observer makes callbacks that record where they ran.
class observer {
 public:
  callback cb(const std::string& tag) {
    return [this, tag](unsigned core) {
      record(tag, core);
      return 0;
    };
  }
  multi_callback multi_cb(const std::string& tag) {
    return [this, tag](unsigned core, instance_node*) {
      record(tag, core);
      return 0;
    };
  }
  std::vector<where> take() {
    std::lock_guard lk(_mu);
    return std::exchange(_seen, {});
  }

 private:
  void record(const std::string& tag, unsigned core) {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    const bool got = sched_getaffinity(0, sizeof mask, &mask) == 0;
    const bool alone = got && CPU_COUNT(&mask) == 1 && CPU_ISSET(core, &mask);
    where w{tag, core, sched_getcpu(), ::gettid(), alone};
    std::lock_guard lk(_mu);
    _seen.push_back(w);
  }
  std::mutex _mu;
  std::vector<where> _seen;
};

// check_placement() checks each observation against its state's section: PREPARE on the
// caller, STARTING/ONLINE on one pinned thread per core that is not the caller.
void check_placement(const std::vector<where>& seen, const std::set<std::string>& prepare_tags,
                     pid_t caller) {
  std::map<unsigned, std::set<pid_t>> hotplug_tids;
  for (const auto& w : seen) {
    INFO(w.tag << " core" << w.core << " ran on cpu" << w.cpu << " tid " << w.tid);
    if (prepare_tags.count(w.tag) != 0) {
      CHECK(w.tid == caller);
    } else {
      CHECK(w.tid != caller);
      CHECK(w.cpu == static_cast<int>(w.core));
      CHECK(w.pinned_alone);
      hotplug_tids[w.core].insert(w.tid);
    }
  }
  // One hotplug thread per core, distinct between cores.
  std::set<pid_t> all;
  for (const auto& [core, tids] : hotplug_tids) {
    INFO("core" << core);
    CHECK(tids.size() == 1u);
    all.insert(tids.begin(), tids.end());
  }
  CHECK(all.size() == hotplug_tids.size());
}

}  // namespace

TEST_CASE("PREPARE callbacks are invoked on a control CPU (the thread that asked); STARTING "
          "and ONLINE callbacks are invoked on the hotplugged CPU, by its hotplug thread pinned "
          "on it") {
  TWO_CPUS(cpu);
  observer obs;
  auto rt = make_runtime();
  REQUIRE(rt->setup_state_nocalls(ARENA_PREPARE, "thr/arena:prepare", obs.cb("prepare-up"),
                                  obs.cb("prepare-down")) == 0);
  REQUIRE(rt->setup_state_nocalls(PREPARE_DYN, "thr/dyn:prepare", obs.cb("dynprep-up"),
                                  obs.cb("dynprep-down")) == PREPARE_DYN);
  REQUIRE(rt->setup_state_nocalls(AP_USER_STARTING_1, "thr/timers:starting",
                                  obs.cb("starting-up"), obs.cb("starting-down")) == 0);
  REQUIRE(rt->setup_state_nocalls(ONLINE_DYN, "thr/x:online", obs.cb("online-up"),
                                  obs.cb("online-down")) == ONLINE_DYN);
  const std::set<std::string> prepare_tags = {"prepare-up", "prepare-down", "dynprep-up",
                                              "dynprep-down"};
  const pid_t me = ::gettid();

  for (int round = 0; round < 3; ++round)
    for (unsigned core : {cpu.b, cpu.a}) {
      CAPTURE(round);
      CAPTURE(core);
      REQUIRE(rt->core_down(core) == 0);
      REQUIRE(rt->core_up(core) == 0);
      const auto seen = obs.take();
      CHECK(seen.size() == 8u);
      for (const auto& w : seen) CHECK(w.core == core);
      check_placement(seen, prepare_tags, me);
    }

  // From another thread, the PREPARE callbacks run on that thread.
  pid_t other = 0;
  int down = -1, up = -1;
  std::thread t([&] {
    other = ::gettid();
    down = rt->core_down(cpu.b);
    up = rt->core_up(cpu.b);
  });
  t.join();
  CHECK(down == 0);
  CHECK(up == 0);
  const auto seen = obs.take();
  CHECK(seen.size() == 8u);
  check_placement(seen, prepare_tags, other);
}

TEST_CASE("ONLINE section: \"callbacks ... may block\": an ONLINE callback that waits for a task "
          "on another core and then for an outside thread runs on its core's CPU, and the walk "
          "goes on once it returns, in both directions") {
  TWO_CPUS(cpu);
  auto rt = make_runtime();
  std::atomic<int> entered{0};     // times the callback began blocking
  std::atomic<int> released{0};    // times the outside thread let it go
  std::atomic<int> callback_cpu{-1}, task_cpu{-1};
  auto blocking = [&](unsigned core) {
    if (core != cpu.b) return 0;
    callback_cpu = sched_getcpu();
    std::atomic<bool> done{false};
    if (rt->submit_on(cpu.a, [&] {
          task_cpu = sched_getcpu();
          done = true;
          done.notify_all();
        }) != 0)
      return -EIO;
    done.wait(false);  // the task on the other core ran
    const int n = entered.fetch_add(1) + 1;
    entered.notify_all();
    for (int r; (r = released.load()) < n;) released.wait(r);  // the outside thread
    return 0;
  };
  const int st = rt->setup_state_nocalls(ONLINE_DYN, "thr/blocking:online", blocking, blocking);
  REQUIRE(st == ONLINE_DYN);
  for (const int target : {static_cast<int>(OFFLINE), static_cast<int>(ONLINE)}) {
    CAPTURE(target);
    const int before = entered.load();
    callback_cpu = -1;
    task_cpu = -1;
    std::atomic<int> result{1};
    std::thread mover([&] {
      result = target == OFFLINE ? rt->core_down(cpu.b) : rt->core_up(cpu.b);
    });
    // The callback is blocked: the walk waits for it, at neither end yet.
    while (entered.load() == before) entered.wait(before);
    CHECK(result.load() == 1);
    CHECK(rt->state(cpu.b) != target);
    released.fetch_add(1);
    released.notify_all();
    mover.join();
    CHECK(result.load() == 0);
    CHECK(rt->state(cpu.b) == target);
    CHECK(callback_cpu.load() == static_cast<int>(cpu.b));
    CHECK(task_cpu.load() == static_cast<int>(cpu.a));
  }
  // Core b is up: removing the state runs its teardown there once more, let go at once.
  released.fetch_add(1);
  CHECK(rt->remove_state(st) == 0);
  CHECK(entered.load() == 3);
}

TEST_CASE("setup_state() and remove_state() invoke the callbacks either on the current CPU "
          "(PREPARE section) or on each online CPU in the context of the CPU's hotplug thread; "
          "so do add_instance() and remove_instance()") {
  TWO_CPUS(cpu);
  observer obs;
  named_node node("n");
  auto rt = make_runtime({.cores = {cpu.a, cpu.b}});  // two cores: the counts below
  const pid_t me = ::gettid();
  const std::set<std::string> prepare_tags = {"p-up", "p-down"};

  const int p = rt->setup_state(PREPARE_DYN, "thr2/p:prepare", obs.cb("p-up"), obs.cb("p-down"));
  REQUIRE(p == PREPARE_DYN);
  REQUIRE(rt->setup_state(AP_USER_STARTING_2, "thr2/s:starting", obs.cb("s-up"),
                          obs.cb("s-down")) == 0);
  const int o = rt->setup_state(ONLINE_DYN, "thr2/o:online", obs.cb("o-up"), obs.cb("o-down"));
  REQUIRE(o == ONLINE_DYN);
  auto seen = obs.take();
  CHECK(seen.size() == 6u);
  check_placement(seen, prepare_tags, me);

  const int m = rt->setup_state_multi(ONLINE_DYN, "thr2/m:online", obs.multi_cb("m-up"),
                                      obs.multi_cb("m-down"));
  REQUIRE(m == ONLINE_DYN + 1);
  REQUIRE(rt->add_instance(m, &node) == 0);
  REQUIRE(rt->remove_instance(m, &node) == 0);
  seen = obs.take();
  CHECK(seen.size() == 4u);
  check_placement(seen, prepare_tags, me);

  REQUIRE(rt->remove_state(p) == 0);
  REQUIRE(rt->remove_state(AP_USER_STARTING_2) == 0);
  REQUIRE(rt->remove_state(o) == 0);
  seen = obs.take();
  CHECK(seen.size() == 6u);
  check_placement(seen, prepare_tags, me);
}

TEST_CASE("trace fields agree with where callbacks ran: PREPARE events are not on a hotplug "
          "thread, STARTING and ONLINE events are, with ran_on_cpu == the core they served") {
  TWO_CPUS(cpu);
  observer obs;
  named_node node("n");
  auto rt = make_runtime();
  rt->set_trace(true);
  REQUIRE(rt->setup_state(ARENA_PREPARE, "trc/a:prepare", obs.cb("a"), obs.cb("a")) == 0);
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "trc/t:starting", obs.cb("t"), obs.cb("t")) == 0);
  REQUIRE(rt->setup_state(AP_USER_ONLINE, "trc/w:online", obs.cb("w"), obs.cb("w")) == 0);
  const int m = rt->setup_state_multi(ONLINE_DYN, "trc/m:online", obs.multi_cb("m"),
                                      obs.multi_cb("m"));
  REQUIRE(m == ONLINE_DYN);
  REQUIRE(rt->add_instance(m, &node) == 0);
  REQUIRE(rt->core_down(cpu.b) == 0);
  REQUIRE(rt->core_up(cpu.b) == 0);
  REQUIRE(rt->set_target(cpu.a, AP_USER_ONLINE) == 0);
  REQUIRE(rt->core_up(cpu.a) == 0);
  REQUIRE(rt->remove_instance(m, &node) == 0);
  REQUIRE(rt->remove_state(AP_USER_ONLINE) == 0);
  (void)obs.take();

  const auto events = rt->take_trace();
  CHECK(events.size() > 20u);
  std::set<int> sections_seen;
  for (const auto& ev : events) {
    INFO(trace_line(ev) << " ran_on_cpu " << ev.ran_on_cpu << " on_hotplug_thread "
                        << ev.on_hotplug_thread);
    CHECK(ev.nanoseconds >= 0);
    CHECK(ev.result == 0);
    CHECK_FALSE(ev.injected);
    CHECK_FALSE(ev.rollback);
    CHECK(ev.ran_on_cpu >= 0);
    const section sec = section_of(ev.state);
    sections_seen.insert(static_cast<int>(sec));
    if (sec == section::prepare) {
      CHECK_FALSE(ev.on_hotplug_thread);
    } else {
      CHECK(ev.on_hotplug_thread);
      CHECK(ev.ran_on_cpu == static_cast<int>(ev.core));
    }
    if (ev.state == m) {
      CHECK(ev.instance == &node);
    } else {
      CHECK(ev.instance == nullptr);
    }
  }
  CHECK(sections_seen.size() == 3u);
}
