// SPDX-License-Identifier: MIT
// tools/demo_arena_timers.cpp — `hotcore demo` for the per-core allocator and the timers
// (see demo_arena_timers.h): each subsystem is used only through its public header.
#include "demo_arena_timers.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "hotcore/arena.h"
#include "hotcore/timers.h"
#include "hotcore/topology.h"
#include "on_core.h"

namespace hotcore::tools {
namespace {

// created() is S::create(rt, ec), or nullptr after printing why on stderr.
template <class S>
std::shared_ptr<S> created(runtime& rt, const char* what) {
  std::error_code ec;
  std::shared_ptr<S> made = S::create(rt, ec);
  if (!made) std::fprintf(stderr, "hotcore demo: %s: %s\n", what, ec.message().c_str());
  return made;
}

int numa_node_of_core(unsigned core) {
  std::error_code ec;
  const topology topo = load_topology(ec);
  for (const pu_info& pu : topo.pus)
    if (pu.os_index == core) return std::max(pu.numa_node, 0);
  return 0;
}

constexpr int shot_count = 100;

// shot is one timer of a volley: when it was due, when and where it fired, how often.
struct shot {
  std::int64_t deadline = 0;
  std::atomic<std::int64_t> at{0};
  std::atomic<int> core{-1};
  std::atomic<int> runs{0};
};
using volley = std::unique_ptr<shot[]>;

// fire_volley() arms shot_count timers 1..10 ms ahead from a task on `core` and waits for
// them (5 s at most); `then` runs right after arming (a core going down, say).
template <class Then>
volley fire_volley(runtime& rt, timer_service& timers, unsigned core, Then then) {
  auto shots = std::make_unique<shot[]>(shot_count);
  std::atomic<int> fired{0};
  const bool ran = on_core(rt, core, [&] {
    for (int k = 0; k < shot_count; ++k) {
      shot& s = shots[static_cast<std::size_t>(k)];
      s.deadline = timer_service::now_ns() + 1'000'000 + k * 90'000;
      (void)timers.arm_at(s.deadline, [&rt, &s, &fired] {
        s.at = timer_service::now_ns();
        s.core = rt.this_core();
        s.runs++;
        fired++;
      });
    }
  });
  then();
  for (int i = 0; ran && i < 5000 && fired.load() < shot_count; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return shots;
}

// tally is what a volley did: shots fired on `core`, fired exactly once, fired early,
// and the sorted lateness (fire time - deadline) in ns.
struct tally {
  int here = 0, once = 0, early = 0;
  std::vector<std::int64_t> late;
};

tally count_volley(const volley& shots, unsigned core) {
  tally t;
  for (int k = 0; k < shot_count; ++k) {
    const shot& s = shots[static_cast<std::size_t>(k)];
    t.late.push_back(s.at - s.deadline);
    t.here += s.core == static_cast<int>(core) ? 1 : 0;
    t.once += s.runs == 1 ? 1 : 0;
    t.early += s.runs > 0 && s.at < s.deadline ? 1 : 0;
  }
  std::sort(t.late.begin(), t.late.end());
  return t;
}

// show_timers_on() fires a volley armed on `core` and prints where and how late it fired.
bool show_timers_on(runtime& rt, timer_service& timers, unsigned core) {
  const tally t = count_volley(fire_volley(rt, timers, core, [] {}), core);
  const bool ok = t.here == shot_count && t.once == shot_count && t.early == 0;
  std::printf("               core %u: %d timers armed by a task, %d fired once on core %u, "
              "%d early; lateness p50 %.1f us, max %.1f us: %s\n",
              core, shot_count, t.here, core, t.early,
              static_cast<double>(t.late[shot_count / 2]) / 1e3,
              static_cast<double>(t.late.back()) / 1e3, ok ? "ok" : "FAILED");
  return ok;
}

// show_timers_moved() arms a volley on `leaving`, takes that core down while the timers
// are pending and up again, and prints that each fired once, on another core.
bool show_timers_moved(runtime& rt, timer_service& timers, unsigned leaving) {
  const std::uint64_t moved_before = timers.stats().migrated;
  int down = 0;
  const tally t = count_volley(
      fire_volley(rt, timers, leaving, [&] { down = rt.core_down(leaving); }), leaving);
  const std::uint64_t moved = timers.stats().migrated - moved_before;
  const int up = rt.core_up(leaving);
  const bool ok = down == 0 && up == 0 && t.once == shot_count && t.early == 0;
  std::printf("               core %u down with timers pending: %llu moved to another core "
              "(timers:online teardown), %d of %d fired exactly once, %d early: %s\n",
              leaving, static_cast<unsigned long long>(moved), t.once, shot_count, t.early,
              ok ? "ok" : "FAILED");
  return ok;
}

}  // namespace

std::shared_ptr<void> start_arena_demo(runtime& rt, std::vector<int>& states) {
  const std::shared_ptr<arena> mem = created<arena>(rt, "arena");
  if (!mem) return nullptr;
  const std::vector<unsigned> online = rt.online_cores();
  std::printf("  mm/arena     states %d \"mm/arena:prepare\", %d \"mm/arena:online\"; %u core "
              "caches, memory bound with hwloc\n",
              mem->prepare_state(), mem->online_state(), mem->stats().live_caches);
  constexpr int count = 1000;
  for (std::size_t i = 0; i < online.size(); ++i) {
    const unsigned core = online[i], other = online[(i + 1) % online.size()];
    std::vector<void*> blocks(count);
    int bound = 0, node = numa_node_of_core(core);
    const bool ran = on_core(rt, core, [&] {
      for (int k = 0; k < count; ++k) {
        const std::size_t size = 16u << (k % 11);  // 16 B .. 16 KiB
        blocks[static_cast<std::size_t>(k)] = mem->allocate(size);
        if (blocks[static_cast<std::size_t>(k)] != nullptr)
          std::memset(blocks[static_cast<std::size_t>(k)], 1, size);
      }
    });
    for (void* b : blocks) bound += b != nullptr && mem->bound_to_node(b, node) == 1 ? 1 : 0;
    const bool freed = on_core(rt, other, [&] {
      for (void* b : blocks) mem->deallocate(b);
    });
    std::printf("               core %u: %d blocks of 16 B..16 KiB, %d bound to NUMA node %d "
                "(hwloc_get_area_membind); freed on core %u: %s\n",
                core, count, bound, node, other, ran && freed && bound == count ? "ok" : "FAILED");
    if (!ran || !freed || bound != count) return nullptr;
  }
  const arena_stats s = mem->stats();
  std::printf("               accounting: handed out %llu B, returned %llu B; cut %llu B = "
              "%llu in core caches + %llu in the shared arena\n",
              static_cast<unsigned long long>(s.allocated), static_cast<unsigned long long>(s.freed),
              static_cast<unsigned long long>(s.carved),
              static_cast<unsigned long long>(s.in_core_caches),
              static_cast<unsigned long long>(s.in_arena));
  states.push_back(mem->prepare_state());
  states.push_back(mem->online_state());
  return mem;
}

std::shared_ptr<void> start_timers_demo(runtime& rt, std::vector<int>& states) {
  const std::shared_ptr<timer_service> timers = created<timer_service>(rt, "timers");
  if (!timers) return nullptr;
  std::printf("  timers       states %d \"timers:prepare\", %d \"timers:online\"; %u wheels "
              "polled by their cores' workers\n",
              timers->prepare_state(), timers->online_state(), timers->stats().attached);
  const std::vector<unsigned> online = rt.online_cores();
  for (const unsigned core : online)
    if (!show_timers_on(rt, *timers, core)) return nullptr;
  if (online.size() > 1 && !show_timers_moved(rt, *timers, online.back())) return nullptr;
  states.push_back(timers->prepare_state());
  states.push_back(timers->online_state());
  return timers;
}

}  // namespace hotcore::tools
