// SPDX-License-Identifier: MIT
// bench/core_cost_bench.cpp — what one core costs to take away and give back, at every
// layer, in one table: hotcore's logical down+up (8 empty ONLINE states) at each core
// count, the physical down+up of cpu1 split into the kernel's part (the write to
// cpu1/online) and hotcore's, and a oneTBB arena re-initialised at one thread fewer and
// back; and add_instance + remove_instance across 1, 2, 4, ... cores, which grows with the
// core count while the callbacks run one core after another; and the logical down+up
// called from an application thread of its own, with and without an io_uring ring, an
// arena and a timer service up. Counters are in microseconds: p50_us and p99_us per
// down+up (and mean_us for the application thread); kernel_p50_us and runtime_p50_us for
// the physical split.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "allowed_cpus.h"
#include "app_cycle.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"
#include "noop_states.h"
#include "sched_pools.h"
#include "timed_steps.h"

namespace sched_bench {
namespace {

using hotcore::bench::clock_type;
using hotcore::bench::ns_since;
using hotcore::bench::skip_failed;
constexpr int empty_state_count = 8;

// set_us() stores the median and p99 of ns samples as counters name_p50_us, name_p99_us.
void set_us(benchmark::State& state, const std::string& name, std::vector<std::int64_t> ns) {
  const hotcore::bench::percentiles s = hotcore::bench::percentiles_of(std::move(ns));
  state.counters[name + "p50_us"] = static_cast<double>(s.p50) / 1e3;
  state.counters[name + "p99_us"] = static_cast<double>(s.p99) / 1e3;
}

// down_up() takes core down and up again and returns the time of both, or a negative errno.
std::int64_t down_up(benchmark::State& state, hotcore::runtime& rt, unsigned core) {
  const auto t0 = clock_type::now();
  if (const int ret = rt.core_down(core); ret < 0) return skip_failed(state, "core_down", ret), ret;
  if (const int ret = rt.core_up(core); ret < 0) return skip_failed(state, "core_up", ret), ret;
  return ns_since(t0);
}

// logical: the last of `cores` worker cores down and up, the caller outside the pool.
void logical(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  const hotcore::bench::noop_states extra(*rt, "cost:empty", empty_state_count);
  if (extra.error() < 0) return (void)skip_failed(state, "setup_state(ONLINE_DYN)", extra.error());
  set_us(state, "", hotcore::bench::timed_core_cycles(state, *rt, rt->cores().back()));
}

// app_thread: the last of all worker cores down and up from an application thread, 100
// cycles an iteration; with range(1) = 1 the subsystems are up.
void app_thread(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  hotcore::bench::run_app_cycles(state, *rt, 100, state.range(1) != 0, true);
}

// add_remove_instance: add_instance + remove_instance of one node of a multi-instance
// ONLINE state with empty callbacks, which runs them on each of the `cores` online cores.
void add_remove_instance(benchmark::State& state) {
  hotcore::runtime* rt = hotcore_rt(state);
  if (!rt) return;
  hotcore::bench::noop_multi_state multi(*rt, "cost:multi");
  if (multi.error() < 0) return (void)skip_failed(state, "setup_state_multi", multi.error());
  set_us(state, "", hotcore::bench::timed_instance_cycles(state, *rt, multi.state(), multi.node()));
}

// cpu1_lock holds /tmp/hotcore-cpu1.lock (every program that takes cpu1 offline takes it
// first) and, when it goes, puts cpu1 back online whatever happened.
class cpu1_lock {
 public:
  cpu1_lock() : _fd(::open("/tmp/hotcore-cpu1.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (_fd >= 0 && ::flock(_fd, LOCK_EX) != 0) {
      ::close(_fd);
      _fd = -1;
    }
  }
  ~cpu1_lock() {
    if (_fd < 0) return;
    const int online = ::open("/sys/devices/system/cpu/cpu1/online", O_WRONLY | O_CLOEXEC);
    if (online >= 0) {
      (void)!::write(online, "1", 1);
      ::close(online);
    }
    ::close(_fd);
  }
  cpu1_lock(const cpu1_lock&) = delete;
  cpu1_lock& operator=(const cpu1_lock&) = delete;
  [[nodiscard]] bool held() const { return _fd >= 0; }

 private:
  int _fd;
};

// kernel_part() is the time of the cpu:physical callbacks in a trace: each is one write
// to cpuN/online, which returns when the kernel's own hotplug is done.
std::int64_t kernel_part(const std::vector<hotcore::trace_event>& trace) {
  std::int64_t ns = 0;
  for (const hotcore::trace_event& ev : trace)
    if (ev.state == hotcore::CPU_PHYSICAL && !ev.injected) ns += ev.nanoseconds;
  return ns;
}

// physical (root): cpu1 down and up in a physical-mode runtime, 8 empty states; the
// kernel's part is the cpu:physical callback, hotcore's the rest of the wall time.
void physical(benchmark::State& state) {
  if (::geteuid() != 0 || ::access("/sys/devices/system/cpu/cpu1/online", W_OK) != 0)
    return state.SkipWithError("skipped: needs root and a writable cpu1/online");
  const std::vector<unsigned> allowed = hotcore::bench::allowed_cpus();
  if (allowed.size() < 2 || std::find(allowed.begin(), allowed.end(), 1u) == allowed.end())
    return state.SkipWithError("skipped: cpu1 and another CPU are not both allowed to this process");
  const cpu1_lock lock;
  if (!lock.held()) return state.SkipWithError("flock /tmp/hotcore-cpu1.lock failed");
  std::error_code ec;
  hotcore::runtime_options options;
  options.physical = true;
  const auto rt = hotcore::runtime::create(options, ec);
  if (!rt) return state.SkipWithError(("runtime::create(physical): " + ec.message()).c_str());
  if (!rt->core_physical(1)) return state.SkipWithError("skipped: cpu1 is not a physical worker core");
  const hotcore::bench::noop_states extra(*rt, "cost:empty", empty_state_count);
  if (extra.error() < 0) return (void)skip_failed(state, "setup_state(ONLINE_DYN)", extra.error());
  std::vector<std::int64_t> total, kernel, ours;
  (void)rt->take_trace();
  rt->set_trace(true);
  for (auto _ : state) {
    const std::int64_t t = down_up(state, *rt, 1);
    if (t < 0) break;
    const std::int64_t k = kernel_part(rt->take_trace());
    total.push_back(t);
    kernel.push_back(k);
    ours.push_back(t - k);
  }
  rt->set_trace(false);
  set_us(state, "", std::move(total));
  set_us(state, "kernel_", std::move(kernel));
  set_us(state, "runtime_", std::move(ours));
}

// tbb_arena_cycle: an arena of `cores` threads terminated and re-initialised at cores - 1,
// then back at cores, each followed by an empty execute(). The arena does not pin its
// threads, vacate a CPU or run any callback: it only changes how many threads may join.
void tbb_arena_cycle(benchmark::State& state) {
  const int cores = static_cast<int>(state.range(0));
  tbb::task_arena arena(cores);
  arena.initialize();
  arena.execute([] {});
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    const auto t0 = clock_type::now();
    arena.terminate();
    arena.initialize(cores - 1);
    arena.execute([] {});
    arena.terminate();
    arena.initialize(cores);
    arena.execute([] {});
    ns.push_back(ns_since(t0));
  }
  set_us(state, "", std::move(ns));
}

// from_two() is core_sweep() without 1: taking a core away needs two.
void from_two(benchmark::internal::Benchmark* b) {
  const int cpus = usable_cpus();
  b->ArgName("cores");
  for (int n = 2; n < cpus; n *= 2) b->Arg(n);
  b->Arg(cpus < 2 ? 2 : cpus);
  b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(logical)->Name("core_cost/hotcore_logical")->Apply(from_two);
BENCHMARK(physical)->Name("core_cost/hotcore_physical_cpu1")->Iterations(20)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(add_remove_instance)->Name("core_cost/hotcore_add_remove_instance")->Apply(core_sweep);
BENCHMARK(tbb_arena_cycle)->Name("core_cost/tbb_arena_reinit")->Apply(from_two);
BENCHMARK(app_thread)
    ->Name("core_cost/hotcore_app_thread")
    ->ArgNames({"cores", "subsystems"})
    ->Args({usable_cpus() < 2 ? 2 : usable_cpus(), 0})
    ->Args({usable_cpus() < 2 ? 2 : usable_cpus(), 1})
    ->Iterations(10)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sched_bench

BENCHMARK_MAIN();
