// SPDX-License-Identifier: MIT
// examples/metrics_route.h — GET /metrics for examples/http_server: the runtime's
// stats() rendered as OpenMetrics text (hotcore/metrics.h), for Prometheus to scrape.
#pragma once

#include <string>

#include <hotcore/metrics.h>
#include <hotcore/runtime.h>
#include "http_request.h"

namespace http {

// metrics_runtime is the runtime /metrics reports on (set once, before serving).
inline const hotcore::runtime* metrics_runtime = nullptr;

// respond_metrics() answers GET /metrics and returns true; any other request is left to
// respond() (false).
inline bool respond_metrics(const request* req, std::string& out) {
  if (req == nullptr || metrics_runtime == nullptr || req->method != "GET" ||
      req->target != "/metrics")
    return false;
  const std::string body = hotcore::openmetrics_text(metrics_runtime->stats());
  out += "HTTP/1.1 200 OK\r\nContent-Type: ";
  out += hotcore::openmetrics_content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size());
  out += req->keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  out += body;
  return true;
}

}  // namespace http
