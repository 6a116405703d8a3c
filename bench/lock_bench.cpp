// SPDX-License-Identifier: MIT
// bench/lock_bench.cpp — what the read side of the hotplug lock costs with 1, 2, ... N
// reader threads, each pinned to its own CPU: cpus_read_lock()+cpus_read_unlock() through
// the public API, and two empty function calls as the floor to compare them with.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "allowed_cpus.h"
#include "hotcore/runtime.h"

namespace {

using hotcore::bench::allowed_cpus;


// max_threads is one reader per allowed CPU (hardware_concurrency() when nothing restricts
// the process).
int max_threads() {
  const std::size_t n = allowed_cpus().size();
  return n > 0 ? static_cast<int>(n) : 1;
}

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

// thread_cpu_ns() is the CPU time the calling thread has used, in ns: unlike wall time it
// does not count the time the thread waits for a CPU on a busy machine.
std::int64_t thread_cpu_ns() {
  timespec ts{};
  (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int steps = 1024;  // lock+unlock pairs per iteration, so the loop costs nothing

// measure() pins the benchmark thread to its own CPU, runs lock()+unlock() `steps` times
// per iteration and sets thread_ns: the CPU ns one lock+unlock takes on one thread,
// averaged over the threads. Flat thread_ns from 1 to N threads means readers do not slow
// each other; items_per_second (wall time) shows the same when the machine is quiet.
template <class Lock, class Unlock>
void measure(benchmark::State& state, Lock lock, Unlock unlock) {
  const std::vector<unsigned> cpus = allowed_cpus();
  if (cpus.empty()) {
    state.SkipWithError("sched_getaffinity failed");
    return;
  }
  const pin_to_cpu pin(cpus[static_cast<std::size_t>(state.thread_index()) % cpus.size()]);
  if (!pin.pinned()) {
    state.SkipWithError("sched_setaffinity failed");
    return;
  }
  const std::int64_t t0 = thread_cpu_ns();
  for (auto _ : state) {
    for (int i = 0; i < steps; ++i) {
      lock();
      unlock();
    }
  }
  const std::int64_t ns = thread_cpu_ns() - t0;
  const double pairs = static_cast<double>(state.iterations()) * steps;
  state.SetItemsProcessed(state.iterations() * steps);
  state.counters["thread_ns"] =
      benchmark::Counter(static_cast<double>(ns) / pairs, benchmark::Counter::kAvgThreads);
}

// the_runtime() is the process's one runtime, created on first use with every core online;
// nullptr (and the reason in ec) if create() failed.
hotcore::runtime* the_runtime(std::error_code& ec) {
  static std::error_code create_ec;
  static const std::unique_ptr<hotcore::runtime> rt = hotcore::runtime::create({}, create_ec);
  ec = create_ec;
  return rt.get();
}

// BM_cpus_read_lock: one inner step is cpus_read_lock() + cpus_read_unlock(), the public
// API as a program compiles it (inline, with its check for "inside a callback"); an
// iteration is `steps` of them.
void BM_cpus_read_lock(benchmark::State& state) {
  std::error_code ec;
  hotcore::runtime* rt = the_runtime(ec);
  if (!rt) {
    state.SkipWithError(("runtime::create: " + ec.message()).c_str());
    return;
  }
  measure(state, [rt] { rt->cpus_read_lock(); }, [rt] { rt->cpus_read_unlock(); });
}
BENCHMARK(BM_cpus_read_lock)->DenseThreadRange(1, max_threads())->UseRealTime();

// store_one() is the least a lock or unlock can be: an out-of-line call that stores to the
// caller's own memory.
[[gnu::noinline]] void store_one(long* slot) {
  *slot = 1;
  benchmark::ClobberMemory();
}

// BM_call_floor: one inner step is two store_one() calls, the yardstick for a read
// lock+unlock that are function calls: what this machine takes for the calls alone.
void BM_call_floor(benchmark::State& state) {
  long slot = 0;
  measure(state, [&slot] { store_one(&slot); }, [&slot] { store_one(&slot); });
}
BENCHMARK(BM_call_floor)->DenseThreadRange(1, max_threads())->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
