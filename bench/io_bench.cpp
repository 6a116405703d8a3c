// SPDX-License-Identifier: MIT
// bench/io_bench.cpp — what io_uring rings cost on hot-pluggable cores: a bare ring's
// bring-up and teardown, an io_context's add/remove (a ring on every online core), a core
// down+up with and without one io_context, and the per-state cost of "io/uring:online".
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "hotcore/io_context.h"
#include "hotcore/runtime.h"
#include "timed_steps.h"

namespace {

using hotcore::runtime;

// io is the process's one runtime with the io_uring state installed.
struct io {
  std::error_code ec;
  std::unique_ptr<runtime> rt = runtime::create({}, ec);
  std::unique_ptr<hotcore::io_uring_state> state =
      rt ? hotcore::io_uring_state::install(*rt, ec) : nullptr;
};

io* io_or_skip(benchmark::State& bs) {
  static io the_io;
  if (!the_io.state) {
    bs.SkipWithError(("runtime/io_uring_state: " + the_io.ec.message()).c_str());
    return nullptr;
  }
  return &the_io;
}

// report() sets the median and p99 of the per-iteration samples, in ns.
void report(benchmark::State& bs, std::vector<std::int64_t> samples_ns) {
  const hotcore::bench::percentiles s = hotcore::bench::percentiles_of(std::move(samples_ns));
  bs.counters["median_ns"] = static_cast<double>(s.p50);
  bs.counters["p99_ns"] = static_cast<double>(s.p99);
}

// report_state_cost() adds the median cost of the io/uring:online callbacks in the trace,
// per direction ("up_ns" ring made, "down_ns" ring cancelled, drained and closed).
void report_state_cost(benchmark::State& bs, runtime& rt, int state) {
  std::vector<std::int64_t> up, down;
  for (const hotcore::trace_event& ev : rt.take_trace())
    if (ev.state == state && !ev.injected)
      (ev.dir == hotcore::direction::up ? up : down).push_back(ev.nanoseconds);
  if (!up.empty()) bs.counters["up_ns"] = static_cast<double>(hotcore::bench::percentiles_of(up).p50);
  if (!down.empty())
    bs.counters["down_ns"] = static_cast<double>(hotcore::bench::percentiles_of(down).p50);
}

// traced_pass() repeats fn `count` times with the trace on, after the timed loop (so that
// recording does not inflate the timed figures), and reports the state's cost from it.
template <class F>
void traced_pass(benchmark::State& bs, runtime& rt, int state, int count, F fn) {
  rt.set_trace(true);
  (void)rt.take_trace();
  for (int i = 0; i < count; ++i)
    if (!fn()) break;
  rt.set_trace(false);
  report_state_cost(bs, rt, state);
}

// BM_bare_ring: io_uring_queue_init_params + eventfd + register_eventfd + exit + close,
// the work of one core's ring without the state machine around it (same flags).
void BM_bare_ring(benchmark::State& bs) {
  io* s = io_or_skip(bs);
  if (!s) return;
  const unsigned flags = s->state->features().setup_flags | IORING_SETUP_CQSIZE;
  for (auto _ : bs) {
    io_uring ring;
    io_uring_params p{};
    p.flags = flags;
    p.cq_entries = 1024;
    if (const int ret = io_uring_queue_init_params(256, &ring, &p); ret < 0) {
      bs.SkipWithError(std::strerror(-ret));
      break;
    }
    const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    (void)io_uring_register_eventfd(&ring, efd);
    io_uring_queue_exit(&ring);
    ::close(efd);
  }
}
BENCHMARK(BM_bare_ring)->UseRealTime();

// BM_context_add_remove: io_context::create + destroy: add_instance and remove_instance
// of "io/uring:online", a ring made and closed on every online core (on its hotplug
// thread; the teardown runs on the core's worker, which is active).
void BM_context_add_remove(benchmark::State& bs) {
  io* s = io_or_skip(bs);
  if (!s) return;
  const auto add_remove = [s, &bs] {
    std::error_code ec;
    auto ctx = hotcore::io_context::create(*s->state, ec);
    if (!ctx) bs.SkipWithError(("io_context::create: " + ec.message()).c_str());
    return ctx != nullptr;
  };
  std::vector<std::int64_t> samples = hotcore::bench::timed_calls(bs, add_remove);
  traced_pass(bs, *s->rt, s->state->state(), 100, add_remove);
  bs.counters["cores"] = static_cast<double>(s->rt->online_cores().size());
  report(bs, std::move(samples));
}
BENCHMARK(BM_context_add_remove)->UseRealTime();

// BM_core_cycle/N: core_down + core_up of the last core with N io_contexts (0 or 1), so
// one run gives the ratio; with one, the ring is cancelled, drained and closed going down
// (idle ring: nothing in flight) and made again coming up.
void BM_core_cycle(benchmark::State& bs) {
  io* s = io_or_skip(bs);
  if (!s) return;
  std::vector<std::unique_ptr<hotcore::io_context>> contexts;
  for (int i = 0; i < bs.range(0); ++i) {
    std::error_code ec;
    contexts.push_back(hotcore::io_context::create(*s->state, ec));
    if (!contexts.back()) {
      bs.SkipWithError(("io_context::create: " + ec.message()).c_str());
      return;
    }
  }
  const unsigned core = s->rt->cores().back();
  const auto cycle = [s, core, &bs] {
    if (s->rt->core_down(core) == 0 && s->rt->core_up(core) == 0) return true;
    bs.SkipWithError("core_down/core_up failed");
    return false;
  };
  std::vector<std::int64_t> samples = hotcore::bench::timed_calls(bs, cycle);
  traced_pass(bs, *s->rt, s->state->state(), 200, cycle);
  report(bs, std::move(samples));
}
BENCHMARK(BM_core_cycle)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
