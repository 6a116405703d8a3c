// SPDX-License-Identifier: MIT
// runtime/metrics.cpp — runtime_stats as OpenMetrics or Prometheus text (hotcore/metrics.h):
// one family per quantity, one sample per core, the cgroup's throttling counters if given.
#include "hotcore/metrics.h"

#include <cinttypes>
#include <cstdio>
#include <string>
#include <string_view>

namespace hotcore {
namespace {

// text collects the exposition.
class text {
 public:
  explicit text(metrics_format format) : _format(format) {}
  // family() writes a metric family's TYPE, UNIT (when given) and HELP lines. The
  // Prometheus format names a counter by its sample (NAME_total) and has no UNIT.
  void family(std::string_view name, std::string_view type, std::string_view unit,
              std::string_view help) {
    std::string named(name);
    if (_format == metrics_format::prometheus && type == "counter") named += "_total";
    _s.append("# TYPE ").append(named).append(" ").append(type).append("\n");
    if (!unit.empty() && _format == metrics_format::openmetrics)
      _s.append("# UNIT ").append(named).append(" ").append(unit).append("\n");
    _s.append("# HELP ").append(named).append(" ").append(help).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIu64, v);
    line(name, labels, buf);
  }
  void seconds(std::string_view name, std::string_view labels, std::int64_t ns) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9f", static_cast<double>(ns) / 1e9);
    line(name, labels, buf);
  }
  std::string take() {
    if (_format == metrics_format::openmetrics) _s.append("# EOF\n");
    return std::move(_s);
  }

 private:
  void line(std::string_view name, std::string_view labels, const char* value) {
    _s.append(name);
    if (!labels.empty()) _s.append("{").append(labels).append("}");
    _s.append(" ").append(value).append("\n");
  }
  metrics_format _format;
  std::string _s;
};

std::string core_label(unsigned core) { return "core=\"" + std::to_string(core) + "\""; }

// core_families() writes the per-core gauges and counters.
void core_families(text& t, const runtime_stats& stats) {
  using field = std::uint64_t (*)(const core_stats&);
  const auto per_core = [&](const char* name, const char* type, const char* help, field f) {
    t.family(name, type, "", help);
    const std::string sample = type == std::string_view("counter") ? std::string(name) + "_total" : name;
    for (const core_stats& c : stats.cores) t.sample(sample, core_label(c.core), f(c));
  };
  per_core("hotcore_core_state", "gauge", "The core's hotplug state number (cpuN/hotplug/state).",
           [](const core_stats& c) { return static_cast<std::uint64_t>(c.state); });
  per_core("hotcore_core_active", "gauge", "1 while the core takes tasks (sched:active).",
           [](const core_stats& c) { return std::uint64_t{c.active}; });
  per_core("hotcore_tasks_run", "counter", "submit()/submit_on() tasks the core's worker ran.",
           [](const core_stats& c) { return c.tasks_run; });
  per_core("hotcore_tasks_stolen", "counter", "Tasks the core's worker took from other cores.",
           [](const core_stats& c) { return c.tasks_stolen; });
  per_core("hotcore_tasks_moved", "counter", "Queued tasks handed to other cores as the core left.",
           [](const core_stats& c) { return c.tasks_moved; });

  t.family("hotcore_core_parked_seconds", "counter", "seconds",
           "Time the core took no tasks since the runtime started.");
  for (const core_stats& c : stats.cores)
    t.seconds("hotcore_core_parked_seconds_total", core_label(c.core), c.parked_ns);

}

// walk_families() writes the walk durations: latest and longest per core and direction,
// and one histogram labelled by core and direction.
void walk_families(text& t, const runtime_stats& stats) {
  for (const bool up : {true, false}) {
    const std::string dir = up ? "up" : "down";
    const std::string last = "hotcore_walk_" + dir + "_last_seconds";
    const std::string max = "hotcore_walk_" + dir + "_max_seconds";
    t.family(last, "gauge", "seconds", "Duration of the core's latest walk " + dir + ".");
    for (const core_stats& c : stats.cores) t.seconds(last, core_label(c.core), (up ? c.up : c.down).last_ns);
    t.family(max, "gauge", "seconds", "Longest walk " + dir + " of the core.");
    for (const core_stats& c : stats.cores) t.seconds(max, core_label(c.core), (up ? c.up : c.down).max_ns);
  }

  // Walk latency: one histogram, labelled by core and direction; buckets cumulative.
  t.family("hotcore_walk_seconds", "histogram", "seconds",
           "Duration of each hotplug walk (core_up, core_down, governor moves).");
  for (const core_stats& c : stats.cores)
    for (const bool up : {true, false}) {
      const walk_stats& w = up ? c.up : c.down;
      const std::string labels = core_label(c.core) + ",dir=\"" + (up ? "up" : "down") + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < walk_bucket_ns.size(); ++b) {
        cumulative += w.buckets[b];
        char le[48];
        std::snprintf(le, sizeof le, ",le=\"%g\"", static_cast<double>(walk_bucket_ns[b]) / 1e9);
        t.sample("hotcore_walk_seconds_bucket", labels + le, cumulative);
      }
      t.sample("hotcore_walk_seconds_bucket", labels + ",le=\"+Inf\"", w.count);
      t.seconds("hotcore_walk_seconds_sum", labels, w.sum_ns);
      t.sample("hotcore_walk_seconds_count", labels, w.count);
    }

}

// one_sample() writes a family of one sample: the value in ns for a unit of seconds, else
// a count.
void one_sample(text& t, const char* name, const char* type, const char* unit, const char* help,
                std::uint64_t v) {
  t.family(name, type, unit, help);
  const std::string sample = type == std::string_view("counter") ? std::string(name) + "_total" : name;
  if (*unit != '\0') t.seconds(sample, "", static_cast<std::int64_t>(v));
  else t.sample(sample, "", v);
}

// machine_families() writes the one-sample families of the quota followers and the
// machine watch.
void machine_families(text& t, const runtime_stats& stats) {
  const auto one = [&t](const char* name, const char* type, const char* unit, const char* help,
                        std::uint64_t v) { one_sample(t, name, type, unit, help, v); };
  one("hotcore_quota_checks", "counter", "", "Times a quota follower read the CPU quota.",
      stats.quota.checks);
  one("hotcore_quota_changes", "counter", "", "Quota changes a follower acted on.", stats.quota.changes);
  one("hotcore_quota_last_reaction_seconds", "gauge", "seconds",
      "The last quota change: from the check that saw it to the cores moved.",
      static_cast<std::uint64_t>(stats.quota.last_reaction_ns));
  one("hotcore_machine_watch_running", "gauge", "", "1 while the machine watch runs.",
      stats.machine.running ? 1 : 0);
  one("hotcore_machine_uevents", "counter", "", "CPU uevents the machine watch received.",
      stats.machine.uevents);
  one("hotcore_machine_mask_changes", "counter", "", "Changes of the process's affinity mask seen.",
      stats.machine.mask_changes);
  one("hotcore_machine_availability_changes", "counter", "",
      "Cores the machine watch told the governor had become available or unavailable.",
      stats.machine.availability_changes);
}

// cgroup_families() writes the kernel's CFS bandwidth counters of the process's group.
void cgroup_families(text& t, const cpu_throttling& c) {
  one_sample(t, "hotcore_cgroup_periods", "counter", "",
             "CFS bandwidth periods of the process's cgroup with runnable threads (cpu.stat "
             "nr_periods).", c.periods);
  one_sample(t, "hotcore_cgroup_throttled_periods", "counter", "",
             "Periods in which the cgroup used up its CPU quota and was throttled (cpu.stat "
             "nr_throttled).", c.throttled_periods);
  one_sample(t, "hotcore_cgroup_throttled_seconds", "counter", "seconds",
             "Time the cgroup's threads were held back by throttling (cpu.stat "
             "throttled_time or throttled_usec).", c.throttled_ns);
}

}  // namespace

std::string metrics_text(const runtime_stats& stats, metrics_format format,
                         const cpu_throttling* cgroup) {
  text t(format);
  core_families(t, stats);
  walk_families(t, stats);
  machine_families(t, stats);
  if (cgroup != nullptr && cgroup->bandwidth) cgroup_families(t, *cgroup);
  return t.take();
}

std::string openmetrics_text(const runtime_stats& stats) {
  return metrics_text(stats, metrics_format::openmetrics);
}

}  // namespace hotcore
