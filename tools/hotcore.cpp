// SPDX-License-Identifier: MIT
// tools/hotcore.cpp — the `hotcore` command-line program: the command table, and for each
// command its options (read by the one parser, tools/cli.h) and the call that runs it.
// Exit status 0 success, 1 an operation failed, 2 usage error (cli::exit_*).
//
// Adding a command is one row in `commands` below plus its cmd_NAME(): declare the
// options into the command's options struct, call cli::parse(), run.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli.h"
#include "cycle.h"
#include "demo.h"
#include "follow_quota.h"
#include "guard.h"
#include "flag_limits.h"
#include "json_mode.h"
#include "json_writer.h"
#include "machine.h"
#include "restore.h"
#include "soak.h"
#include "hotcore/runtime.h"
#include "hotcore/version.h"

namespace {

namespace cli = hotcore::tools::cli;
namespace limits = hotcore::tools::limits;
namespace json_mode = hotcore::tools::json_mode;
using hotcore::runtime;
using cli::exit_failed;
using cli::exit_ok;
using cli::exit_usage;

// make_runtime() creates a runtime (by default with every core online, at least one
// core), or reports why it could not.
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
                                                          "/sys/devices/system/cpu/cpuN/online: root, "
                                                          "or the group hotcore with hotcore-guard running)");
  } else if (rt->cores().empty()) {
    std::fprintf(stderr, "hotcore %s: the runtime has no worker cores\n", command);
    return nullptr;
  }
  return rt;
}

// json_lines_row() is --json for a command whose report is lines of text.
cli::option json_lines_row(bool& json) {
  return cli::flag("json", json, "one JSON object: {\"command\", \"lines\": [the report's lines]}");
}

// ---- one function per command: its options, then the run.

int cmd_states(const cli::command& self, int argc, char** argv) {
  bool json = false;
  const cli::option opts[] = {
      cli::flag("json", json, "a JSON array of {\"state\", \"name\"} objects"),
  };
  if (const int done = cli::parse(self, argc, argv, opts); done >= 0) return done;
  // The listing is the state table: no core needs to come up to print it.
  hotcore::runtime_options ropts;
  ropts.online_at_start = false;
  const auto rt = make_runtime(self.name, ropts);
  if (!rt) return exit_failed;
  if (!json) {
    std::fputs(rt->states_text().c_str(), stdout);
    return exit_ok;
  }
  hotcore::tools::json_writer j(stdout);
  j.begin_array();
  for (const hotcore::state_row& row : rt->states()) {
    j.begin_object();
    j.field("state", row.state);
    j.field("name", row.name);
    j.end_object();
  }
  j.end_array();
  return exit_ok;
}

int cmd_topology(const cli::command& self, int argc, char** argv) {
  bool per_core = false;
  bool json = false;
  const cli::option opts[] = {
      cli::flag("per-core", per_core, "one worker core per physical core (its first PU)\n"
                                      "instead of one per PU"),
      cli::flag("json", json, "one JSON object: counts, PUs, caches, worker cores"),
  };
  if (const int done = cli::parse(self, argc, argv, opts); done >= 0) return done;
  return hotcore::tools::run_topology(per_core, json);
}

// check_cycle_cores() refuses (usage error, its exit code) a core that is not a worker
// core, or with --physical one whose CPU the kernel cannot take offline; -1 when all fit.
int check_cycle_cores(const cli::command& self, hotcore::runtime& rt,
                      const std::vector<unsigned>& cores, bool physical) {
  const std::vector<unsigned>& workers = rt.cores();
  for (const unsigned core : cores) {
    if (std::find(workers.begin(), workers.end(), core) == workers.end())
      return cli::usage_error(self, "core " + std::to_string(core) +
                                        " is not a worker core (worker cores: " +
                                        cli::cpu_list_text(workers) + ")");
    if (physical && !rt.core_physical(core))
      return cli::usage_error(self, "--physical: cpu" + std::to_string(core) +
                                        " has no online file, the kernel cannot take it offline");
  }
  return -1;
}

int cmd_cycle(const cli::command& self, int argc, char** argv) {
  hotcore::tools::cycle_options opts;
  std::vector<unsigned> cores;
  long count = 0;  // 0: not given, the default of the mode
  const cli::option table[] = {
      cli::cpus("core", cores, "the cores to cycle, one after another (default: the last)"),
      cli::number("count", "K", count, 1, limits::cycle_count_max,
                  "measured down+up cycles per core (default 1000, physical 20)"),
      cli::number("states", "S", opts.states, 0, hotcore::tools::max_empty_states,
                  "empty ONLINE states registered for the run (default 8)"),
      cli::flag("physical", opts.physical,
                "as root: the kernel takes each core's CPU offline and online\n"
                "too; report the kernel's part by kernel state"),
      cli::flag("json", opts.json,
                "one JSON object per core (an array of them): latency and\n"
                "per-state cost in ns, each state's part (kernel or runtime)"),
      cli::flag("subsystems", opts.subsystems,
                "cycle with an io_uring ring, an arena and a timer service up\n"
                "(their states are in the per-state table)"),
      {"trace-out", "FILE",
       "write the traced cycles as Chrome/Perfetto trace-event JSON\n"
       "(open it in ui.perfetto.dev); with several cores, the last one's",
       [&opts](const char* text) -> std::string {
         if (*text == '\0') return "a file name";
         opts.trace_out = text;
         return "";
       }},
  };
  if (const int done = cli::parse(self, argc, argv, table); done >= 0) return done;
  if (!opts.trace_out.empty())  // refused now, not after the run has printed its results
    if (const int bad = cli::check_output_path(self, "trace-out", opts.trace_out); bad >= 0)
      return bad;
  if (opts.physical) {
    opts.count = 20;
    opts.warmup = 2;
  }
  if (count != 0) opts.count = count;
  if (opts.physical && opts.count > limits::physical_cycle_count_max)
    return cli::usage_error(self, "--physical takes at most --count " +
                                      std::to_string(limits::physical_cycle_count_max));

  hotcore::runtime_options ropts;
  ropts.physical = opts.physical;
  const auto rt = make_runtime(self.name, ropts);
  if (!rt) return exit_failed;
  if (cores.empty()) cores.push_back(rt->cores().back());
  if (const int bad = check_cycle_cores(self, *rt, cores, opts.physical); bad >= 0) return bad;
  if (opts.json) std::printf("[");
  for (std::size_t i = 0; i < cores.size(); ++i) {
    if (i > 0) std::printf(opts.json ? "," : "\n");
    opts.core = cores[i];
    if (hotcore::tools::run_cycle(*rt, cores[i], opts, stdout) < 0) return exit_failed;
  }
  if (opts.json) std::printf("]\n");
  return exit_ok;
}

int cmd_demo(const cli::command& self, int argc, char** argv) {
  bool physical = false;
  bool json = false;
  const cli::option opts[] = {
      cli::flag("physical", physical, "as root: also one physical down/up of the last core,\n"
                                      "the runtime's state beside the kernel's"),
      json_lines_row(json),
  };
  if (const int done = cli::parse(self, argc, argv, opts); done >= 0) return done;
  if (json) json_mode::wrap_lines();
  hotcore::runtime_options ropts;
  ropts.physical = physical;
  auto rt = make_runtime(self.name, ropts);
  if (!rt) return exit_failed;
  // One physical down/up, as the help says: the rest of the demo moves cores logically.
  return hotcore::tools::run_demo(rt, physical, [&] { return make_runtime(self.name); });
}

int cmd_restore(const cli::command& self, int argc, char** argv) {
  bool json = false;
  const cli::option opts[] = {json_lines_row(json)};
  if (const int done = cli::parse(self, argc, argv, opts); done >= 0) return done;
  if (json) json_mode::wrap_lines();
  return hotcore::tools::restore_main(hotcore::tools::restore_options{});
}

int cmd_guard(const cli::command& self, int argc, char** argv) {
  if (const int done = cli::parse(self, argc, argv, {}); done >= 0) return done;
  return hotcore::tools::guard_main();
}

int cmd_soak(const cli::command& self, int argc, char** argv) {
  soak_options opts;
  const cli::option table[] = {
      cli::number("seconds", "S", opts.seconds, 1, limits::seconds_max, "how long to soak (default 10)"),
      cli::number("churn-ms", "M", opts.churn_ms, 0, limits::period_ms_max,
                  "a random core goes down or up every M ms (default 5; 0: never)"),
      cli::number("threads", "T", opts.threads, 1, limits::threads_max, "submitting threads (default 3)"),
      cli::flag("follow", opts.follow,
                "the runtime follows the kernel's CPU hotplug (a CPU that\n"
                "someone else offlines)"),
      cli::flag("json", opts.json, "print the counts as one JSON object"),
  };
  if (const int done = cli::parse(self, argc, argv, table); done >= 0) return done;
  return run_soak(opts);
}

int cmd_follow_quota(const cli::command& self, int argc, char** argv) {
  follow_options opts;
  bool no_inotify = false;
  int rounding = 0;  // index into the words below, in quota_rounding's order
  const cli::option table[] = {
      cli::number("seconds", "S", opts.seconds, 1, limits::seconds_max, "how long to run (default 10)"),
      cli::flag("drive", opts.drive,
                "as root, cgroup v1: write quotas into a group of its own and\n"
                "time each write to the runtime at the new core count"),
      cli::number("poll-ms", "M", opts.poll_ms, 0, limits::period_ms_max,
                  "read the quota every M ms (default 40; 0: never poll)"),
      cli::flag("no-inotify", no_inotify, "do not watch the cgroup files with inotify"),
      cli::choice("rounding", "HOW", {"ceil", "floor", "headroom"}, rounding,
                  "cores for a fractional quota: ceil (default), floor, headroom"),
      cli::flag("json", opts.json,
                "at the end, one JSON object on stdout: every change with its\n"
                "reaction time (ns), the summary, the follower's counters; the\n"
                "lines go to stderr"),
  };
  if (const int done = cli::parse(self, argc, argv, table); done >= 0) return done;
  opts.inotify = !no_inotify;
  constexpr hotcore::quota_rounding roundings[] = {hotcore::quota_rounding::ceil,
                                                   hotcore::quota_rounding::floor,
                                                   hotcore::quota_rounding::headroom};
  opts.rounding = roundings[rounding];
  if (opts.poll_ms == 0 && !opts.inotify)
    return cli::usage_error(self, "--poll-ms 0 with --no-inotify would never look");
  return run_follow_quota(opts);
}

// The command table: `hotcore --help` lists it, main() dispatches through it, and each
// row's description heads its `--help`.
constexpr cli::command commands[] = {
    {"states", "list every named hotplug state (\"%3d: name\")",
     "List every named hotplug state of a new runtime as the kernel's\n"
     "/sys/devices/system/cpu/hotplug/states does, one \"%3d: name\" line each.\n"
     "No core is brought up to print it.",
     cmd_states},
    {"topology", "the machine as hwloc sees it, and the worker cores",
     "Print the machine as hwloc sees it: packages, NUMA nodes, cores, PUs with\n"
     "their SMT siblings, caches, and which PUs become worker cores.",
     cmd_topology},
    {"cycle", "time core_down/core_up cycles and print the per-state cost",
     "Time K core_down/core_up cycles of each given core with S empty ONLINE states\n"
     "registered; print the median and p99 of down, up and down+up, the per-state\n"
     "callback cost from a second, traced run, and from a third run where each\n"
     "half's time goes (outside the walk, in callbacks, in the hand-over). The\n"
     "calling thread runs on the CPUs it may use but the cycled core's.",
     cmd_cycle},
    {"demo", "topology, states, per-core state, cycles and subsystems",
     "The topology, the state table, each core's state beside the kernel's\n"
     "cpuN/hotplug/state, 100 cycles of the last core with 8 empty states and their\n"
     "cost table, then the per-core subsystems at work.",
     cmd_demo},
    {"soak", "submit tasks while cores churn; every task must run exactly once",
     "Submit tasks from T threads every way the API allows while cores go down and\n"
     "up every M ms; print \"submitted N ran N lost 0 duplicated 0\". Exit 1 if a\n"
     "task was lost or ran twice.",
     cmd_soak},
    {"follow-quota", "follow the cgroup CPU quota under load; time each reaction",
     "Run a busy workload for S seconds while the runtime follows the process's\n"
     "cgroup CPU quota; print one line per change (quota, cores, reaction time),\n"
     "then the reaction median and p99 and the follower's CPU use.",
     cmd_follow_quota},
    {"restore", "as root: repair what a killed physical-mode process left",
     "Bring back online each CPU that a dead physical-mode process recorded under\n"
     "/run/hotcore/ as taken offline, and remove its tracefs instance. A CPU offline\n"
     "without a record (an operator's), or recorded by a live process, stays as it is.",
     cmd_restore},
    {"guard", "as root: the guard service physical-mode runtimes register with",
     "Serve /run/hotcore/guard.sock until SIGTERM: physical-mode runtimes (root, or\n"
     "members of the group hotcore) have it claim, offline and online their CPUs; when\n"
     "a runtime's process ends, however it ends, every CPU it changed goes back to\n"
     "the state the runtime found it in. Run by systemd/hotcore-guard.service.",
     cmd_guard},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: hotcore COMMAND [options]\n       hotcore COMMAND --help\n\ncommands:\n");
  for (const cli::command& c : commands) std::fprintf(out, "  %-14s  %s\n", c.name, c.summary);
  std::fprintf(out,
               "\n  -h, --help     print this help and exit\n"
               "  --version      print the version and exit\n"
               "\nexit status: 0 success, 1 an operation failed, 2 usage error\n"
               "See hotcore(1) for more.\n");
}

// program_main() is main() before the output check.
int program_main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return exit_usage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "--version") {
    if (argc > 2) {
      std::fprintf(stderr, "hotcore: unexpected argument '%s' after %s\n",
                   cli::printable(argv[2]).c_str(), argv[1]);
      return exit_usage;
    }
    if (name == "--version") std::printf("hotcore %s\n", hotcore::version());
    else print_usage(stdout);
    return exit_ok;
  }
  for (const cli::command& c : commands)
    if (c.name == name) return c.main(c, argc - 1, argv + 1);
  std::fprintf(stderr, "hotcore: unknown command '%s' (see 'hotcore --help')\n",
               cli::printable(name).c_str());
  return exit_usage;
}

}  // namespace

int main(int argc, char** argv) { return cli::finish_output(program_main(argc, argv)); }
