// SPDX-License-Identifier: MIT
// examples/server_flags.h — the command line of examples/http_server: each flag with its
// default and its bounds (tools/flag_limits.h, the bounds of the `hotcore` commands'
// flags); a bad one is refused on one line that names it.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "flag_limits.h"

namespace server {

struct flags {
  long port = 8080;                // 0: any free port
  long churn_ms = 0;               // a core leaves and comes back every churn_ms (0: never)
  long seconds = 0;                // then the server stops (0: at SIGINT/SIGTERM/SIGHUP only)
  long header_timeout_ms = 10'000; // a request head must arrive within this (else 408)
  long idle_timeout_ms = 60'000;   // a keep-alive connection may wait this long for a request
  bool follow = true;              // worker cores follow the cgroup's CPU quota
};

inline constexpr const char* usage =
    "usage: http_server [--port P] [--churn-ms M] [--seconds S] [--header-timeout-ms T]\n"
    "                   [--idle-timeout-ms T] [--no-follow]\n";

// parse_flags() reads argv into f; false after printing one error line and the usage.
inline bool parse_flags(int argc, char** argv, flags& f) {
  namespace limits = hotcore::tools::limits;
  struct row {
    const char* name;
    long* value;
    long lo, hi;
  };
  const row rows[] = {{"--port", &f.port, 0, 65535},
                      {"--churn-ms", &f.churn_ms, 0, limits::period_ms_max},
                      {"--seconds", &f.seconds, 0, limits::seconds_max},
                      {"--header-timeout-ms", &f.header_timeout_ms, 1, limits::deadline_ms_max},
                      {"--idle-timeout-ms", &f.idle_timeout_ms, 1, limits::deadline_ms_max}};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-follow") {
      f.follow = false;
      continue;
    }
    const row* r = nullptr;
    for (const row& candidate : rows)
      if (flag == candidate.name) r = &candidate;
    if (r == nullptr || i + 1 >= argc) {
      std::fprintf(stderr, "http_server: %s: %s\n%s", flag.c_str(),
                   r == nullptr ? "unknown flag" : "needs a value", usage);
      return false;
    }
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(argv[++i], &end, 10);
    if (errno != 0 || end == argv[i] || *end != '\0' || v < r->lo || v > r->hi) {
      std::fprintf(stderr, "http_server: %s: want a whole number in %ld..%ld\n%s", r->name, r->lo,
                   r->hi, usage);
      return false;
    }
    *r->value = v;
  }
  return true;
}

}  // namespace server
