// SPDX-License-Identifier: MIT
// bench/hotplug_bench.cpp — what hotplug costs: a down+up cycle of the last core per number
// of empty ONLINE states, the same cycle called from an application thread with and
// without the subsystems up, and add/remove of one instance across 1, 2, ... N cores
// (bench/lock_bench.cpp measures cpus_read_lock()).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include "allowed_cpus.h"
#include "app_cycle.h"
#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "noop_states.h"
#include "timed_steps.h"

namespace {

using hotcore::bench::allowed_cpus;
using hotcore::bench::skip_failed;
using hotcore::runtime;

// the_runtime() is the process's one runtime, created on first use with every core online;
// nullptr (and the reason in ec) if create() failed.
runtime* the_runtime(std::error_code& ec) {
  static std::error_code create_ec;
  static const std::unique_ptr<runtime> rt = runtime::create({}, create_ec);
  ec = create_ec;
  return rt.get();
}

// runtime_or_skip() is the_runtime(), or nullptr after marking the benchmark skipped.
runtime* runtime_or_skip(benchmark::State& state) {
  std::error_code ec;
  runtime* rt = the_runtime(ec);
  if (!rt) state.SkipWithError(("runtime::create: " + ec.message()).c_str());
  return rt;
}

// report() sets items_per_second (one item per iteration) and the median and p99 of the
// per-iteration samples, in ns; the Time column is the mean ns per iteration.
void report(benchmark::State& state, std::vector<std::int64_t> samples_ns) {
  state.SetItemsProcessed(state.iterations());
  const hotcore::bench::percentiles s = hotcore::bench::percentiles_of(std::move(samples_ns));
  state.counters["median_ns"] = static_cast<double>(s.p50);
  state.counters["p99_ns"] = static_cast<double>(s.p99);
}

// BM_cycle: one iteration is core_down(last core) + core_up(last core), with range(0)
// empty ONLINE states registered.
void BM_cycle(benchmark::State& state) {
  runtime* rt = runtime_or_skip(state);
  if (!rt) return;
  const unsigned core = rt->cores().back();
  const hotcore::bench::noop_states extra(*rt, "bench:empty", static_cast<int>(state.range(0)));
  if (extra.error() < 0) return (void)skip_failed(state, "setup_state(ONLINE_DYN)", extra.error());
  report(state, hotcore::bench::timed_core_cycles(state, *rt, core));
}
// The ONLINE dynamic range holds 40 states (ONLINE_DYN_END - ONLINE_DYN), so the sweep
// stops there rather than at 64.
BENCHMARK(BM_cycle)
    ->Arg(0)
    ->Arg(8)
    ->Arg(32)
    ->Arg(hotcore::ONLINE_DYN_END - hotcore::ONLINE_DYN)
    ->UseRealTime();  // the work runs on the hotplug threads, not on the timing thread

// BM_app_cycle: one iteration is 100 cycles of core_down(last core) + core_up(last core)
// called from a thread of the application's own, with the io_uring ring, the arena and
// the timer service up when range(0) = 1. The thread runs on a control CPU (the others),
// or with range(1) = 1 on the core's own CPU, where each hand-over to the core's hotplug
// thread is a context switch. Time is the mean cycle; mean_ns, p50_ns and p99_ns are over
// every cycle.
void BM_app_cycle(benchmark::State& state) {
  runtime* rt = runtime_or_skip(state);
  if (!rt) return;
  hotcore::bench::run_app_cycles(state, *rt, 100, state.range(0) != 0, false,
                                 state.range(1) != 0 ? hotcore::tools::caller_place::core_cpu
                                                     : hotcore::tools::caller_place::control_cpu);
}
BENCHMARK(BM_app_cycle)
    ->ArgNames({"subsystems", "same_cpu"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Iterations(10)
    ->UseManualTime();

// BM_add_remove_instance: one iteration is add_instance + remove_instance of one node of a
// multi-instance ONLINE state with empty callbacks, on a runtime of range(0) cores (the
// first allowed CPUs), which runs the callbacks on each of them: one core after another,
// or with range(1) = 1 (runtime_options::parallel_calls) on all cores at once. The issue's
// goal: across all cores at most 2x what one core costs; compare median_ns of cores:1 with
// cores:N.
void BM_add_remove_instance(benchmark::State& state) {
  const std::vector<unsigned> cpus = allowed_cpus();
  const auto want = static_cast<std::size_t>(state.range(0));
  if (cpus.size() < want) {
    state.SkipWithError("fewer allowed CPUs than cores asked for");
    return;
  }
  hotcore::runtime_options options;
  options.cores.assign(cpus.begin(), cpus.begin() + static_cast<std::ptrdiff_t>(want));
  options.parallel_calls = state.range(1) != 0;
  std::error_code ec;
  const std::unique_ptr<runtime> rt = runtime::create(options, ec);
  if (!rt) {
    state.SkipWithError(("runtime::create: " + ec.message()).c_str());
    return;
  }
  hotcore::bench::noop_multi_state multi(*rt, "bench:multi");
  if (multi.error() < 0) return (void)skip_failed(state, "setup_state_multi", multi.error());
  std::vector<std::int64_t> samples =
      hotcore::bench::timed_instance_cycles(state, *rt, multi.state(), multi.node());
  state.counters["cores"] = static_cast<double>(rt->online_cores().size());
  report(state, std::move(samples));
}
BENCHMARK(BM_add_remove_instance)
    ->ArgsProduct({benchmark::CreateDenseRange(1, static_cast<int>(allowed_cpus().size()), 1),
                   {0, 1}})
    ->ArgNames({"cores", "parallel"})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
