// SPDX-License-Identifier: MIT
// tests/arena_test.cpp — the per-core allocator (hotcore/arena.h): size classes, memory
// bound to the core's NUMA node (read back with hwloc_get_area_membind), the core's cache
// versus the shared arena, caches returned when a core goes down, accounting that
// balances, fault injection at "mm/arena:prepare" and "mm/arena:online" on each core, and
// cross-core frees while cores go down and up (TSan runs this suite).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <random>
#include <vector>

#include "hotcore/arena.h"
#include "on_core.h"
#include "test_support.h"

using namespace hotcore_test;

namespace {

// balanced() checks the two accounting identities of arena_stats once nothing is held by
// a user: every byte handed out came back, every block cut is cached somewhere.
void balanced(const arena& a, const char* where) {
  INFO(where);
  const arena_stats s = a.stats();
  CHECK(s.allocated == s.freed);
  CHECK(s.allocated_small == s.freed_small);
  CHECK(s.carved == s.in_core_caches + s.in_arena);
}

// prepared_expected() counts the cores at or past a state.
unsigned cores_at_or_past(const runtime& rt, int state) {
  unsigned n = 0;
  for (unsigned core : rt.cores()) n += rt.state(core) >= state ? 1 : 0;
  return n;
}

// caches_match_cores() checks that exactly the cores at or past each arena state hold
// cache structures / a live cache.
void caches_match_cores(const runtime& rt, const arena& a, const char* where) {
  INFO(where);
  const arena_stats s = a.stats();
  CHECK(s.prepared_caches == cores_at_or_past(rt, a.prepare_state()));
  CHECK(s.live_caches == cores_at_or_past(rt, a.online_state()));
}

std::unique_ptr<arena> make_arena(runtime& rt) {
  std::error_code ec;
  auto a = arena::create(rt, ec);
  REQUIRE_MESSAGE(a != nullptr, "arena::create: " << ec.message());
  return a;
}

// arena_on_cores is, where two CPUs are allowed, a runtime with two or more cores and an
// arena on it: the fixture of the cases that start with NEEDS_TWO_CPUS() (nothing is made
// where they skip).
struct arena_on_cores {
  std::unique_ptr<runtime> rt = first_two_cpus() ? multi_core_runtime() : nullptr;
  std::unique_ptr<arena> a = rt ? make_arena(*rt) : nullptr;
};

// block_exchange is where the churn case's tasks (and an outside thread) trade blocks, so
// that most are freed on another core, or off the pool, than the one that made them. Each
// block is filled with a stamp, checked when freed; `corrupt` counts blocks whose stamp
// changed and allocations that failed.
struct block_exchange {
  struct block {
    unsigned char* p;
    std::size_t n;
    unsigned char stamp;
  };
  arena& a;
  std::mutex mu;
  std::vector<block> exchange;
  std::atomic<long> corrupt{0};

  explicit block_exchange(arena& ar) : a(ar) {}

  block fill(std::size_t n, unsigned char stamp) {
    auto* p = static_cast<unsigned char*>(a.allocate(n));
    if (p == nullptr) return {nullptr, 0, 0};
    std::memset(p, stamp, n);
    return {p, n, stamp};
  }
  void check_free(const block& b) {
    for (std::size_t k = 0; k < b.n; ++k)
      if (b.p[k] != b.stamp) {
        corrupt.fetch_add(1);
        break;
      }
    a.deallocate(b.p);
  }
  // work() makes 40 blocks, puts every other one in the exchange, takes up to 20 from it,
  // and frees its own rest and what it took.
  void work(unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<block> mine;
    for (int i = 0; i < 40; ++i) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, i % 10 == 0 ? 40000 : 600)(rng);
      block b = fill(n, static_cast<unsigned char>(rng()));
      if (b.p == nullptr) {
        corrupt.fetch_add(1);
        continue;
      }
      mine.push_back(b);
    }
    std::vector<block> theirs;
    {
      std::lock_guard lk(mu);
      for (std::size_t i = 0; i < mine.size(); i += 2) exchange.push_back(mine[i]);
      for (int i = 0; i < 20 && !exchange.empty(); ++i) {
        theirs.push_back(exchange.back());
        exchange.pop_back();
      }
    }
    for (std::size_t i = 1; i < mine.size(); i += 2) check_free(mine[i]);
    for (const block& b : theirs) check_free(b);
  }
  // drain() frees what is left in the exchange (every worker has stopped).
  void drain() {
    for (const block& b : exchange) check_free(b);
    exchange.clear();
  }
};

}  // namespace

TEST_CASE("size classes: every size up to max_small_size maps to the smallest class that "
          "holds it") {
  for (std::size_t size = 0; size <= arena::max_small_size; ++size) {
    const unsigned cls = arena::size_class_of(size);
    REQUIRE(cls < arena::size_classes);
    REQUIRE(arena::class_size(cls) >= size);
    if (cls > 0) REQUIRE(arena::class_size(cls - 1) < std::max<std::size_t>(size, 1));
    REQUIRE(arena::class_size(cls) % 16 == 0);
  }
  CHECK(arena::class_size(arena::size_classes - 1) == arena::max_small_size);
}

TEST_CASE("an arena is an instance of the multi-instance states \"mm/arena:prepare\" and "
          "\"mm/arena:online\", set up on the runtime's first arena; a second arena is a "
          "second instance; destroying them removes the instances, the states stay") {
  auto rt = make_runtime();
  CHECK_FALSE(has_state(*rt, "mm/arena:prepare"));
  {
    auto a = make_arena(*rt);
    CHECK(state_named(*rt, "mm/arena:prepare") == ARENA_PREPARE);
    CHECK(state_named(*rt, "mm/arena:online") == AP_ARENA_ONLINE);
    caches_match_cores(*rt, *a, "after create");
    auto b = make_arena(*rt);
    caches_match_cores(*rt, *b, "second arena");
    for (const state_row& r : rt->states())
      if (r.name.rfind("mm/arena:", 0) == 0) CHECK(r.instances == 2);
  }
  for (const state_row& r : rt->states())
    if (r.name.rfind("mm/arena:", 0) == 0) CHECK(r.instances == 0);
  // A static slot that holds something else is reported, not shared.
  auto other = make_runtime();
  REQUIRE(other->setup_state_nocalls(ARENA_PREPARE, "else:prepare", nullptr, nullptr) == 0);
  std::error_code ec;
  CHECK(arena::create(*other, ec) == nullptr);
  CHECK(ec == std::errc::device_or_resource_busy);
}

TEST_CASE("memory is bound to the NUMA node of the core's PU (hwloc_get_area_membind), for "
          "small blocks from each core's cache and for large blocks") {
  std::error_code ec;
  const topology topo = load_topology(ec);
  REQUIRE(!ec);
  auto rt = make_runtime();
  auto a = make_arena(*rt);
  for (unsigned core : rt->cores()) {
    int node = 0;
    for (const pu_info& pu : topo.pus)
      if (pu.os_index == core) node = std::max(pu.numa_node, 0);
    for (std::size_t size : {std::size_t{24}, std::size_t{4000}, std::size_t{200000}}) {
      CAPTURE(core);
      CAPTURE(size);
      void* p = nullptr;
      REQUIRE(run_on(*rt, core, [&] { p = a->allocate(size); }) == static_cast<int>(core));
      REQUIRE(p != nullptr);
      CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
      CHECK(arena::usable_size(p) >= size);
      std::memset(p, 0xab, size);  // touch it: the pages are placed by the policy
      CHECK(arena::numa_node_of(p) == node);
      CHECK(a->bound_to_node(p, node) == 1);
      CHECK(a->bound_to_node(p, node + 1) == 0);
      REQUIRE(run_on(*rt, core, [&] { a->deallocate(p); }) == static_cast<int>(core));
    }
  }
  balanced(*a, "after freeing");
}

TEST_CASE("a task allocates from its core's cache; a thread outside the pool (this_core() "
          "== -1) uses the shared arena directly") {
  auto rt = make_runtime();
  auto a = make_arena(*rt);
  const unsigned core = rt->cores().front();
  std::vector<void*> blocks(100);
  REQUIRE(run_on(*rt, core, [&] {
            for (auto& b : blocks) b = a->allocate(64);
          }) == static_cast<int>(core));
  arena_stats s = a->stats();
  CHECK(s.allocated_small == 100 * 64);
  // The cache took whole batches from the arena: what it did not hand out, it holds.
  CHECK(s.in_core_caches > 0);
  CHECK(s.in_core_caches % 64 == 0);
  const auto cached_before = s.in_core_caches;

  REQUIRE(this_core() == -1);
  void* outside = a->allocate(64);
  REQUIRE(outside != nullptr);
  s = a->stats();
  CHECK(s.in_core_caches == cached_before);  // no core cache was touched
  CHECK(s.allocated_small == 101 * 64);
  a->deallocate(outside);
  s = a->stats();
  CHECK(s.in_core_caches == cached_before);

  REQUIRE(run_on(*rt, core, [&] {
            for (auto* b : blocks) a->deallocate(b);
          }) == static_cast<int>(core));
  balanced(*a, "after freeing");
}

TEST_CASE_FIXTURE(arena_on_cores, "memory freed on another core than the one it came from is "
                  "taken back; accounting: bytes handed out == bytes returned after everything "
                  "is freed") {
  NEEDS_TWO_CPUS();
  const unsigned c0 = rt->cores()[0], c1 = rt->cores()[1];
  std::mt19937 rng(42);
  std::vector<std::pair<void*, std::size_t>> blocks(2000);
  for (auto& [p, n] : blocks) n = std::uniform_int_distribution<std::size_t>(0, 20000)(rng);
  // Made on core 0, each filled with a pattern.
  REQUIRE(run_on(*rt, c0, [&] {
            for (auto& [p, n] : blocks) {
              p = a->allocate(n);
              if (p != nullptr) std::memset(p, static_cast<int>(n & 0xff), n);
            }
          }) == static_cast<int>(c0));
  for (auto& [p, n] : blocks) REQUIRE(p != nullptr);
  // No two live blocks overlap.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (auto& [p, n] : blocks)
    ranges.emplace_back(reinterpret_cast<std::uintptr_t>(p),
                        reinterpret_cast<std::uintptr_t>(p) + std::max<std::size_t>(n, 1));
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) REQUIRE(ranges[i - 1].second <= ranges[i].first);
  // Half freed on core 1, half from this outside thread; the patterns are intact.
  bool intact = true;
  REQUIRE(run_on(*rt, c1, [&] {
            for (std::size_t i = 0; i < blocks.size(); i += 2) {
              auto [p, n] = blocks[i];
              for (std::size_t k = 0; k < n; ++k)
                intact &= static_cast<unsigned char*>(p)[k] == (n & 0xff);
              a->deallocate(p);
            }
          }) == static_cast<int>(c1));
  for (std::size_t i = 1; i < blocks.size(); i += 2) a->deallocate(blocks[i].first);
  CHECK(intact);
  balanced(*a, "after freeing on other cores");
  const arena_stats s = a->stats();
  CHECK(s.allocated > 0);
  // Core 1 reuses what it took back from core 0: allocating again cuts no new span.
  const auto carved = s.carved;
  REQUIRE(run_on(*rt, c1, [&] {
            void* p = a->allocate(blocks[0].second);
            a->deallocate(p);
          }) == static_cast<int>(c1));
  if (blocks[0].second <= arena::max_small_size) CHECK(a->stats().carved == carved);
  balanced(*a, "after reuse");
}

TEST_CASE_FIXTURE(arena_on_cores, "when a core goes down its cache goes back to the shared "
                  "arena; up again, the cache comes back empty and works") {
  NEEDS_TWO_CPUS();
  const unsigned c1 = rt->cores()[1];
  REQUIRE(run_on(*rt, c1, [&] {
            std::vector<void*> v;
            for (int i = 0; i < 500; ++i) v.push_back(a->allocate(static_cast<std::size_t>(i * 7)));
            for (void* p : v) a->deallocate(p);
          }) == static_cast<int>(c1));
  arena_stats s = a->stats();
  REQUIRE(s.in_core_caches > 0);
  REQUIRE(rt->core_down(c1) == 0);
  s = a->stats();
  CHECK(s.in_core_caches == 0);
  CHECK(s.in_arena == s.carved);
  caches_match_cores(*rt, *a, "core 1 down");
  balanced(*a, "core 1 down");
  REQUIRE(rt->core_up(c1) == 0);
  caches_match_cores(*rt, *a, "core 1 up");
  REQUIRE(run_on(*rt, c1, [&] { a->deallocate(a->allocate(100)); }) == static_cast<int>(c1));
  balanced(*a, "core 1 up, used");
}

TEST_CASE_FIXTURE(arena_on_cores, "fault injection at mm/arena:prepare and mm/arena:online on "
                  "each core leaves nothing behind: no cache structure, no byte, accounting "
                  "balanced") {
  NEEDS_TWO_CPUS();
  // Some memory in every cache first, so the teardowns have something to give back.
  for (unsigned core : rt->cores())
    REQUIRE(run_on(*rt, core, [&] {
              for (int i = 0; i < 50; ++i) a->deallocate(a->allocate(static_cast<std::size_t>(i * 33)));
            }) == static_cast<int>(core));
  for (unsigned core : rt->cores()) {
    for (int st : {a->prepare_state(), a->online_state()}) {
      CAPTURE(core);
      CAPTURE(st);
      // Up: the startup fails, the walk rolls back below the arena's states.
      REQUIRE(rt->core_down(core) == 0);
      REQUIRE(rt->set_fail(core, st) == 0);
      CHECK(rt->core_up(core) == -EAGAIN);
      CHECK(rt->state(core) < st);
      caches_match_cores(*rt, *a, "failed up");
      balanced(*a, "failed up");
      REQUIRE(rt->core_up(core) == 0);
      caches_match_cores(*rt, *a, "up again");
      REQUIRE(run_on(*rt, core, [&] { a->deallocate(a->allocate(1000)); }) ==
              static_cast<int>(core));
    }
    // Down: the online teardown fails, the core rolls back up with its cache alive.
    REQUIRE(rt->set_fail(core, a->online_state()) == 0);
    CHECK(rt->core_down(core) == -EAGAIN);
    CHECK(rt->state(core) == ONLINE);
    caches_match_cores(*rt, *a, "failed down");
    balanced(*a, "failed down");
    REQUIRE(run_on(*rt, core, [&] { a->deallocate(a->allocate(3000)); }) ==
            static_cast<int>(core));
    balanced(*a, "used after failed down");
  }
  // Destroying the arena gives its memory back to the OS: the span of a block is unmapped.
  void* small = nullptr;
  REQUIRE(run_on(*rt, rt->cores().front(), [&] { small = a->allocate(100); }) ==
          static_cast<int>(rt->cores().front()));
  void* span = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(small) &
                                       ~(static_cast<std::uintptr_t>(arena::span_size) - 1));
  unsigned char resident = 0;
  REQUIRE(::mincore(span, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), &resident) == 0);
  a.reset();
  CHECK(::mincore(span, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), &resident) == -1);
  CHECK(errno == ENOMEM);  // not mapped any more
  // A prepare failure of a core coming up, with an arena created while it was down.
  REQUIRE(rt->set_fail(rt->cores().back(), ARENA_PREPARE) == -EINVAL);  // PREPARE, core up
  REQUIRE(rt->core_down(rt->cores().back()) == 0);
  a = make_arena(*rt);  // core 1 is down: only core 0 has a cache
  caches_match_cores(*rt, *a, "created with core 1 down");
  REQUIRE(rt->set_fail(rt->cores().back(), ARENA_PREPARE) == 0);
  CHECK(rt->core_up(rt->cores().back()) == -EAGAIN);
  caches_match_cores(*rt, *a, "prepare failed");
  REQUIRE(rt->core_up(rt->cores().back()) == 0);
  caches_match_cores(*rt, *a, "end");
  balanced(*a, "end");
}

TEST_CASE("bad input: a huge request returns nullptr and loses nothing; deallocate(nullptr) "
          "is ignored") {
  auto rt = make_runtime();
  auto a = make_arena(*rt);
  CHECK(a->allocate(std::size_t{1} << 60) == nullptr);
  a->deallocate(nullptr);
  balanced(*a, "after bad input");
  CHECK(a->stats().allocated == 0);
}

TEST_CASE_FIXTURE(arena_on_cores, "the allocator stays consistent under cross-core frees with "
                  "cores churning: no block handed out twice, contents intact, accounting "
                  "balanced") {
  NEEDS_TWO_CPUS();
  block_exchange ex(*a);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    std::size_t round = 0;
    while (!stop.load()) {
      const unsigned core = rt->cores()[round++ % rt->cores().size()];
      if (rt->core_down(core) == 0) REQUIRE(rt->core_up(core) == 0);
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // not a wait: the pace
    }
  });
  std::thread outside([&] {
    for (unsigned i = 0; !stop.load(); ++i) ex.work(100000 + i);
  });
  constexpr int tasks = 1500;
  std::atomic<int> done{0};
  for (int t = 0; t < tasks; ++t)
    REQUIRE(rt->submit([&, t] {
      ex.work(static_cast<unsigned>(t));
      done.fetch_add(1, std::memory_order_release);
    }) == 0);
  REQUIRE(wait_until([&] { return done.load(std::memory_order_acquire) == tasks; },
                     std::chrono::seconds(60)));
  stop.store(true);
  churn.join();
  outside.join();
  ex.drain();
  CHECK(ex.corrupt.load() == 0);
  caches_match_cores(*rt, *a, "after churn");
  balanced(*a, "after churn");
  // Taking every core but one down hands all but that cache back to the arena.
  for (std::size_t i = 1; i < rt->cores().size(); ++i) REQUIRE(rt->core_down(rt->cores()[i]) == 0);
  balanced(*a, "one core left");
}
