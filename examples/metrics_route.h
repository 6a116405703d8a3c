// SPDX-License-Identifier: MIT
// examples/metrics_route.h — GET /metrics for examples/http_server: the runtime's
// stats() and the CFS throttling counters of the process's cpu cgroup (cpu.stat), as
// OpenMetrics text when the scraper accepts it (Prometheus does), else as the Prometheus
// text format 0.0.4 (promtool, curl).
#pragma once

#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include <hotcore/cgroup.h>
#include <hotcore/metrics.h>
#include <hotcore/runtime.h>
#include "http_request.h"

namespace http {

// metrics_runtime is the runtime /metrics reports on (set once, before serving).
inline const hotcore::runtime* metrics_runtime = nullptr;

namespace detail {
inline std::string slurp(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// cgroup_throttling() reads cpu.stat of the process's cpu group, found again on every
// scrape (the process may have moved). An error is printed once, when it differs from the
// last one; the counters are then left out (false).
inline bool cgroup_throttling(hotcore::cpu_throttling& out) {
  static std::mutex mutex;  // guards last_error: scrapes run on several cores
  static std::string last_error;
  hotcore::cgroup_error err;
  const hotcore::cgroup_location where = hotcore::find_cgroup(
      "cpu", slurp("/proc/self/cgroup"), slurp("/proc/self/mountinfo"), err);
  if (!err) out = hotcore::read_cpu_stat(where, err);
  std::lock_guard lk(mutex);
  if (err && err.message != last_error)
    std::fprintf(stderr, "http_server: /metrics leaves out the cgroup's throttling: %s\n",
                 err.message.c_str());
  last_error = err.message;
  return !err;
}
}  // namespace detail

// respond_metrics() answers GET /metrics and returns true; any other request is left to
// respond() (false).
inline bool respond_metrics(const request* req, std::string& out) {
  if (req == nullptr || metrics_runtime == nullptr || req->method != "GET" ||
      req->target != "/metrics")
    return false;
  const bool openmetrics = req->accept.find("application/openmetrics-text") != std::string::npos;
  hotcore::cpu_throttling cgroup;
  const bool have_cgroup = detail::cgroup_throttling(cgroup);
  const std::string body = hotcore::metrics_text(
      metrics_runtime->stats(),
      openmetrics ? hotcore::metrics_format::openmetrics : hotcore::metrics_format::prometheus,
      have_cgroup ? &cgroup : nullptr);
  out += "HTTP/1.1 200 OK\r\nContent-Type: ";
  out += openmetrics ? hotcore::openmetrics_content_type : hotcore::prometheus_content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += req->keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  out += body;
  return true;
}

}  // namespace http
