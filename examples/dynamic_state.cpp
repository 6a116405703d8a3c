// SPDX-License-Identifier: MIT
// examples/dynamic_state.cpp — a subsystem keeps a per-core cache alive exactly while its
// core is online, with one dynamically allocated ONLINE state.
#include <hotcore/hotcore.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>

namespace {
std::array<std::unique_ptr<char[]>, 1024> caches;  // one per OS CPU number

int cache_online(unsigned core) {  // runs on `core`'s hotplug thread, pinned to it
  caches[core] = std::make_unique<char[]>(64 * 1024);
  std::printf("cache up on core %u\n", core);
  return 0;
}

int cache_offline(unsigned core) {
  caches[core].reset();
  std::printf("cache down on core %u\n", core);
  return 0;
}
}  // namespace

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) {
    std::fprintf(stderr, "create: %s\n", ec.message().c_str());
    return 1;
  }
  // Runs cache_online on every online core now; > 0 is the state number we were given.
  const int state = rt->setup_state(hotcore::ONLINE_DYN, "example/cache:online", cache_online,
                                    cache_offline);
  if (state < 0) {
    std::fprintf(stderr, "setup_state: %s\n", std::strerror(-state));
    return 1;
  }
  const unsigned last = rt->cores().back();
  if (rt->cores().size() > 1) {
    if (int r = rt->core_down(last); r < 0) std::fprintf(stderr, "core_down: %s\n", std::strerror(-r));
    if (int r = rt->core_up(last); r < 0) std::fprintf(stderr, "core_up: %s\n", std::strerror(-r));
  }
  return rt->remove_state(state) < 0 ? 1 : 0;  // cache_offline on every online core
}
