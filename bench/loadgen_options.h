// SPDX-License-Identifier: MIT
// bench/loadgen_options.h — bench/loadgen's flags, their bounds and their parsing: every
// bad value gives one line naming the flag and the bound.
#pragma once

#include <cstdlib>
#include <string>

namespace bench {

struct loadgen_options {
  std::string host = "127.0.0.1";  // loopback only: 127.0.0.1 or ::1
  long port = 0;
  std::string path = "/";
  double rate = 0;          // requests per second (intended send times)
  double duration_s = 5;    // the measured interval
  double warmup_s = 1;      // before it: sent and answered, not recorded
  double drain_s = 5;       // after it: how long answers are awaited
  long connections = 16;    // keep-alive pool
  bool poisson = false;     // exponential gaps (else constant)
  unsigned long seed = 1;
  long max_requests = 10'000'000;  // over warm-up and measured interval together
};

namespace detail {
inline bool number(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0';
}
inline std::string bound_error(const std::string& flag, const char* value, const char* bound) {
  return flag + " must be " + bound + ", got '" + value + "'";
}
}  // namespace detail

// parse_loadgen_options() fills o from argv; on bad input it returns false with error set
// (one line, no newline).
inline bool parse_loadgen_options(int argc, char** argv, loadgen_options& o, std::string& error) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return error = flag + " needs a value", false;
    const char* v = argv[i + 1];
    double x = 0;
    const bool num = detail::number(v, x);
    const auto in = [&](double lo, double hi) { return num && x >= lo && x <= hi; };
    if (flag == "--host") {
      o.host = v;
      if (o.host != "127.0.0.1" && o.host != "::1")
        return error = detail::bound_error(flag, v, "127.0.0.1 or ::1 (loopback only)"), false;
    } else if (flag == "--path") {
      o.path = v;
      if (o.path.empty() || o.path[0] != '/' || o.path.find_first_of(" \r\n") != std::string::npos)
        return error = detail::bound_error(flag, v, "an absolute path without spaces"), false;
    } else if (flag == "--arrival") {
      o.poisson = std::string(v) == "poisson";
      if (!o.poisson && std::string(v) != "constant")
        return error = detail::bound_error(flag, v, "constant or poisson"), false;
    } else if (flag == "--port") {
      if (!in(1, 65535)) return error = detail::bound_error(flag, v, "in [1, 65535]"), false;
      o.port = static_cast<long>(x);
    } else if (flag == "--rate") {
      if (!in(0.001, 1e6) ) return error = detail::bound_error(flag, v, "in [0.001, 1e6] requests/s"), false;
      o.rate = x;
    } else if (flag == "--duration" || flag == "--warmup" || flag == "--drain") {
      const double lo = flag == "--duration" ? 0.001 : 0;
      if (!in(lo, 600)) return error = detail::bound_error(flag, v, "in seconds, at most 600 (duration > 0)"), false;
      (flag == "--duration" ? o.duration_s : flag == "--warmup" ? o.warmup_s : o.drain_s) = x;
    } else if (flag == "--connections") {
      if (!in(1, 1024)) return error = detail::bound_error(flag, v, "in [1, 1024]"), false;
      o.connections = static_cast<long>(x);
    } else if (flag == "--seed") {
      if (!in(0, 4e9)) return error = detail::bound_error(flag, v, "in [0, 4e9]"), false;
      o.seed = static_cast<unsigned long>(x);
    } else if (flag == "--max-requests") {
      if (!in(1, 1e8)) return error = detail::bound_error(flag, v, "in [1, 1e8]"), false;
      o.max_requests = static_cast<long>(x);
    } else {
      return error = "unknown flag " + flag, false;
    }
  }
  if (o.port == 0 || o.rate == 0) return error = "--port and --rate are required", false;
  if (o.rate * (o.warmup_s + o.duration_s) > static_cast<double>(o.max_requests))
    return error = "--rate x (--warmup + --duration) is over --max-requests", false;
  return true;
}

}  // namespace bench
