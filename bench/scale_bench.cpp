// SPDX-License-Identifier: MIT
// bench/scale_bench.cpp — how hotcore's costs grow with the core count, on runtimes of
// 2, 4, ... 256 simulated cores (runtime_options::simulated_cores) mapped onto the CPUs
// this process may use: one core's walk, add+remove_instance across every core (one
// core after another, and with parallel_calls at once), a
// quota step (set_core_limit) to 16 cores and back (one core after another, and with
// parallel_calls together), cpus_read_lock, submit and steal.
// Every benchmark reports the figure that should stay flat as the core count grows:
// per_core_ns (an operation over every core, divided by the cores it moved or visited)
// or per_op_ns (an operation that touches one core), and vs_2_cores, that figure over
// the same benchmark's at 2 cores in this run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "hotcore/task_group.h"
#include "noop_states.h"
#include "timed_steps.h"

namespace {

using hotcore::runtime;
using hotcore::bench::clock_type;
using hotcore::bench::ns_since;
using hotcore::bench::skip_failed;

constexpr int min_cores = 2;
constexpr int max_cores = 256;
constexpr unsigned quota_floor = 16;  // the quota step's low core count (N/2 below 32)
constexpr int empty_state_count = 8;  // the walk's empty ONLINE states, as hotcore cycle

// simulated_rt() is a runtime of state.range(0) simulated cores, all online, with
// runtime_options::parallel_calls or without. One lives at a time: a new count destroys
// the last runtime, so no idle pool shares the CPUs.
runtime* simulated_rt(benchmark::State& state, bool parallel = false) {
  static std::unique_ptr<runtime> rt;
  static bool rt_parallel = false;
  const auto cores = static_cast<unsigned>(state.range(0));
  if (rt && rt->cores().size() == cores && rt_parallel == parallel) return rt.get();
  rt.reset();
  hotcore::runtime_options options;
  options.simulated_cores = cores;
  options.parallel_calls = parallel;
  rt_parallel = parallel;
  std::error_code ec;
  rt = runtime::create(options, ec);
  if (!rt) state.SkipWithError(("runtime::create(simulated_cores): " + ec.message()).c_str());
  return rt.get();
}


// report() sets p50_ns and p99_ns of one operation, `name` (per_core_ns or per_op_ns) as
// the median divided by `per`, and vs_2_cores against the figure of the same benchmark
// (`family`) at 2 cores.
void report(benchmark::State& state, const char* family, std::vector<std::int64_t> ns,
            const char* name, double per) {
  static std::map<std::string, double> at_two;  // family -> its figure at 2 cores
  if (ns.empty()) return;
  const hotcore::bench::percentiles s = hotcore::bench::percentiles_of(std::move(ns));
  const double flat = static_cast<double>(s.p50) / per;
  state.counters["p50_ns"] = static_cast<double>(s.p50);
  state.counters["p99_ns"] = static_cast<double>(s.p99);
  state.counters[name] = flat;
  state.counters["cores"] = static_cast<double>(state.range(0));
  if (state.range(0) == min_cores) at_two[family] = flat;
  if (const auto it = at_two.find(family); it != at_two.end() && it->second > 0)
    state.counters["vs_2_cores"] = flat / it->second;
}

// split() runs op once more with the trace on and sets where its time went, divided by
// `per` like the figure: callbacks_ns (every callback that ran), outside_ns (the rest of
// the wall time: hand-overs, locks, the governor; only when the callbacks did not
// overlap) and state_<name>_ns for the three costliest states.
template <class Op>
void split(benchmark::State& state, runtime& rt, double per, Op op) {
  (void)rt.take_trace();
  rt.set_trace(true);
  const auto t0 = clock_type::now();
  const bool ok = op();
  const std::int64_t wall = ns_since(t0);
  rt.set_trace(false);
  const std::vector<hotcore::trace_event> trace = rt.take_trace();
  if (!ok) return;
  std::map<std::string, std::int64_t> by_state;
  std::int64_t callbacks = 0;
  for (const hotcore::trace_event& ev : trace) {
    by_state[ev.name] += ev.nanoseconds;
    callbacks += ev.nanoseconds;
  }
  std::vector<std::pair<std::int64_t, std::string>> top;
  for (const auto& [name, ns] : by_state) top.emplace_back(ns, name);
  std::sort(top.rbegin(), top.rend());
  for (std::size_t i = 0; i < top.size() && i < 3; ++i)
    state.counters["state_" + top[i].second + "_ns"] = static_cast<double>(top[i].first) / per;
  state.counters["callbacks_ns"] = static_cast<double>(callbacks) / per;
  // With parallel_calls the callbacks of different cores overlap: their sum may exceed
  // the wall time, and the time outside them is not known.
  if (callbacks <= wall) state.counters["outside_ns"] = static_cast<double>(wall - callbacks) / per;
}

// walk: the last core down and up (core_down + core_up) with 8 empty ONLINE states.
void walk(benchmark::State& state) {
  runtime* rt = simulated_rt(state);
  if (!rt) return;
  const hotcore::bench::noop_states extra(*rt, "scale:empty", empty_state_count);
  if (extra.error() < 0) return (void)skip_failed(state, "setup_state(ONLINE_DYN)", extra.error());
  const unsigned core = rt->cores().back();
  std::vector<std::int64_t> ns = hotcore::bench::timed_core_cycles(state, *rt, core);
  split(state, *rt, 1, [&] { return rt->core_down(core) == 0 && rt->core_up(core) == 0; });
  report(state, "walk", std::move(ns), "per_op_ns", 1);
}

// add_remove_instance: one instance of a multi-instance ONLINE state with empty callbacks
// added and removed, which runs the startup and the teardown on every core; with
// parallel_calls on all cores at once.
void add_remove_instance(benchmark::State& state, const char* family, bool parallel) {
  runtime* rt = simulated_rt(state, parallel);
  if (!rt) return;
  hotcore::bench::noop_multi_state multi(*rt, "scale:multi");
  if (multi.error() < 0) return (void)skip_failed(state, "setup_state_multi", multi.error());
  const int st = multi.state();
  hotcore::instance_node& node = multi.node();
  std::vector<std::int64_t> ns = hotcore::bench::timed_instance_cycles(state, *rt, st, node);
  if (node.attached_state < 0)
    split(state, *rt, static_cast<double>(state.range(0)), [&] {
      return rt->add_instance(st, &node) == 0 && rt->remove_instance(st, &node) == 0;
    });
  report(state, family, std::move(ns), "per_core_ns",
         static_cast<double>(state.range(0)));
}

// quota_step: set_core_limit(M) then set_core_limit(0), M = 16 (N/2 below 32 cores): N - M
// cores go down and come back up through the governor; with parallel_calls, together.
void quota_step(benchmark::State& state, const char* family, bool parallel) {
  runtime* rt = simulated_rt(state, parallel);
  if (!rt) return;
  const auto n = static_cast<unsigned>(state.range(0));
  const unsigned m = n >= 2 * quota_floor ? quota_floor : n / 2;
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    if (const int ret = rt->set_core_limit(m); ret < 0) return (void)skip_failed(state, "set_core_limit(M)", ret);
    if (const int ret = rt->set_core_limit(0); ret < 0) return (void)skip_failed(state, "set_core_limit(0)", ret);
    ns.push_back(ns_since(t0));
  }
  split(state, *rt, n - m, [&] { return rt->set_core_limit(m) == 0 && rt->set_core_limit(0) == 0; });
  if (rt->online_cores().size() != n) return (void)skip_failed(state, "cores back up", -EIO);
  state.counters["moved"] = n - m;
  report(state, family, std::move(ns), "per_core_ns", n - m);
}

// cpus_read_lock: cpus_read_lock() + cpus_read_unlock() from the benchmark thread, 1024
// pairs an iteration.
void cpus_read_lock(benchmark::State& state) {
  runtime* rt = simulated_rt(state);
  if (!rt) return;
  constexpr int pairs = 1024;
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    for (int i = 0; i < pairs; ++i) {
      rt->cpus_read_lock();
      rt->cpus_read_unlock();
    }
    ns.push_back(ns_since(t0));
  }
  report(state, "cpus_read_lock", std::move(ns), "per_op_ns", pairs);
}

// submit: 4096 empty tasks submitted from the benchmark thread (outside the pool), and the
// wait until every one ran.
void submit(benchmark::State& state) {
  runtime* rt = simulated_rt(state);
  if (!rt) return;
  constexpr unsigned tasks = 4096;
  // Static: the last task may still be in notify_one() when the wait returns.
  static std::atomic<unsigned> ran{0};
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    ran.store(0, std::memory_order_relaxed);
    const auto t0 = clock_type::now();
    for (unsigned i = 0; i < tasks; ++i)
      if (const int ret = rt->submit([] {
            // release/acquire: the waiter below sees every task's count.
            if (ran.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) ran.notify_one();
          });
          ret < 0)
        return (void)skip_failed(state, "submit", ret);
    for (unsigned seen = ran.load(std::memory_order_acquire); seen != tasks;
         seen = ran.load(std::memory_order_acquire))
      ran.wait(seen, std::memory_order_acquire);
    ns.push_back(ns_since(t0));
  }
  report(state, "submit", std::move(ns), "per_op_ns", tasks);
}

// fork_tree() is a binary fork-join tree of `depth` levels, every node a task of a task_group:
// idle workers steal the halves.
void fork_tree(runtime& rt, int depth) {
  if (depth == 0) return;
  hotcore::task_group g(rt);
  g.run([&rt, depth] { fork_tree(rt, depth - 1); });
  fork_tree(rt, depth - 1);
  g.wait();
}

// steal: a binary fork-join tree of 2^12 - 1 tasks run from a root task on core 0; the
// other cores' workers steal its halves. stolen_per_task is tasks taken from other cores'
// queues per task of the tree.
void steal(benchmark::State& state) {
  runtime* rt = simulated_rt(state);
  if (!rt) return;
  constexpr int depth = 12;
  constexpr double tree_tasks = (1 << depth) - 1;
  const auto stolen = [rt] {
    std::uint64_t n = 0;
    for (const hotcore::core_stats& c : rt->stats().cores) n += c.tasks_stolen;
    return n;
  };
  const std::uint64_t stolen_before = stolen();
  // Static: the root task may still be in notify_one() when the last wait returns.
  static std::atomic<unsigned> roots_done{0};
  roots_done.store(0, std::memory_order_relaxed);
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    const unsigned before = roots_done.load(std::memory_order_relaxed);
    const auto t0 = clock_type::now();
    if (const int ret = rt->submit_on(0, [rt] {
          fork_tree(*rt, depth);
          roots_done.fetch_add(1, std::memory_order_release);  // the wait below acquires it
          roots_done.notify_one();
        });
        ret < 0)
      return (void)skip_failed(state, "submit_on", ret);
    roots_done.wait(before, std::memory_order_acquire);
    ns.push_back(ns_since(t0));
  }
  state.counters["stolen_per_task"] =
      static_cast<double>(stolen() - stolen_before) / (tree_tasks * static_cast<double>(state.iterations()));
  report(state, "steal", std::move(ns), "per_op_ns", tree_tasks);
}

// scale_sweep() gives a benchmark the core counts 2, 4, ... 256, named cores:N.
void scale_sweep(benchmark::internal::Benchmark* b) {
  b->ArgName("cores");
  for (int n = min_cores; n <= max_cores; n *= 2) b->Arg(n);
  b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(walk)->Name("scale_walk")->Apply(scale_sweep);
BENCHMARK_CAPTURE(add_remove_instance, serial, "add_remove_instance", false)
    ->Name("scale_add_remove_instance")
    ->Apply(scale_sweep);
BENCHMARK_CAPTURE(add_remove_instance, parallel, "add_remove_instance_parallel", true)
    ->Name("scale_add_remove_instance_parallel")
    ->Apply(scale_sweep);
BENCHMARK_CAPTURE(quota_step, serial, "quota_step", false)->Name("scale_quota_step")->Apply(scale_sweep);
BENCHMARK_CAPTURE(quota_step, parallel, "quota_step_parallel", true)
    ->Name("scale_quota_step_parallel")
    ->Apply(scale_sweep);
BENCHMARK(cpus_read_lock)->Name("scale_cpus_read_lock")->Apply(scale_sweep);
BENCHMARK(submit)->Name("scale_submit")->Apply(scale_sweep);
BENCHMARK(steal)->Name("scale_steal")->Apply(scale_sweep);

}  // namespace

BENCHMARK_MAIN();
