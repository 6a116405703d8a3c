// tools/hotcore.cpp — the `hotcore` command-line program: `states`, `cycle` and `demo`
// over one runtime; exit 0 on success, 1 when an operation failed, 2 on a usage error.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cycle.h"
#include "demo_subsystems.h"
#include "follow_quota.h"
#include "machine.h"
#include "restore.h"
#include "soak.h"
#include "hotcore/runtime.h"
#include "hotcore/topology.h"

namespace {

using hotcore::runtime;
using args_t = std::vector<std::string_view>;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

constexpr const char* usage_text =
    "usage: hotcore <command> [options]\n"
    "\n"
    "commands:\n"
    "  states                 list every named hotplug state (\"%3d: name\")\n"
    "  topology [--per-core]  the machine as hwloc sees it: packages, NUMA nodes, cores,\n"
    "                         PUs with their SMT siblings, caches, and the worker cores\n"
    "                         (one per PU, or one per physical core)\n"
    "  cycle [--core N] [--count K] [--states S]\n"
    "                         time K core_down/core_up cycles of core N (default: the\n"
    "                         last core, K=1000) with S empty ONLINE states registered\n"
    "                         (default 8, at most 40); print median and p99 of down, up\n"
    "                         and down+up, and the per-state callback cost table\n"
    "  cycle --physical [...] as root: the same in physical mode, the kernel takes the\n"
    "                         core's CPU offline and online each cycle (default K=20);\n"
    "                         the kernel's part and the runtime's part of each half, and\n"
    "                         the kernel's part by kernel state (its cpuhp tracepoints)\n"
    "  demo [--physical]      topology, state table, per-core state beside the kernel's\n"
    "                         cpuN/hotplug/state, 100 cycles of the last core with 8\n"
    "                         empty states and their cost table (--physical, as root:\n"
    "                         one physical down/up of the last core, states shown)\n"
    "  soak --seconds S [--churn-ms M] [--threads T] [--follow]\n"
    "                         submit tasks from T threads (default 3) while cores go down\n"
    "                         and up every M ms (default 5, 0: never); print \"submitted N\n"
    "                         ran N lost 0 duplicated 0\"; exit 1 if a task was lost or\n"
    "                         ran twice; --follow: the runtime follows the kernel's\n"
    "                         CPU hotplug (a CPU offlined by someone else)\n"
    "  follow-quota [--seconds S] [--drive] [--poll-ms M] [--no-inotify]\n"
    "               [--rounding ceil|floor|headroom]\n"
    "                         run a busy workload for S seconds (default 10) while the\n"
    "                         runtime follows the process's cgroup CPU quota; print one\n"
    "                         line per change (quota, cores, reaction time), then the\n"
    "                         reaction median and p99 and the follower's CPU use. --drive\n"
    "                         (root, cgroup v1): write quotas into a group of its own and\n"
    "                         time each write to the runtime at the new core count\n"
    "  restore                as root: repair what a killed physical-mode process left:\n"
    "                         bring back online each CPU a dead process recorded under\n"
    "                         /run/hotcore/ as taken offline, remove its tracefs instance;\n"
    "                         CPUs offline without a record (an operator's) stay offline\n"
    "  --help                 this text\n"
    "\n"
    "exit status: 0 success, 1 an operation failed, 2 usage error\n";

// make_runtime() creates a runtime with every core online (at least one core), or reports
// why it could not.
std::unique_ptr<runtime> make_runtime(const char* command,
                                      const hotcore::runtime_options& options = {}) {
  std::error_code ec;
  auto rt = runtime::create(options, ec);
  if (!rt) {
    std::fprintf(stderr, "hotcore %s: cannot create the runtime: %s%s\n", command,
                 ec.message().c_str(),
                 !options.physical                      ? ""
                 : ec == std::errc::no_such_device      ? " (physical mode: no worker core's CPU "
                                                          "has /sys/devices/system/cpu/cpuN/online)"
                 : ec == std::errc::device_or_resource_busy
                     ? " (physical mode: another physical-mode runtime holds a worker core's CPU; "
                       "its pid is in /run/hotcore/cpuN.lock)"
                                                        : " (physical mode needs write access to "
                                                          "/sys/devices/system/cpu/cpuN/online: root)");
  } else if (rt->cores().empty()) {
    std::fprintf(stderr, "hotcore %s: the runtime has no worker cores\n", command);
    return nullptr;
  }
  return rt;
}

// no_args() rejects arguments after a command that takes none.
bool no_args(const char* command, const args_t& args) {
  if (args.empty()) return true;
  std::fprintf(stderr, "hotcore %s: unexpected argument '%.*s'\n", command,
               static_cast<int>(args[0].size()), args[0].data());
  return false;
}

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
                hotcore::tools::kernel_state_text(core).c_str());
  }
  std::printf("\n");
  return exit_ok;
}

int demo_cycles(runtime& rt) {
  std::printf("== down/up cycles\n");
  hotcore::tools::cycle_options opts;
  opts.count = 100;
  opts.warmup = 10;
  const std::vector<unsigned> up = rt.online_cores();  // not one whose CPU is offline
  const unsigned core = up.empty() ? rt.cores().back() : up.back();
  return hotcore::tools::run_cycle(rt, core, opts, stdout) < 0 ? exit_failed : exit_ok;
}

// demo_sections run in this order; the demo stops at the first that fails.
constexpr int (*demo_sections[])(runtime&) = {
    print_topology,
    print_state_table,
    print_core_states,
    demo_cycles,
    hotcore::tools::demo_subsystems,  // tools/demo_subsystems.cpp
};

// ---- commands

int cmd_states(const args_t& args) {
  if (!no_args("states", args)) return exit_usage;
  const auto rt = make_runtime("states");
  if (!rt) return exit_failed;
  std::fputs(rt->states_text().c_str(), stdout);
  return exit_ok;
}

int cmd_cycle(const args_t& args) {
  hotcore::tools::cycle_options opts;
  if (!hotcore::tools::parse_cycle_args(args, opts)) return exit_usage;
  hotcore::runtime_options ropts;
  ropts.physical = opts.physical;
  const auto rt = make_runtime("cycle", ropts);
  if (!rt) return exit_failed;
  const std::vector<unsigned>& cores = rt->cores();
  const unsigned core = opts.core.value_or(cores.back());
  if (std::find(cores.begin(), cores.end(), core) == cores.end()) {
    std::string list;
    for (const unsigned c : cores) list += " " + std::to_string(c);
    std::fprintf(stderr, "hotcore cycle: core %u is not a worker core (worker cores:%s)\n",
                 core, list.c_str());
    return exit_usage;
  }
  if (opts.physical) {
    if (!rt->core_physical(core)) {
      std::fprintf(stderr, "hotcore cycle: cpu%u has no online file: the kernel cannot take it offline\n", core);
      return exit_failed;
    }
  }
  return hotcore::tools::run_cycle(*rt, core, opts, stdout) < 0 ? exit_failed : exit_ok;
}

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
                hotcore::tools::kernel_state_text(core).c_str());
    if (ret != 0) return exit_failed;
  }
  std::printf("\n");
  return exit_ok;
}

int cmd_demo(const args_t& args) {
  const bool physical = args.size() == 1 && args[0] == "--physical";
  if (!physical && !no_args("demo", args)) return exit_usage;
  hotcore::runtime_options ropts;
  ropts.physical = physical;
  auto rt = make_runtime("demo", ropts);
  if (!rt) return exit_failed;
  for (const auto section : demo_sections) {
    if (const int ret = section(*rt); ret != exit_ok) return ret;
    if (physical && section == print_core_states) {
      if (const int ret = demo_physical(*rt); ret != exit_ok) return ret;
      // One physical down/up, as the help says: the rest of the demo moves cores logically.
      rt.reset();
      if (!(rt = make_runtime("demo"))) return exit_failed;
    }
  }
  return exit_ok;
}

int cmd_topology(const args_t& args) { return hotcore::tools::topology_main(args); }

int cmd_restore(const args_t& args) {
  if (!no_args("restore", args)) return exit_usage;
  return hotcore::tools::restore_main(hotcore::tools::restore_options{});
}

struct command {
  std::string_view name;
  int (*run)(const args_t& args);
};

constexpr command commands[] = {
    {"states", cmd_states},
    {"topology", cmd_topology},
    {"cycle", cmd_cycle},
    {"demo", cmd_demo},
    {"restore", cmd_restore},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(usage_text, stderr);
    return exit_usage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(usage_text, stdout);
    return exit_ok;
  }
  if (name == "soak") return soak_main(argc - 1, argv + 1);  // tools/soak.cpp
  if (name == "follow-quota") return follow_quota_main(argc - 1, argv + 1);  // tools/follow_quota.cpp
  const args_t args(argv + 2, argv + argc);
  for (const command& c : commands)
    if (c.name == name) return c.run(args);
  std::fprintf(stderr, "hotcore: unknown command '%s' (see hotcore --help)\n", argv[1]);
  return exit_usage;
}
