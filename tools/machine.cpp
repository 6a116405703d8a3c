// SPDX-License-Identifier: MIT
// tools/machine.cpp — `hotcore topology` and the kernel-state column of `hotcore demo`.
#include "machine.h"

#include <cstdio>
#include <system_error>

#include "hotcore/topology.h"

namespace hotcore::tools {

int run_topology(bool per_core) {
  const worker_policy policy = per_core ? worker_policy::per_core : worker_policy::per_pu;
  std::error_code ec;
  const topology topo = load_topology(ec, policy);
  if (ec) {
    std::fprintf(stderr, "hotcore topology: load_topology: %s\n", ec.message().c_str());
    return 1;
  }
  std::fputs(topology_text(topo).c_str(), stdout);
  return 0;
}

std::string kernel_state_text(unsigned cpu) {
  const std::string path = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/hotplug/state";
  std::string out = "cpu" + std::to_string(cpu) + "/hotplug/state ";
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    int state = -1;
    const bool ok = std::fscanf(f, "%d", &state) == 1;
    std::fclose(f);
    if (ok) return out + std::to_string(state);
  }
  return out + "?";
}

}  // namespace hotcore::tools
