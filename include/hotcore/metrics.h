// SPDX-License-Identifier: MIT
/// @file
/// hotcore/metrics.h — render runtime::stats() as OpenMetrics / Prometheus text exposition
/// (what a /metrics endpoint serves), with no dependency.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <string>

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

}  // namespace hotcore
