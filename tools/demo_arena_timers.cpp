// SPDX-License-Identifier: MIT
// tools/demo_mt.cpp — `hotcore demo` for the per-core allocator and the timers (see
// demo_mt.h): each subsystem is used only through its public header.
#include "demo_mt.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "hotcore/arena.h"
#include "hotcore/timers.h"
#include "hotcore/topology.h"

namespace hotcore::tools {
namespace {

// on_core() runs fn as a task on `core` and waits; false if the core refused it.
template <class F>
bool on_core(runtime& rt, unsigned core, F fn) {
  std::atomic<std::uint32_t> done{0};
  if (rt.submit_on(core, [&] {
        fn();
        done.store(1, std::memory_order_release);
        done.notify_one();
      }) != 0)
    return false;
  done.wait(0, std::memory_order_acquire);
  return true;
}

int numa_node_of_core(unsigned core) {
  std::error_code ec;
  const topology topo = load_topology(ec);
  for (const pu_info& pu : topo.pus)
    if (pu.os_index == core) return std::max(pu.numa_node, 0);
  return 0;
}

}  // namespace

std::shared_ptr<void> start_arena_demo(runtime& rt, std::vector<int>& states) {
  std::error_code ec;
  std::shared_ptr<arena> mem = arena::create(rt, ec);
  if (!mem) {
    std::fprintf(stderr, "hotcore demo: arena: %s\n", ec.message().c_str());
    return nullptr;
  }
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
  std::error_code ec;
  std::shared_ptr<timer_service> timers = timer_service::create(rt, ec);
  if (!timers) {
    std::fprintf(stderr, "hotcore demo: timers: %s\n", ec.message().c_str());
    return nullptr;
  }
  std::vector<unsigned> online = rt.online_cores();
  std::printf("  timers       states %d \"timers:prepare\", %d \"timers:online\"; %u wheels "
              "polled by their cores' workers\n",
              timers->prepare_state(), timers->online_state(), timers->stats().attached);
  constexpr int count = 100;
  struct shot {
    std::int64_t deadline = 0;
    std::atomic<std::int64_t> at{0};
    std::atomic<int> core{-1};
    std::atomic<int> runs{0};
  };
  // fire_all() arms `count` timers 1..10 ms ahead from a task on `core` and waits for
  // them; `then` runs right after arming (a core going down, say).
  auto fire_all = [&](unsigned core, auto then) {
    auto shots = std::make_unique<shot[]>(count);
    std::atomic<int> fired{0};
    const bool ran = on_core(rt, core, [&] {
      for (int k = 0; k < count; ++k) {
        shot& s = shots[static_cast<std::size_t>(k)];
        s.deadline = timer_service::now_ns() + 1'000'000 + k * 90'000;
        (void)timers->arm_at(s.deadline, [&rt, &s, &fired] {
          s.at = timer_service::now_ns();
          s.core = rt.this_core();
          s.runs++;
          fired++;
        });
      }
    });
    then();
    for (int i = 0; ran && i < 5000 && fired.load() < count; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return shots;
  };
  for (const unsigned core : online) {
    auto shots = fire_all(core, [] {});
    std::vector<std::int64_t> late;
    int here = 0, once = 0, early = 0;
    for (int k = 0; k < count; ++k) {
      const shot& s = shots[static_cast<std::size_t>(k)];
      late.push_back(s.at - s.deadline);
      here += s.core == static_cast<int>(core) ? 1 : 0;
      once += s.runs == 1 ? 1 : 0;
      early += s.runs > 0 && s.at < s.deadline ? 1 : 0;
    }
    std::sort(late.begin(), late.end());
    const bool ok = here == count && once == count && early == 0;
    std::printf("               core %u: %d timers armed by a task, %d fired once on core %u, "
                "%d early; lateness p50 %.1f us, max %.1f us: %s\n",
                core, count, here, core, early, static_cast<double>(late[count / 2]) / 1e3,
                static_cast<double>(late.back()) / 1e3, ok ? "ok" : "FAILED");
    if (!ok) return nullptr;
  }
  if (online.size() > 1) {
    const unsigned leaving = online.back();
    const std::uint64_t moved_before = timers->stats().migrated;
    int down = 0;
    auto shots = fire_all(leaving, [&] { down = rt.core_down(leaving); });
    const std::uint64_t moved = timers->stats().migrated - moved_before;
    int once = 0, early = 0;
    for (int k = 0; k < count; ++k) {
      const shot& s = shots[static_cast<std::size_t>(k)];
      once += s.runs == 1 ? 1 : 0;
      early += s.runs > 0 && s.at < s.deadline ? 1 : 0;
    }
    const int up = rt.core_up(leaving);
    const bool ok = down == 0 && up == 0 && once == count && early == 0;
    std::printf("               core %u down with timers pending: %llu moved to another core "
                "(timers:online teardown), %d of %d fired exactly once, %d early: %s\n",
                leaving, static_cast<unsigned long long>(moved), once, count, early,
                ok ? "ok" : "FAILED");
    if (!ok) return nullptr;
  }
  states.push_back(timers->prepare_state());
  states.push_back(timers->online_state());
  return timers;
}

}  // namespace hotcore::tools
