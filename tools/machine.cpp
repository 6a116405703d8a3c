// SPDX-License-Identifier: MIT
// tools/machine.cpp — `hotcore topology` and the kernel-state column of `hotcore demo`.
#include "machine.h"

#include <cstdint>
#include <cstdio>
#include <system_error>

#include "hotcore/topology.h"
#include "json_writer.h"

namespace hotcore::tools {

// topology_json() writes the topology as one JSON object.
void topology_json(std::FILE* out, const topology& topo) {
  json_writer j(out);
  const auto list = [&j](std::string_view key, const std::vector<unsigned>& v) {
    j.key(key);
    j.begin_array();
    for (const unsigned x : v) j.value(x);
    j.end_array();
  };
  j.begin_object();
  j.field("packages", topo.packages);
  j.field("numa_nodes", topo.numa_nodes);
  j.field("cores", topo.cores);
  j.key("pus");
  j.begin_array();
  for (const pu_info& pu : topo.pus) {
    j.begin_object();
    j.field("os_index", pu.os_index);
    j.field("core", pu.core);
    j.field("package", pu.package);
    j.field("numa_node", pu.numa_node);
    j.field("online", pu.online);
    j.field("allowed", pu.allowed);
    j.field("worker", pu.worker);
    list("siblings", pu.siblings);
    j.end_object();
  }
  j.end_array();
  j.key("caches");
  j.begin_array();
  for (const cache_info& c : topo.caches) {
    j.begin_object();
    j.field("level", c.level);
    j.field("type", std::string_view(&c.type, 1));
    j.field("size", static_cast<std::int64_t>(c.size));
    j.field("line_size", c.line_size);
    list("pus", c.pus);
    j.end_object();
  }
  j.end_array();
  list("worker_cores", topo.worker_cores);
  j.end_object();
}

int run_topology(bool per_core, bool json) {
  const worker_policy policy = per_core ? worker_policy::per_core : worker_policy::per_pu;
  std::error_code ec;
  const topology topo = load_topology(ec, policy);
  if (ec) {
    std::fprintf(stderr, "hotcore topology: load_topology: %s\n", ec.message().c_str());
    return 1;
  }
  if (json) topology_json(stdout, topo);
  else std::fputs(topology_text(topo).c_str(), stdout);
  return 0;
}

std::string kernel_state_text(const runtime& rt, unsigned core) {
  const int state = rt.kernel_state(core);
  return "cpu" + std::to_string(core) + "/hotplug/state " +
         (state < 0 ? std::string("?") : std::to_string(state));
}

}  // namespace hotcore::tools
