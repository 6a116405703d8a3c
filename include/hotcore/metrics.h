// SPDX-License-Identifier: MIT
/// @file
/// hotcore/metrics.h — render runtime::stats() as OpenMetrics or Prometheus text exposition
/// (what a /metrics endpoint serves), with no dependency; optionally with the kernel's CFS
/// throttling counters of the process's cgroup (hotcore/cgroup.h, read_cpu_stat()).
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <string>

#include "hotcore/cgroup.h"
#include "hotcore/stats.h"

namespace hotcore {

/// openmetrics_text() is the snapshot as OpenMetrics text, "# EOF" last: counters per core
/// (label core="N") for walks, tasks and parked time, gauges for state and active, walk
/// latency histograms per direction (label dir="up"/"down", seconds), and the quota
/// follower's and the machine watch's counters. Serve it with the content type
/// openmetrics_content_type.
///
/// Example:
/// @code
/// std::string body = hotcore::openmetrics_text(rt->stats());
/// @endcode
[[nodiscard]] std::string openmetrics_text(const runtime_stats& stats);

/// openmetrics_content_type is the Content-Type header value for openmetrics_text()'s output.
inline constexpr const char* openmetrics_content_type =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// metrics_format picks the exposition: OpenMetrics 1.0 (counter families named without
/// _total, UNIT lines, "# EOF" last) or the Prometheus text format 0.0.4 (TYPE and HELP name
/// the _total sample, what `promtool check metrics` and scrapers without OpenMetrics read).
enum class metrics_format {
  openmetrics,  ///< OpenMetrics 1.0
  prometheus,   ///< Prometheus text format 0.0.4
};

/// prometheus_content_type is the Content-Type header value for the Prometheus format.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// metrics_text() is openmetrics_text() in either format; with `cgroup` (bandwidth true) it
/// adds the counters of CFS bandwidth control: hotcore_cgroup_periods_total,
/// hotcore_cgroup_throttled_periods_total and hotcore_cgroup_throttled_seconds_total.
///
/// Example (the format a scraper asked for, and the group's cpu.stat):
/// @code
/// hotcore::cgroup_error err;
/// const hotcore::cpu_throttling t = hotcore::read_cpu_stat(where, err);
/// std::string body = hotcore::metrics_text(rt->stats(), hotcore::metrics_format::prometheus,
///                                          err ? nullptr : &t);
/// @endcode
[[nodiscard]] std::string metrics_text(const runtime_stats& stats, metrics_format format,
                                       const cpu_throttling* cgroup = nullptr);

}  // namespace hotcore
