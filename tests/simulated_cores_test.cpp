// SPDX-License-Identifier: MIT
// tests/simulated_cores_test.cpp — runtime_options::simulated_cores: more worker cores than
// the machine has PUs, mapped round-robin onto the allowed CPUs, each core's threads on
// cpu_of(core); walks, callbacks, tasks, the core limit and refused combinations.
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <set>
#include <vector>

#include "cpu1_hold.h"
#include "test_support.h"

namespace {

using namespace hotcore_test;

constexpr unsigned simulated = 64;

const cpu1_hold hold_cpu1;

runtime_options simulated_options(unsigned n = simulated) {
  runtime_options o;
  o.simulated_cores = n;
  return o;
}

// cpu_log records, per core and direction, the CPUs a callback ran on.
class cpu_log {
 public:
  explicit cpu_log(unsigned cores) : _up(cores), _down(cores) {}
  callback cb(bool up) {
    return [this, up](unsigned core) {
      const int cpu = ::sched_getcpu();
      std::lock_guard lk(_mutex);
      (up ? _up : _down).at(core).insert(cpu);
      return 0;
    };
  }
  multi_callback multi_cb(bool up) {
    return [this, up](unsigned core, instance_node*) { return cb(up)(core); };
  }
  // ran_on() is the set of CPUs core's callbacks of one direction ran on.
  std::set<int> ran_on(unsigned core, bool up) {
    std::lock_guard lk(_mutex);
    return (up ? _up : _down).at(core);
  }
  void clear() {
    std::lock_guard lk(_mutex);
    for (auto& s : _up) s.clear();
    for (auto& s : _down) s.clear();
  }

 private:
  std::mutex _mutex;
  std::vector<std::set<int>> _up, _down;
};

// wait_for_count() waits until counter reaches n (tasks bump and notify it).
void wait_for_count(std::atomic<unsigned>& counter, unsigned n) {
  for (unsigned seen = counter.load(std::memory_order_acquire); seen < n;
       seen = counter.load(std::memory_order_acquire))
    counter.wait(seen, std::memory_order_acquire);
}

TEST_CASE("simulated_cores: 64 cores numbered 0..63 come up, core i on the i-th allowed CPU "
          "round-robin, each with its own hotplug thread and worker") {
  const std::vector<unsigned> cpus = allowed_cpus();
  REQUIRE(!cpus.empty());
  const int threads_before = thread_count();
  auto rt = make_runtime(simulated_options());
  CHECK(rt->simulated());
  REQUIRE(rt->cores().size() == simulated);
  for (unsigned i = 0; i < simulated; ++i) {
    CHECK(rt->cores()[i] == i);
    CHECK(rt->cpu_of(i) == static_cast<int>(cpus[i % cpus.size()]));
    CHECK(rt->state(i) == ONLINE);
  }
  CHECK(rt->online_cores().size() == simulated);
  CHECK(rt->cpu_of(simulated) == -EINVAL);
  CHECK(rt->state(simulated) == -EINVAL);
  // One hotplug thread and one worker per core, nothing else.
  CHECK(settle_thread_count(threads_before + 2 * static_cast<int>(simulated)) ==
        threads_before + 2 * static_cast<int>(simulated));
  rt.reset();
  CHECK(settle_thread_count(threads_before) == threads_before);
}

TEST_CASE("without simulated_cores cpu_of() is the core's own number") {
  auto rt = make_runtime();
  CHECK_FALSE(rt->simulated());
  for (unsigned core : rt->cores()) CHECK(rt->cpu_of(core) == static_cast<int>(core));
}

TEST_CASE("The startup callbacks in this section are invoked on the hotplugged CPU: every "
          "simulated core walks down and up, its STARTING and ONLINE callbacks on cpu_of(core)") {
  cpu_log starting(simulated), online(simulated);  // outlives rt: its teardowns use it
  auto rt = make_runtime(simulated_options());
  REQUIRE(rt->setup_state(AP_USER_STARTING_1, "sim/t:starting", starting.cb(true),
                          starting.cb(false)) == 0);
  const int o = rt->setup_state(ONLINE_DYN, "sim/w:online", online.cb(true), online.cb(false));
  REQUIRE(o >= ONLINE_DYN);
  // setup_state ran the startups on every core already: on each core's CPU.
  for (unsigned core = 0; core < simulated; ++core) {
    const std::set<int> want{rt->cpu_of(core)};
    CHECK(starting.ran_on(core, true) == want);
    CHECK(online.ran_on(core, true) == want);
  }
  starting.clear();
  online.clear();
  rt->set_trace(true);
  for (unsigned core = 0; core < simulated; ++core) {
    INFO("core " << core);
    REQUIRE(rt->core_down(core) == 0);
    CHECK(rt->state(core) == OFFLINE);
    CHECK_FALSE(rt->core_active(core));
    REQUIRE(rt->core_up(core) == 0);
    CHECK(rt->state(core) == ONLINE);
  }
  rt->set_trace(false);
  for (unsigned core = 0; core < simulated; ++core) {
    INFO("core " << core);
    const std::set<int> want{rt->cpu_of(core)};
    CHECK(starting.ran_on(core, true) == want);
    CHECK(starting.ran_on(core, false) == want);
    CHECK(online.ran_on(core, true) == want);
    CHECK(online.ran_on(core, false) == want);
  }
  // The trace says the same of the runtime's own STARTING and ONLINE rows.
  const std::vector<trace_event> events = rt->take_trace();
  std::set<unsigned> cores_seen;
  for (const trace_event& ev : events) {
    if (section_of(ev.state) == section::prepare) continue;
    INFO(trace_line(ev) << " ran_on_cpu " << ev.ran_on_cpu);
    CHECK(ev.on_hotplug_thread);
    CHECK(ev.ran_on_cpu == rt->cpu_of(ev.core));
    cores_seen.insert(ev.core);
  }
  CHECK(cores_seen.size() == simulated);
  REQUIRE(rt->remove_state(o) == 0);
  REQUIRE(rt->remove_state(AP_USER_STARTING_1) == 0);
}

TEST_CASE("add_instance runs the startup once on every simulated core, on its CPU; "
          "remove_instance the teardown") {
  cpu_log log(simulated);  // outlives rt: its teardowns use it
  auto rt = make_runtime(simulated_options());
  const int m = rt->setup_state_multi(ONLINE_DYN, "sim/m:online", log.multi_cb(true),
                                      log.multi_cb(false));
  REQUIRE(m >= ONLINE_DYN);
  instance_node node;
  REQUIRE(rt->add_instance(m, &node) == 0);
  REQUIRE(rt->remove_instance(m, &node) == 0);
  for (unsigned core = 0; core < simulated; ++core) {
    const std::set<int> want{rt->cpu_of(core)};
    CHECK(log.ran_on(core, true) == want);
    CHECK(log.ran_on(core, false) == want);
  }
  REQUIRE(rt->remove_multi_state(m) == 0);
}

TEST_CASE("tasks submitted to simulated cores run exactly once: submit_on(core) on that core's "
          "worker, on cpu_of(core)") {
  constexpr unsigned tasks = 20000;
  std::vector<std::atomic<int>> ran_core(simulated), ran_cpu(simulated);
  std::vector<std::atomic<unsigned>> runs(tasks);
  std::atomic<unsigned> done{0}, finished{0};
  auto rt = make_runtime(simulated_options());  // destroyed first: its tasks use the above
  for (unsigned core = 0; core < simulated; ++core) {
    ran_core[core].store(-1);
    REQUIRE(rt->submit_on(core, [&, core] {
      ran_core[core].store(rt->this_core(), std::memory_order_relaxed);
      ran_cpu[core].store(::sched_getcpu(), std::memory_order_relaxed);
      done.fetch_add(1, std::memory_order_release);
      done.notify_all();
    }) == 0);
  }
  wait_for_count(done, simulated);
  for (unsigned core = 0; core < simulated; ++core) {
    INFO("core " << core);
    CHECK(ran_core[core].load() == static_cast<int>(core));
    CHECK(ran_cpu[core].load() == rt->cpu_of(core));
  }
  // submit(): every task once, whichever core runs it.
  for (unsigned i = 0; i < tasks; ++i)
    REQUIRE(rt->submit([&, i] {
      runs[i].fetch_add(1, std::memory_order_relaxed);
      finished.fetch_add(1, std::memory_order_release);
      finished.notify_all();
    }) == 0);
  wait_for_count(finished, tasks);
  unsigned once = 0;
  for (auto& r : runs) once += r.load() == 1 ? 1 : 0;
  CHECK(once == tasks);
}

TEST_CASE("set_core_limit(16) takes the 48 highest simulated cores down and tasks run on the "
          "16 left; lifting the limit brings the 48 back") {
  std::atomic<unsigned> finished{0}, outside{0};
  auto rt = make_runtime(simulated_options());  // destroyed first: its tasks use the above
  REQUIRE(rt->set_core_limit(16) == 0);
  CHECK(rt->core_limit() == 16u);
  std::vector<unsigned> first16;
  for (unsigned i = 0; i < 16; ++i) first16.push_back(i);
  CHECK(rt->online_cores() == first16);
  constexpr unsigned tasks = 2000;
  for (unsigned i = 0; i < tasks; ++i)
    REQUIRE(rt->submit([&] {
      if (rt->this_core() < 0 || rt->this_core() >= 16) outside.fetch_add(1);
      finished.fetch_add(1, std::memory_order_release);
      finished.notify_all();
    }) == 0);
  wait_for_count(finished, tasks);
  CHECK(outside.load() == 0u);
  CHECK(rt->submit_on(40, [] {}) == -ENODEV);
  REQUIRE(rt->set_core_limit(0) == 0);
  CHECK(rt->online_cores().size() == simulated);
  for (unsigned core = 0; core < simulated; ++core) CHECK(rt->core_active(core));
}

TEST_CASE("simulated_cores over the CPUs listed in `cores`: every core on that one CPU") {
  const std::vector<unsigned> cpus = allowed_cpus();
  REQUIRE(!cpus.empty());
  const unsigned cpu = cpus.back();
  runtime_options o = simulated_options(8);
  o.cores = {cpu};
  cpu_log log(8);  // outlives rt: its teardowns use it
  auto rt = make_runtime(o);
  const int s = rt->setup_state(ONLINE_DYN, "sim/one:online", log.cb(true), log.cb(false));
  REQUIRE(s >= ONLINE_DYN);
  for (unsigned core = 0; core < 8; ++core) {
    CHECK(rt->cpu_of(core) == static_cast<int>(cpu));
    CHECK(log.ran_on(core, true) == std::set<int>{static_cast<int>(cpu)});
  }
  REQUIRE(rt->remove_state(s) == 0);
}

TEST_CASE("bad simulated_cores values are refused and start nothing: over max_simulated_cores "
          "EINVAL; with physical, follow_cpu_hotplug or follow_affinity EOPNOTSUPP") {
  const int threads_before = thread_count();
  std::error_code ec;
  CHECK(runtime::create(simulated_options(max_simulated_cores + 1), ec) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
  runtime_options physical = simulated_options();
  physical.physical = true;
  CHECK(runtime::create(physical, ec) == nullptr);
  CHECK(ec == std::errc::operation_not_supported);
  runtime_options uevents = simulated_options();
  uevents.follow_cpu_hotplug = true;
  CHECK(runtime::create(uevents, ec) == nullptr);
  CHECK(ec == std::errc::operation_not_supported);
  runtime_options affinity = simulated_options();
  affinity.follow_affinity = true;
  CHECK(runtime::create(affinity, ec) == nullptr);
  CHECK(ec == std::errc::operation_not_supported);
  CHECK(thread_count() == threads_before);
}

TEST_CASE("a quota follower on simulated cores refuses keep_together, which reads the "
          "topology by core number (EOPNOTSUPP), and leaves the cores as they were") {
  auto rt = make_runtime(simulated_options(8));
  quota_follower_options opts;
  opts.leave = leave_policy::keep_together;
  std::error_code ec;
  auto follower = quota_follower::create(*rt, opts, ec);
  REQUIRE(follower != nullptr);
  CHECK(follower->enable() == -EOPNOTSUPP);
  CHECK_FALSE(follower->enabled());
  CHECK(rt->online_cores().size() == 8u);
}

// meet() is a task of a rendezvous: it arrives and waits until `total` tasks arrived, so
// `total` tasks finish only if that many workers run them at once. Past `limit` it gives
// up (and counts a failure), so that a lost wake-up fails the case instead of hanging it.
void meet(std::atomic<unsigned>& arrived, std::atomic<unsigned>& gave_up, unsigned total,
          std::chrono::steady_clock::time_point limit) {
  arrived.fetch_add(1, std::memory_order_acq_rel);
  while (arrived.load(std::memory_order_acquire) < total)
    if (std::chrono::steady_clock::now() > limit) {
      gave_up.fetch_add(1, std::memory_order_relaxed);
      return;
    } else {
      std::this_thread::yield();
    }
}

TEST_CASE("tasks that wait for one another on 64 sleeping simulated cores all run at once: "
          "a worker that takes a task and blocks hands the search to a sleeper while tasks "
          "are queued (submitted from outside, and spawned inside a task)") {
  constexpr unsigned total = 32;
  std::atomic<unsigned> arrived{0}, gave_up{0}, finished{0};
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto rt = make_runtime(simulated_options());  // destroyed first: its tasks use the above
  for (unsigned i = 0; i < total; ++i)
    REQUIRE(rt->submit([&] {
      meet(arrived, gave_up, total, limit);
      finished.fetch_add(1, std::memory_order_release);
      finished.notify_all();
    }) == 0);
  wait_for_count(finished, total);
  CHECK(gave_up.load() == 0);
  // The same from one task's deque: the other workers must steal every one.
  arrived.store(0);
  REQUIRE(rt->submit([&] {
    hotcore::task_group g(*rt);
    for (unsigned i = 0; i + 1 < total; ++i) g.run([&] { meet(arrived, gave_up, total, limit); });
    meet(arrived, gave_up, total, limit);
    g.wait();
    finished.fetch_add(1, std::memory_order_release);
    finished.notify_all();
  }) == 0);
  wait_for_count(finished, total + 1);
  CHECK(arrived.load() == total);
  CHECK(gave_up.load() == 0);
}

}  // namespace
