// tools/cycle.cpp — `hotcore cycle`: argument parsing, the timed down/up loop, the traced
// run and the two tables it prints.
#include "cycle.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "empty_states.h"
#include "stats.h"

namespace hotcore::tools {
namespace {

// parse_int() reads all of text as a decimal integer.
std::optional<long long> parse_int(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// fail_op() reports a failed runtime operation on stderr and hands its error back.
int fail_op(const char* op, unsigned core, int ret) {
  std::fprintf(stderr, "hotcore cycle: %s(%u): %s\n", op, core, std::strerror(-ret));
  return ret;
}

// samples holds one duration per measured cycle, in nanoseconds.
struct samples {
  std::vector<std::int64_t> down, up, total;
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
    out->down.push_back(ns(t1 - t0));
    out->up.push_back(ns(t2 - t1));
    out->total.push_back(ns(t2 - t0));
  }
  return 0;
}

// cycles() runs `count` cycles, recording them into out if given.
int cycles(runtime& rt, unsigned core, long count, samples* out) {
  for (long i = 0; i < count; ++i)
    if (const int ret = one_cycle(rt, core, out); ret < 0) return ret;
  return 0;
}

void print_latency(std::FILE* out, const samples& s) {
  const auto row = [out](const char* what, const std::vector<std::int64_t>& ns) {
    const summary sm = summarize(ns);
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

// physical_parts() runs `count` traced cycles and splits each half into the kernel's part
// and the runtime's (the half's wall time minus the kernel's part), then prints their
// medians. The trace is returned for the per-state table.
int physical_parts(runtime& rt, unsigned core, long count, std::FILE* out,
                   std::vector<trace_event>& trace) {
  using clock = std::chrono::steady_clock;
  samples kernel, runtime_part;
  const auto ns = [](clock::duration d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  };
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
      (up ? kernel.up : kernel.down).push_back(k);
      (up ? runtime_part.up : runtime_part.down).push_back(ns(t1 - t0) - k);
      trace.insert(trace.end(), half.begin(), half.end());
    }
  }
  rt.set_trace(false);
  if (ret < 0) return ret;
  const auto us = [](const std::vector<std::int64_t>& v) {
    return static_cast<double>(summarize(v).median) / 1e3;
  };
  std::fprintf(out, "\nkernel's part (cpu:physical, the write to cpu%u/online) and the runtime's\n"
               "part (every other state and the hand-overs), medians over %ld traced cycles:\n",
               core, count);
  std::fprintf(out, "  %-8s %12s %12s   (us)\n", "", "kernel", "runtime");
  std::fprintf(out, "  %-8s %12.2f %12.2f\n", "down", us(kernel.down), us(runtime_part.down));
  std::fprintf(out, "  %-8s %12.2f %12.2f\n", "up", us(kernel.up), us(runtime_part.up));
  return 0;
}

}  // namespace

bool parse_cycle_args(const std::vector<std::string_view>& args, cycle_options& opts) {
  bool count_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::optional<std::string_view> value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != flag.npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--physical" && !value) {
      opts.physical = true;
      if (!count_given) opts.count = 20;
      opts.warmup = 2;
      continue;
    }
    if (flag != "--core" && flag != "--count" && flag != "--states") {
      std::fprintf(stderr, "hotcore cycle: unknown argument '%.*s'\n",
                   static_cast<int>(args[i].size()), args[i].data());
      return false;
    }
    if (!value) {
      if (i + 1 == args.size()) {
        std::fprintf(stderr, "hotcore cycle: %.*s needs a value\n",
                     static_cast<int>(flag.size()), flag.data());
        return false;
      }
      value = args[++i];
    }
    const std::optional<long long> n = parse_int(*value);
    // Each flag's accepted range: --core any core number (checked against the runtime
    // later), --count at least one cycle, --states what the ONLINE dynamic range holds.
    const bool ok = n && (flag == "--core"    ? *n >= 0 && *n <= 0xffff
                          : flag == "--count" ? *n > 0 && *n <= 100'000'000
                                              : *n >= 0 && *n <= max_empty_states);
    if (!ok) {
      const std::string want = flag == "--core"    ? "a core number"
                               : flag == "--count" ? "a positive number of cycles"
                                                   : "0.." + std::to_string(max_empty_states);
      std::fprintf(stderr, "hotcore cycle: bad value '%.*s' for %.*s (want %s)\n",
                   static_cast<int>(value->size()), value->data(),
                   static_cast<int>(flag.size()), flag.data(), want.c_str());
      return false;
    }
    if (flag == "--core") opts.core = static_cast<unsigned>(*n);
    else if (flag == "--count") opts.count = static_cast<long>(*n), count_given = true;
    else opts.states = static_cast<int>(*n);
  }
  return true;
}

int run_cycle(runtime& rt, unsigned core, const cycle_options& opts, std::FILE* out) {
  empty_states extra(rt);
  if (const int ret = extra.add("cycle:empty", opts.states); ret < 0) {
    std::fprintf(stderr, "hotcore cycle: setup_state(ONLINE_DYN): %s\n", std::strerror(-ret));
    return ret;
  }
  if (const int ret = cycles(rt, core, opts.warmup, nullptr); ret < 0) return ret;

  samples timed;
  timed.down.reserve(static_cast<std::size_t>(opts.count));
  timed.up.reserve(static_cast<std::size_t>(opts.count));
  timed.total.reserve(static_cast<std::size_t>(opts.count));
  if (const int ret = cycles(rt, core, opts.count, &timed); ret < 0) return ret;

  std::fprintf(out, "core %u: %ld down+up cycles with %d empty ONLINE states (%ld warm-up)%s\n",
               core, opts.count, opts.states, opts.warmup,
               opts.physical ? ", physical: the kernel takes the CPU offline and online" : "");
  print_latency(out, timed);

  // The cost table comes from a second, traced run so that recording does not inflate the
  // timed one.
  std::vector<trace_event> trace;
  if (opts.physical) {
    if (const int ret = physical_parts(rt, core, opts.count, out, trace); ret < 0) return ret;
  } else {
    (void)rt.take_trace();
    rt.set_trace(true);
    const int traced = cycles(rt, core, opts.count, nullptr);
    rt.set_trace(false);
    trace = rt.take_trace();
    if (traced < 0) return traced;
  }
  std::fprintf(out, "\nper-state callback cost over a traced run of %ld cycles (ns):\n",
               opts.count);
  print_costs(out, cost_table(trace), opts.physical);
  return 0;
}

}  // namespace hotcore::tools
