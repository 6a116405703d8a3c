// SPDX-License-Identifier: MIT
// tools/demo.cpp — `hotcore demo`: one section after another over one runtime, each
// printing one part; the demo stops at the first that fails.
#include "demo.h"

#include <cstdio>
#include <string>
#include <vector>
#include <system_error>

#include "cycle.h"
#include "demo_subsystems.h"
#include "machine.h"
#include "hotcore/runtime.h"
#include "hotcore/topology.h"

namespace hotcore::tools {
namespace {

using hotcore::runtime;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;

// state_name() is the name of a state number in the runtime's listing, or "?".
std::string state_name(const runtime& rt, int state) {
  for (const hotcore::state_row& row : rt.states())
    if (row.state == state) return row.name;
  return "?";
}

// ---- demo sections: each prints one part and returns 0 or an exit status.

int print_topology(runtime&) {
  std::error_code ec;
  const hotcore::topology topo = hotcore::load_topology(ec);
  if (ec) {
    std::fprintf(stderr, "hotcore demo: load_topology: %s\n", ec.message().c_str());
    return exit_failed;
  }
  std::printf("== topology\n%s\n", hotcore::topology_text(topo).c_str());
  return exit_ok;
}

int print_state_table(runtime& rt) {
  std::printf("== hotplug states\n%s\n", rt.states_text().c_str());
  return exit_ok;
}

int print_core_states(runtime& rt) {
  std::printf("== cores\n");
  for (const unsigned core : rt.cores()) {
    const int st = rt.state(core);
    std::printf("  core %u: state %3d %-14s online=%d active=%d   kernel: %s\n", core, st,
                state_name(rt, st).c_str(), rt.core_online(core), rt.core_active(core),
                kernel_state_text(rt, core).c_str());
  }
  std::printf("\n");
  return exit_ok;
}

int demo_cycles(runtime& rt) {
  std::printf("== down/up cycles\n");
  cycle_options opts;
  opts.count = 100;
  opts.warmup = 10;
  const std::vector<unsigned> up = rt.online_cores();  // not one whose CPU is offline
  const unsigned core = up.empty() ? rt.cores().back() : up.back();
  return run_cycle(rt, core, opts, stdout) < 0 ? exit_failed : exit_ok;
}

// demo_sections run in this order; the demo stops at the first that fails.
constexpr int (*demo_sections[])(runtime&) = {
    print_topology,
    print_state_table,
    print_core_states,
    demo_cycles,
    demo_subsystems,  // tools/demo_subsystems.cpp
};

// demo_physical() takes the last core down and up in physical mode, showing the runtime's
// state beside the kernel's after each step.
int demo_physical(runtime& rt) {
  const unsigned core = rt.cores().back();
  if (!rt.core_physical(core)) {
    std::fprintf(stderr, "hotcore demo: cpu%u has no online file: the kernel cannot take it offline\n", core);
    return exit_failed;
  }
  std::printf("== physical down/up of core %u\n", core);
  for (const bool up : {false, true}) {
    const int ret = up ? rt.core_up(core) : rt.core_down(core);
    std::printf("  core_%s(%u) = %d: state %d %s   kernel: %s\n", up ? "up" : "down", core, ret,
                rt.state(core), state_name(rt, rt.state(core)).c_str(),
                kernel_state_text(rt, core).c_str());
    if (ret != 0) return exit_failed;
  }
  std::printf("\n");
  return exit_ok;
}

}  // namespace

int run_demo(std::unique_ptr<runtime>& rt, bool physical,
             const std::function<std::unique_ptr<runtime>()>& make_logical) {
  for (const auto section : demo_sections) {
    if (const int ret = section(*rt); ret != exit_ok) return ret;
    if (physical && section == print_core_states) {
      if (const int ret = demo_physical(*rt); ret != exit_ok) return ret;
      rt.reset();  // gives the CPU back as it was found
      if (!(rt = make_logical())) return exit_failed;
    }
  }
  return exit_ok;
}

}  // namespace hotcore::tools
