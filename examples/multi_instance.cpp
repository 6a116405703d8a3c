// SPDX-License-Identifier: MIT
// examples/multi_instance.cpp — one multi-instance state serves many objects: each
// connection pool gets a per-core slot on every online core, added and removed on its own.
#include <hotcore/hotcore.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace {
struct pool : hotcore::instance_node {
  std::string name;
  std::map<unsigned, int> per_core;  // touched only under the hotplug serialization
};

int pool_online(unsigned core, hotcore::instance_node* node) {
  auto* p = static_cast<pool*>(node);
  p->per_core[core] = 0;
  std::printf("%s: core %u up\n", p->name.c_str(), core);
  return 0;
}

int pool_offline(unsigned core, hotcore::instance_node* node) {
  auto* p = static_cast<pool*>(node);
  p->per_core.erase(core);
  std::printf("%s: core %u down\n", p->name.c_str(), core);
  return 0;
}
}  // namespace

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return 1;
  const int state = rt->setup_state_multi(hotcore::ONLINE_DYN, "example/pool:online",
                                          pool_online, pool_offline);
  if (state < 0) return 1;
  pool a, b;
  a.name = "pool-a";
  b.name = "pool-b";
  for (pool* p : {&a, &b})
    if (int r = rt->add_instance(state, p); r < 0) {
      std::fprintf(stderr, "add_instance: %s\n", std::strerror(-r));
      return 1;
    }
  if (rt->cores().size() > 1) {  // both pools follow the core down and up
    (void)rt->core_down(rt->cores().back());
    (void)rt->core_up(rt->cores().back());
  }
  for (pool* p : {&a, &b}) (void)rt->remove_instance(state, p);
  return rt->remove_multi_state(state) < 0 ? 1 : 0;
}
