// SPDX-License-Identifier: MIT
// tools/cycle.cpp — `hotcore cycle`: the timed down/up loop, the traced
// run, the split run and the tables they print.
#include "cycle.h"

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "chrome_trace.h"
#include "control_cpu.h"
#include "cycle_split.h"
#include "empty_states.h"
#include "flag_limits.h"
#include "json_writer.h"
#include "kernel_trace.h"
#include "stats.h"
#include "subsystems_up.h"

namespace hotcore::tools {
namespace {

// fail_op() reports a failed runtime operation on stderr and hands its error back.
int fail_op(const char* op, unsigned core, int ret) {
  std::fprintf(stderr, "hotcore cycle: %s(%u): %s%s\n", op, core, std::strerror(-ret),
               ret == -EHOSTDOWN ? " (the kernel has the CPU offline: someone wrote 0 to its "
                                   "online file; pick another core with --core)"
                                 : "");
  return ret;
}

// samples counts the durations of the measured cycles, in nanoseconds, in fixed memory.
struct samples {
  log_histogram down, up, total;
};

// one_cycle() takes the core down and up again, adding the two durations to out if given.
int one_cycle(runtime& rt, unsigned core, samples* out) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  if (const int ret = rt.core_down(core); ret < 0) return fail_op("core_down", core, ret);
  const auto t1 = clock::now();
  if (const int ret = rt.core_up(core); ret < 0) return fail_op("core_up", core, ret);
  const auto t2 = clock::now();
  if (out) {
    const auto ns = [](clock::duration d) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    };
    out->down.add(ns(t1 - t0));
    out->up.add(ns(t2 - t1));
    out->total.add(ns(t2 - t0));
  }
  return 0;
}

// cycles() runs `count` cycles, recording them into out if given, and with `costs`, each
// cycle's trace (taken after every cycle, so the trace never grows).
int cycles(runtime& rt, unsigned core, long count, samples* out, cost_accumulator* costs = nullptr) {
  for (long i = 0; i < count; ++i) {
    if (const int ret = one_cycle(rt, core, out); ret < 0) return ret;
    if (costs) costs->add(rt.take_trace());
  }
  return 0;
}

void print_latency(std::FILE* out, const samples& s) {
  const auto row = [out](const char* what, const log_histogram& ns) {
    const summary sm = ns.summarize();
    std::fprintf(out, "  %-8s %10.2f %10.2f\n", what, static_cast<double>(sm.median) / 1e3,
                 static_cast<double>(sm.p99) / 1e3);
  };
  std::fprintf(out, "  %-8s %10s %10s   (us)\n", "", "median", "p99");
  row("down", s.down);
  row("up", s.up);
  row("down+up", s.total);
}

// print_costs() prints the per-state table; with `parts`, a column says whose cost each
// row is: the kernel's (cpu:physical, the write to cpuN/online) or the runtime's.
void print_costs(std::FILE* out, const std::vector<state_cost>& rows, bool parts) {
  std::fprintf(out, "  %5s  %-24s %-4s %7s %10s %10s%s\n", "state", "name", "dir", "count",
               "median", "p99", parts ? "  part" : "");
  for (const state_cost& r : rows)
    std::fprintf(out, "  %5d  %-24s %-4s %7zu %10lld %10lld%s\n", r.state, r.name.c_str(),
                 r.dir == direction::up ? "up" : "down", r.ns.count,
                 static_cast<long long>(r.ns.median), static_cast<long long>(r.ns.p99),
                 !parts ? "" : r.state == CPU_PHYSICAL ? "  kernel" : "  runtime");
}

// kernel_ns() is the time the kernel's own hotplug took in a trace: the cpu:physical
// callbacks (each is one write to cpuN/online, which returns once the kernel is done).
std::int64_t kernel_ns(const std::vector<trace_event>& trace) {
  std::int64_t ns = 0;
  for (const trace_event& ev : trace)
    if (ev.state == CPU_PHYSICAL && !ev.injected) ns += ev.nanoseconds;
  return ns;
}

// half_window is one traced half cycle on CLOCK_MONOTONIC, and the kernel's part of it.
struct half_window {
  std::int64_t begin_ns, end_ns, kernel_ns;
  bool up;
};

// union_ns() is how much time the [begin, end) spans cover together (overlaps once).
std::int64_t union_ns(std::vector<std::pair<std::int64_t, std::int64_t>> spans) {
  std::sort(spans.begin(), spans.end());
  std::int64_t covered = 0, reach = INT64_MIN;
  for (const auto& [b, e] : spans) {
    if (e <= reach) continue;
    covered += e - std::max(b, reach);
    reach = e;
  }
  return covered;
}

// print_kernel_states() splits the kernel's part of the traced halves into the kernel's own
// states: per state and direction, the median and p99 over the halves that ran it (a
// multi-instance state's instances added up). States under 20 us at the median are
// summed into one line; the time no traced callback covers is the last line.
void print_kernel_states(std::FILE* out, const std::vector<half_window>& halves,
                         const std::vector<kernel_step>& steps) {
  struct row {
    std::string where;
    std::map<std::size_t, std::int64_t> per_half;  // half index -> ns
  };
  std::map<std::pair<int, int>, row> rows;  // (0, -step) down, (1, step) up: walk order
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> spans(halves.size());
  for (const kernel_step& s : steps) {
    std::size_t h = 0;
    while (h < halves.size() && !(s.end_ns >= halves[h].begin_ns && s.end_ns <= halves[h].end_ns)) ++h;
    if (h == halves.size() || halves[h].up != s.up) continue;  // not ours (another writer)
    row& r = rows[{s.up ? 1 : 0, s.up ? s.step : -s.step}];
    if (r.where.empty()) r.where = s.where;
    r.per_half[h] += s.ns;
    spans[h].emplace_back(s.end_ns - s.ns, s.end_ns);
  }
  const std::map<int, std::string> names = kernel_state_names();
  std::fprintf(out, "\nthe kernel's part by kernel state (its cpuhp tracepoints, the same cycles), us:\n");
  std::fprintf(out, "  %5s  %-28s %-4s %-12s %10s %10s\n", "state", "kernel name", "dir", "ran on",
               "median", "p99");
  std::int64_t small_down = 0, small_up = 0;
  int small_count = 0;
  for (const auto& [key, r] : rows) {
    std::vector<std::int64_t> ns;
    for (const auto& [h, v] : r.per_half) ns.push_back(v);
    const summary sm = summarize(ns);
    const bool up = key.first == 1;
    const int step = up ? key.second : -key.second;
    if (sm.median < 20'000) {
      (up ? small_up : small_down) += sm.median;
      ++small_count;
      continue;
    }
    const auto name = names.find(step);
    std::fprintf(out, "  %5d  %-28s %-4s %-12s %10.1f %10.1f\n", step,
                 name == names.end() ? "?" : name->second.c_str(), up ? "up" : "down",
                 r.where.c_str(), static_cast<double>(sm.median) / 1e3,
                 static_cast<double>(sm.p99) / 1e3);
  }
  // Outside: the kernel's part minus the union of the callbacks' spans (they nest: the
  // control side's "online" teardown and "cpu:bringup" startup wait for cpuhp/N's states).
  std::vector<std::int64_t> outside_down, outside_up;
  for (std::size_t h = 0; h < halves.size(); ++h)
    (halves[h].up ? outside_up : outside_down).push_back(halves[h].kernel_ns - union_ns(spans[h]));
  std::fprintf(out, "  %d more kernel states under 20 us each: down %.1f, up %.1f (sum of medians)\n",
               small_count, static_cast<double>(small_down) / 1e3, static_cast<double>(small_up) / 1e3);
  std::fprintf(out, "  in no traced callback (the STARTING section, which the kernel does not trace,\n"
               "  and the write's own path): down %.1f, up %.1f (medians)\n",
               static_cast<double>(summarize(outside_down).median) / 1e3,
               static_cast<double>(summarize(outside_up).median) / 1e3);
}

// physical_parts() runs `count` traced cycles and splits each half into the kernel's part
// and the runtime's (the half's wall time minus the kernel's part), then prints their
// medians. The runtime's trace goes into costs for the per-state table.
int physical_parts(runtime& rt, unsigned core, long count, std::FILE* out, cost_accumulator& costs) {
  using clock = std::chrono::steady_clock;
  samples kernel, runtime_part;
  const auto ns = [](clock::duration d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  };
  std::string why;
  const std::unique_ptr<kernel_hotplug_trace> ktrace = kernel_hotplug_trace::open(why);
  std::vector<half_window> halves;
  (void)rt.take_trace();
  rt.set_trace(true);
  int ret = 0;
  for (long i = 0; i < count && ret == 0; ++i) {
    for (const bool up : {false, true}) {
      const auto t0 = clock::now();
      ret = up ? rt.core_up(core) : rt.core_down(core);
      const auto t1 = clock::now();
      if (ret < 0) {
        (void)fail_op(up ? "core_up" : "core_down", core, ret);
        break;
      }
      std::vector<trace_event> half = rt.take_trace();
      const std::int64_t k = kernel_ns(half);
      (up ? kernel.up : kernel.down).add(k);
      (up ? runtime_part.up : runtime_part.down).add(ns(t1 - t0) - k);
      halves.push_back({ns(t0.time_since_epoch()), ns(t1.time_since_epoch()), k, up});
      costs.add(half);
    }
  }
  rt.set_trace(false);
  if (ret < 0) return ret;
  const auto us = [](const log_histogram& h) { return static_cast<double>(h.summarize().median) / 1e3; };
  std::fprintf(out, "\nkernel's part (cpu:physical, the write to cpu%u/online) and the runtime's\n"
               "part (every other state and the hand-overs), medians over %ld traced cycles:\n",
               core, count);
  std::fprintf(out, "  %-8s %12s %12s   (us)\n", "", "kernel", "runtime");
  std::fprintf(out, "  %-8s %12.2f %12.2f\n", "down", us(kernel.down), us(runtime_part.down));
  std::fprintf(out, "  %-8s %12.2f %12.2f\n", "up", us(kernel.up), us(runtime_part.up));
  if (ktrace) print_kernel_states(out, halves, ktrace->read());
  else std::fprintf(out, "\n(no split by kernel state: %s)\n", why.c_str());
  return 0;
}

// print_json() writes the run as one JSON object: times in nanoseconds.
void print_json(std::FILE* out, unsigned core, const cycle_options& opts, const samples& timed,
                const std::vector<state_cost>& rows, const cycle_split* split) {
  json_writer j(out);
  j.begin_object();
  j.field("core", core);
  j.field("count", opts.count);
  j.field("states", opts.states);
  j.field("warmup", opts.warmup);
  j.field("physical", opts.physical);
  j.field("subsystems", opts.subsystems);
  j.key("latency_ns");
  j.begin_object();
  for (const auto& [what, ns] : {std::pair{"down", &timed.down}, std::pair{"up", &timed.up},
                                 std::pair{"down+up", &timed.total}}) {
    const summary sm = ns->summarize();
    j.key(what);
    j.begin_object();
    j.field("median", sm.median);
    j.field("p99", sm.p99);
    j.end_object();
  }
  j.end_object();
  j.key("per_state");
  j.begin_array();
  for (const state_cost& r : rows) {
    j.begin_object();
    j.field("state", r.state);
    j.field("name", r.name);
    j.field("dir", r.dir == direction::up ? "up" : "down");
    j.field("count", r.ns.count);
    j.field("median_ns", r.ns.median);
    j.field("p99_ns", r.ns.p99);
    j.field("part", r.state == CPU_PHYSICAL ? "kernel" : "runtime");
    j.end_object();
  }
  j.end_array();
  if (split != nullptr) {
    j.key("split_ns");
    split->json(j);
  }
  j.end_object();
}

// run_cycle_to() is the run itself: the tables go to out, the samples and rows to the caller.
int run_cycle_to(runtime& rt, unsigned core, const cycle_options& opts, std::FILE* out,
                 samples& timed, std::vector<state_cost>& rows, cycle_split& split) {
  // Every pass is called from a control CPU: the calling thread leaves the core's CPU.
  const tools::caller_pin control(rt, core, tools::caller_place::control_cpu);
  empty_states extra(rt);
  if (const int ret = extra.add("cycle:empty", opts.states); ret < 0) {
    std::fprintf(stderr, "hotcore cycle: setup_state(ONLINE_DYN): %s\n", std::strerror(-ret));
    return ret;
  }
  subsystems_up subs;
  if (opts.subsystems)
    if (const std::string why = subs.start(rt); !why.empty()) {
      std::fprintf(stderr, "hotcore cycle: --subsystems: %s\n", why.c_str());
      return -EIO;
    }
  if (const int ret = cycles(rt, core, opts.warmup, nullptr); ret < 0) return ret;

  if (const int ret = cycles(rt, core, opts.count, &timed); ret < 0) return ret;

  std::fprintf(out, "core %u: %ld down+up cycles with %d empty ONLINE states (%ld warm-up)%s%s\n",
               core, opts.count, opts.states, opts.warmup,
               opts.subsystems ? ", an io_uring ring, an arena and a timer service up" : "",
               opts.physical ? ", physical: the kernel takes the CPU offline and online" : "");
  print_latency(out, timed);

  // The cost table comes from a second, traced run so that recording does not inflate the
  // timed one.
  // The trace is taken after every cycle into fixed-size histograms: memory does not
  // grow with the count.
  cost_accumulator costs;
  // --trace-out keeps the first events of the traced run, at most limits::trace_out_events_max.
  if (!opts.trace_out.empty()) costs.keep(limits::trace_out_events_max);
  if (opts.physical) {
    if (const int ret = physical_parts(rt, core, opts.count, out, costs); ret < 0) return ret;
  } else {
    (void)rt.take_trace();
    rt.set_trace(true);
    const int traced = cycles(rt, core, opts.count, nullptr, &costs);
    rt.set_trace(false);
    costs.add(rt.take_trace());
    if (traced < 0) return traced;
  }
  std::fprintf(out, "\nper-state callback cost over a traced run of %ld cycles (ns):\n",
               opts.count);
  if (!opts.trace_out.empty()) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(opts.trace_out.c_str(), "w"),
                                                            &std::fclose);
    if (!f) {
      const int err = errno;
      std::fprintf(stderr, "hotcore cycle: %s: %s\n", opts.trace_out.c_str(), std::strerror(err));
      return -err;
    }
    write_chrome_trace(f.get(), costs.kept());
    if (std::fflush(f.get()) != 0 || std::ferror(f.get())) {
      const int err = errno != 0 ? errno : EIO;
      std::fprintf(stderr, "hotcore cycle: %s: %s\n", opts.trace_out.c_str(), std::strerror(err));
      return -err;
    }
  }
  rows = costs.rows();
  print_costs(out, rows, opts.physical);
  if (opts.physical) return 0;  // physical_parts() splits the kernel's part instead
  if (const int ret = split.run(rt, core, opts.count); ret < 0) return ret;
  split.set_callbacks(rows);
  split.print(out);
  return 0;
}

}  // namespace

int run_cycle(runtime& rt, unsigned core, const cycle_options& opts, std::FILE* out) {
  if (opts.json) {
    // The tables go nowhere; the JSON object is written at the end.
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> null(std::fopen("/dev/null", "w"),
                                                               &std::fclose);
    if (!null) {
      std::fprintf(stderr, "hotcore cycle: /dev/null: %s\n", std::strerror(errno));
      return -errno;
    }
    cycle_options text = opts;
    text.json = false;
    std::vector<state_cost> rows;
    samples timed;
    cycle_split split;
    if (const int ret = run_cycle_to(rt, core, text, null.get(), timed, rows, split); ret < 0) return ret;
    print_json(out, core, opts, timed, rows, opts.physical ? nullptr : &split);
    return 0;
  }
  samples timed;
  std::vector<state_cost> rows;
  cycle_split split;
  return run_cycle_to(rt, core, opts, out, timed, rows, split);
}

}  // namespace hotcore::tools
