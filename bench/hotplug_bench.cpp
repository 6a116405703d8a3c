// SPDX-License-Identifier: MIT
// bench/hotplug_bench.cpp — what hotplug costs: a down+up cycle of the last core per number
// of empty ONLINE states, add/remove of one instance across the online cores, and
// cpus_read_lock() with one reader and with two readers pinned to two cores.
#include <benchmark/benchmark.h>
#include <sched.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "empty_states.h"
#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "stats.h"

namespace {

using hotcore::runtime;
using clock_type = std::chrono::steady_clock;

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

// skip_op() marks the benchmark skipped because op returned the negative errno ret.
void skip_op(benchmark::State& state, const char* op, int ret) {
  state.SkipWithError((std::string(op) + ": " + std::strerror(-ret)).c_str());
}

std::int64_t elapsed_ns(clock_type::time_point since) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - since)
      .count();
}

// report() sets items_per_second (one item per iteration) and the median and p99 of the
// per-iteration samples, in ns; the Time column is the mean ns per iteration.
void report(benchmark::State& state, std::vector<std::int64_t> samples_ns) {
  state.SetItemsProcessed(state.iterations());
  const hotcore::tools::summary s = hotcore::tools::summarize(std::move(samples_ns));
  state.counters["median_ns"] = static_cast<double>(s.median);
  state.counters["p99_ns"] = static_cast<double>(s.p99);
}

// BM_cycle: one iteration is core_down(last core) + core_up(last core), with range(0)
// empty ONLINE states registered.
void BM_cycle(benchmark::State& state) {
  runtime* rt = runtime_or_skip(state);
  if (!rt) return;
  const unsigned core = rt->cores().back();
  hotcore::tools::empty_states extra(*rt);
  if (const int ret = extra.add("bench:empty", static_cast<int>(state.range(0))); ret < 0)
    return skip_op(state, "setup_state(ONLINE_DYN)", ret);

  std::vector<std::int64_t> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    if (const int ret = rt->core_down(core); ret < 0) {
      skip_op(state, "core_down", ret);
      break;
    }
    if (const int ret = rt->core_up(core); ret < 0) {
      skip_op(state, "core_up", ret);
      break;
    }
    samples.push_back(elapsed_ns(t0));
  }
  report(state, std::move(samples));
}
// The ONLINE dynamic range holds 40 states (ONLINE_DYN_END - ONLINE_DYN), so the sweep
// stops there rather than at 64.
BENCHMARK(BM_cycle)
    ->Arg(0)
    ->Arg(8)
    ->Arg(32)
    ->Arg(hotcore::ONLINE_DYN_END - hotcore::ONLINE_DYN)
    ->UseRealTime();  // the work runs on the hotplug threads, not on the timing thread

// BM_add_remove_instance: one iteration is add_instance + remove_instance of one node of a
// multi-instance ONLINE state with empty callbacks, which runs them on every online core.
void BM_add_remove_instance(benchmark::State& state) {
  runtime* rt = runtime_or_skip(state);
  if (!rt) return;
  const auto nothing = [](unsigned, hotcore::instance_node*) { return 0; };
  const int st = rt->setup_state_multi(hotcore::ONLINE_DYN, "bench:multi", nothing, nothing);
  if (st < 0) return skip_op(state, "setup_state_multi", st);

  hotcore::instance_node node;
  std::vector<std::int64_t> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    if (const int ret = rt->add_instance(st, &node); ret < 0) {
      skip_op(state, "add_instance", ret);
      break;
    }
    if (const int ret = rt->remove_instance(st, &node); ret < 0) {
      skip_op(state, "remove_instance", ret);
      break;
    }
    samples.push_back(elapsed_ns(t0));
  }
  if (node.attached_state >= 0) (void)rt->remove_instance(st, &node);
  (void)rt->remove_multi_state(st);
  state.counters["cores"] = static_cast<double>(rt->online_cores().size());
  report(state, std::move(samples));
}
BENCHMARK(BM_add_remove_instance)->UseRealTime();

// pin_to_cpu pins the calling thread to one CPU and restores its affinity when it goes
// away (thread 0 of a multi-threaded benchmark is the main thread, which runs the rest).
class pin_to_cpu {
 public:
  explicit pin_to_cpu(unsigned cpu) {
    _saved = sched_getaffinity(0, sizeof _old, &_old) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    _pinned = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~pin_to_cpu() {
    if (_saved) (void)sched_setaffinity(0, sizeof _old, &_old);
  }
  pin_to_cpu(const pin_to_cpu&) = delete;
  pin_to_cpu& operator=(const pin_to_cpu&) = delete;
  [[nodiscard]] bool pinned() const noexcept { return _pinned; }

 private:
  cpu_set_t _old;
  bool _saved = false;
  bool _pinned = false;
};

// BM_cpus_read_lock: one iteration is cpus_read_lock() + cpus_read_unlock(). With two
// threads each is pinned to its own core: readers must not slow each other, so
// items_per_second should double and Time stay flat.
void BM_cpus_read_lock(benchmark::State& state) {
  runtime* rt = runtime_or_skip(state);
  if (!rt) return;
  std::unique_ptr<pin_to_cpu> pin;
  if (state.threads() == 2) {
    const std::vector<unsigned>& cores = rt->cores();
    pin = std::make_unique<pin_to_cpu>(
        cores[static_cast<std::size_t>(state.thread_index()) % cores.size()]);
    if (!pin->pinned()) {
      state.SkipWithError("sched_setaffinity failed");
      return;
    }
  }
  for (auto _ : state) {
    rt->cpus_read_lock();
    rt->cpus_read_unlock();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_cpus_read_lock)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
