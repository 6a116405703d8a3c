// SPDX-License-Identifier: MIT
// bench/request_cost_bench.cpp — what a pool spends on requests at partial load and when
// idle, hotcore against a oneTBB arena of the same size in one run. An open-loop generator
// (this thread) submits requests at Poisson-timed intended send times; each request is a
// 4-way parallel_for over `work_us` of calibrated CPU work. Counters:
//   cpu_us_per_req  user+sys CPU of the whole process per request, the generator's own
//                   CPU taken out, so idle spinning, wake-ups and fences are in it;
//   useful_us_per_req  the work itself (ways x work_us);
//   p50_us, p99_us  latency from the intended send time (no coordinated omission);
//   idle_cpu_pct    (idle/*) CPU of the idle pool, per cent of one CPU, over 2 s.
// Names: request_cost/<pool>/rate:R and idle_cpu/<pool>. Run with --benchmark_out=F.json.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "hotcore/parallel.h"
#include "hotcore/runtime.h"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int ways = 4;
constexpr double work_us = 300;
constexpr double run_seconds = 3;

// ---- calibrated CPU work: a dependent multiply chain the compiler cannot fold.

std::uint64_t spin_iterations(std::uint64_t n) {
  std::uint64_t x = 88172645463325252ull;
  for (std::uint64_t i = 0; i < n; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// iterations_per_us() times a long run of the chain once in this thread's CPU time (a
// busy machine preempts it without changing the count), the fastest of three.
double iterations_per_us() {
  static const double per_us = [] {
    double best = 0;
    for (int i = 0; i < 3; ++i) {
      const double t0 = thread_cpu_us();
      benchmark::DoNotOptimize(spin_iterations(20'000'000));
      best = std::max(best, 20'000'000 / (thread_cpu_us() - t0));
    }
    return best;
  }();
  return per_us;
}

void do_work() {
  static const auto n = static_cast<std::uint64_t>(iterations_per_us() * work_us);
  benchmark::DoNotOptimize(spin_iterations(n));
}

double process_cpu_us(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// ---- the two pools behind one submit()

struct hotcore_pool {
  std::unique_ptr<hotcore::runtime> rt;
  hotcore_pool() {
    std::error_code ec;
    rt = hotcore::runtime::create({}, ec);
  }
  template <class F>
  void submit(F fn) {
    (void)rt->submit([this, fn] {
      hotcore::parallel_for(*rt, 0, ways, 1, [](int) { do_work(); });
      fn();
    });
  }
};

struct tbb_pool {
  // TBB's market allows hardware_concurrency() - 1 workers, counting on a caller that
  // joins; requests come from outside, so it may have as many workers as CPUs.
  tbb::global_control workers{tbb::global_control::max_allowed_parallelism,
                              std::thread::hardware_concurrency() + 1};
  // No slot reserved for an outside thread: every request is enqueued, so all slots are
  // for workers (the default reserves one, which would leave a 2-CPU arena one worker).
  tbb::task_arena arena{static_cast<int>(std::thread::hardware_concurrency()), 0};
  template <class F>
  void submit(F fn) {
    arena.enqueue([fn] {
      tbb::parallel_for(tbb::blocked_range<int>(0, ways, 1),
                        [](const tbb::blocked_range<int>&) { do_work(); },
                        tbb::simple_partitioner());
      fn();
    });
  }
};

// run_open_loop() sends rate requests a second for `seconds` at Poisson-timed intended
// send times, waits for the last one and returns the latencies (us) and the process's
// CPU (us) spent meanwhile by everything but this thread.
template <class Pool>
std::pair<std::vector<double>, double> run_open_loop(Pool& pool, double rate, double seconds) {
  const auto count = static_cast<std::size_t>(rate * seconds);
  std::vector<double> latency_us(count);
  std::atomic<std::size_t> done{0};
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> gap_s(rate);
  const double cpu0 = process_cpu_us(RUSAGE_SELF), self0 = process_cpu_us(RUSAGE_THREAD);
  auto intended = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) {
    intended += std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(gap_s(rng)));
    std::this_thread::sleep_until(intended);
    pool.submit([&latency_us, &done, i, intended] {
      latency_us[i] = std::chrono::duration<double, std::micro>(clock_type::now() - intended).count();
      // release: the waiter below reads latency_us after it sees the count.
      if (done.fetch_add(1, std::memory_order_release) + 1 == latency_us.size()) done.notify_one();
    });
  }
  // acquire: pairs with the release increment of the last request.
  for (std::size_t d; (d = done.load(std::memory_order_acquire)) != count;) done.wait(d);
  const double cpu = process_cpu_us(RUSAGE_SELF) - cpu0 - (process_cpu_us(RUSAGE_THREAD) - self0);
  return {std::move(latency_us), cpu};
}

template <class Pool>
void request_cost(benchmark::State& state) {
  Pool pool;
  const auto rate = static_cast<double>(state.range(0));
  run_open_loop(pool, rate, 0.3);  // warm-up: threads started, caches filled
  for (auto _ : state) {
    auto [latency_us, cpu_us] = run_open_loop(pool, rate, run_seconds);
    std::sort(latency_us.begin(), latency_us.end());
    const auto n = latency_us.size();
    state.counters["cpu_us_per_req"] = cpu_us / static_cast<double>(n);
    state.counters["useful_us_per_req"] = ways * work_us;
    state.counters["p50_us"] = latency_us[n / 2];
    state.counters["p99_us"] = latency_us[std::min(n - 1, n * 99 / 100)];
  }
}

// idle_cpu: a pool that served a burst and then has nothing to do for 2 s.
template <class Pool>
void idle_cpu(benchmark::State& state) {
  Pool pool;
  run_open_loop(pool, 1000, 0.1);
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // spinners run out
    const double cpu0 = process_cpu_us(RUSAGE_SELF);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    state.counters["idle_cpu_pct"] = (process_cpu_us(RUSAGE_SELF) - cpu0) / 2e6 * 100;
  }
}

void rates(benchmark::internal::Benchmark* b) {
  b->ArgName("rate")->Arg(500)->Arg(1500)->Iterations(1)->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(request_cost<hotcore_pool>)->Name("request_cost/hotcore")->Apply(rates);
BENCHMARK(request_cost<tbb_pool>)->Name("request_cost/tbb")->Apply(rates);
BENCHMARK(idle_cpu<hotcore_pool>)->Name("idle_cpu/hotcore")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(idle_cpu<tbb_pool>)->Name("idle_cpu/tbb")->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
