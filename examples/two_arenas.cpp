// SPDX-License-Identifier: MIT
// examples/two_arenas.cpp — two allocators on one runtime: each arena is an instance of the
// multi-instance states "mm/arena:prepare" and "mm/arena:online", with its own per-core
// caches and its own accounting; a core going down and up serves both.
#include <hotcore/hotcore.h>

#include <atomic>
#include <cstdio>
#include <vector>

namespace {
// run_on() runs fn as a task on `core` and waits for it.
template <class F>
bool run_on(hotcore::runtime& rt, unsigned core, F fn) {
  std::atomic<bool> done{false};
  if (rt.submit_on(core, [&] {
        fn();
        done.store(true, std::memory_order_release);
        done.notify_one();
      }) != 0)
    return false;
  done.wait(false, std::memory_order_acquire);
  return true;
}

void print(const char* name, const hotcore::arena& a) {
  const hotcore::arena_stats s = a.stats();
  std::printf("%-9s handed out %6llu B, returned %6llu B, %u live core caches\n", name,
              static_cast<unsigned long long>(s.allocated),
              static_cast<unsigned long long>(s.freed), s.live_caches);
}
}  // namespace

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return 1;
  // One arena for request buffers, one for a cache of parsed headers: two instances of
  // the same two states.
  auto requests = hotcore::arena::create(*rt, ec);
  auto headers = hotcore::arena::create(*rt, ec);
  if (!requests || !headers) {
    std::fprintf(stderr, "arena::create: %s\n", ec.message().c_str());
    return 1;
  }
  const unsigned last = rt->cores().back();
  std::vector<void*> held;
  for (unsigned core : rt->cores())
    if (!run_on(*rt, core, [&] {
          held.push_back(requests->allocate(4096));
          held.push_back(headers->allocate(96));
        }))
      return 1;
  if (rt->cores().size() > 1) {
    // The last core's caches of both arenas go back to their shared arenas, and come
    // back alive (empty) with the core.
    if (rt->core_down(last) != 0 || rt->core_up(last) != 0) return 1;
  }
  std::fputs(rt->states_text().c_str(), stdout);  // "  2: mm/arena:prepare (2 instances)"
  for (std::size_t i = 0; i < held.size(); i += 2) {
    requests->deallocate(held[i]);
    headers->deallocate(held[i + 1]);
  }
  print("requests", *requests);
  print("headers", *headers);
  const bool ok = requests->stats().allocated == requests->stats().freed &&
                  headers->stats().allocated == headers->stats().freed &&
                  requests->stats().allocated != headers->stats().allocated;
  headers.reset();  // one instance removed; "requests" keeps its caches
  requests.reset();
  return ok ? 0 : 1;
}
