// SPDX-License-Identifier: MIT
// examples/server_flags.h — the command line of the example servers: each flag with its
// default and its bounds (tools/flag_limits.h, the bounds of the `hotcore` commands'
// flags); a bad one is refused on one line that names it. Every server takes --port,
// --churn-ms and --seconds; http_server also the timeouts and --no-follow.
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

// flag_set says which flags a server takes.
enum class flag_set { common, http };

// print_usage() prints the server's usage lines to stderr.
inline void print_usage(const char* name, flag_set set) {
  std::fprintf(stderr, "usage: %s [--port P] [--churn-ms M] [--seconds S]%s\n", name,
               set == flag_set::http ? " [--header-timeout-ms T]\n"
                                       "       [--idle-timeout-ms T] [--no-follow]"
                                     : "");
}

// parse_flags() reads argv into f; false after printing one error line and the usage.
inline bool parse_flags(int argc, char** argv, const char* name, flag_set set, flags& f) {
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
  const std::size_t taken = set == flag_set::http ? std::size(rows) : 3;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (set == flag_set::http && flag == "--no-follow") {
      f.follow = false;
      continue;
    }
    const row* r = nullptr;
    for (std::size_t k = 0; k < taken; ++k)
      if (flag == rows[k].name) r = &rows[k];
    if (r == nullptr || i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s: %s\n", name, flag.c_str(),
                   r == nullptr ? "unknown flag" : "needs a value");
      return print_usage(name, set), false;
    }
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(argv[++i], &end, 10);
    if (errno != 0 || end == argv[i] || *end != '\0' || v < r->lo || v > r->hi) {
      std::fprintf(stderr, "%s: %s: want a whole number in %ld..%ld\n", name, r->name, r->lo,
                   r->hi);
      return print_usage(name, set), false;
    }
    *r->value = v;
  }
  return true;
}

}  // namespace server
