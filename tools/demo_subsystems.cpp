// SPDX-License-Identifier: MIT
// tools/demo_subsystems.cpp — `hotcore demo`'s subsystem section: each per-core subsystem
// is started through its public API from the table below, then a core goes down and up
// with all of them registered and the trace gives each state's cost.
#include "demo_subsystems.h"

#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hotcore/io_context.h"
#include "hotcore/states.h"
#include "demo_arena_timers.h"
#include "on_core.h"
#include "stats.h"

namespace hotcore::tools {
namespace {

constexpr long demo_cycles = 100;

// started is what a subsystem's start function keeps alive for the demo (its state and
// instances, destroyed in reverse order at the end), plus the states it registered.
struct started {
  std::shared_ptr<void> keep;
  std::vector<int> states;
};

// io_demo holds the io_uring state and one io_context.
struct io_demo {
  std::unique_ptr<io_uring_state> state;
  std::unique_ptr<io_context> ctx;
  ~io_demo() {
    ctx.reset();  // the instance first, then the state
    state.reset();
  }
};

// start_io_uring() installs "io/uring:online", creates an io_context (a ring per online
// core) and reads from a pipe on every core's ring.
bool start_io_uring(runtime& rt, started& out) {
  auto io = std::make_shared<io_demo>();
  std::error_code ec;
  io->state = io_uring_state::install(rt, ec);
  if (io->state) io->ctx = io_context::create(*io->state, ec);
  if (!io->ctx) {
    std::fprintf(stderr, "hotcore demo: io_uring: %s\n", ec.message().c_str());
    return false;
  }
  const io_features& f = io->state->features();
  std::printf("  io_uring     state %d \"io/uring:online\", %u rings (one per online core)\n",
              io->state->state(), io->ctx->rings());
  std::printf("               kernel offers: coop_taskrun=%d submit_all=%d r_disabled=%d "
              "single_issuer=%d defer_taskrun=%d registered_ring_fd=%d\n",
              f.coop_taskrun, f.submit_all, f.r_disabled, f.single_issuer, f.defer_taskrun,
              f.registered_ring_fd);
  std::printf("               rings use:     %s%s%s%s%s%s%s(enabled on the core's worker)\n",
              (f.setup_flags & IORING_SETUP_R_DISABLED) ? "R_DISABLED " : "",
              (f.setup_flags & IORING_SETUP_SINGLE_ISSUER) ? "SINGLE_ISSUER " : "",
              (f.setup_flags & IORING_SETUP_DEFER_TASKRUN) ? "DEFER_TASKRUN " : "",
              (f.setup_flags & IORING_SETUP_COOP_TASKRUN) ? "COOP_TASKRUN " : "",
              (f.setup_flags & IORING_SETUP_TASKRUN_FLAG) ? "TASKRUN_FLAG " : "",
              (f.setup_flags & IORING_SETUP_SUBMIT_ALL) ? "SUBMIT_ALL " : "",
              f.registered_ring_fd ? "+ registered ring fd " : "");
  // One read per core, submitted by a task on that core to its ring.
  std::atomic<int> done{0};
  bool ok = true;
  for (const unsigned core : rt.online_cores()) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return false;
    char byte = 0;
    std::atomic<int> result{0}, ran_on{-1};
    const int before = done.load();
    const bool sent = on_core(rt, core, [&] {
      if (io->ctx->read(p[0], &byte, 1, 0, [&](int r) {
            result = r;
            ran_on = this_core();
            done++;
          }) != 0)
        done++;
    });
    ok = sent && ::write(p[1], "!", 1) == 1;
    for (int i = 0; ok && i < 5000 && done.load() == before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ok = ok && result.load() == 1 && byte == '!';
    std::printf("               core %u: read 1 byte from a pipe on its ring, continuation ran "
                "on core %d: %s\n", core, ran_on.load(), ok ? "ok" : "FAILED");
    ::close(p[0]);
    ::close(p[1]);
    if (!ok) return false;
  }
  out.states.push_back(io->state->state());
  out.keep = io;
  return true;
}

// The allocator and the timers (tools/demo_arena_timers.cpp).
bool start_arena(runtime& rt, started& out) {
  out.keep = start_arena_demo(rt, out.states);
  return out.keep != nullptr;
}
bool start_timers(runtime& rt, started& out) {
  out.keep = start_timers_demo(rt, out.states);
  return out.keep != nullptr;
}

// subsystem_starters lists the per-core subsystems the demo starts, in order. Each prints
// its own lines and fills `started`.
constexpr bool (*subsystem_starters[])(runtime&, started&) = {
    start_io_uring,
    start_arena,
    start_timers,
};

}  // namespace

int demo_subsystems(runtime& rt) {
  std::printf("== subsystems\n");
  std::vector<started> running;
  std::set<int> states;
  for (const auto start : subsystem_starters) {
    started s;
    if (!start(rt, s)) return 1;
    states.insert(s.states.begin(), s.states.end());
    running.push_back(std::move(s));
  }
  const std::vector<unsigned> online = rt.online_cores();
  if (online.size() > 1) {
    const unsigned core = online.back();
    rt.set_trace(true);
    (void)rt.take_trace();
    for (long i = 0; i < demo_cycles; ++i)
      if (rt.core_down(core) != 0 || rt.core_up(core) != 0) {
        std::fprintf(stderr, "hotcore demo: core %u down/up failed\n", core);
        rt.set_trace(false);
        return 1;
      }
    rt.set_trace(false);
    std::printf("\n  core %u: %ld down+up cycles with the subsystems up; their states' cost "
                "(ns):\n", core, demo_cycles);
    std::printf("  %5s  %-24s %-4s %7s %10s %10s\n", "state", "name", "dir", "count", "median",
                "p99");
    for (const state_cost& r : cost_table(rt.take_trace()))
      if (states.count(r.state) != 0)
        std::printf("  %5d  %-24s %-4s %7zu %10lld %10lld\n", r.state, r.name.c_str(),
                    r.dir == direction::up ? "up" : "down", r.ns.count,
                    static_cast<long long>(r.ns.median), static_cast<long long>(r.ns.p99));
  }
  while (!running.empty()) running.pop_back();  // stop them in reverse order
  std::printf("\n");
  return 0;
}

}  // namespace hotcore::tools
