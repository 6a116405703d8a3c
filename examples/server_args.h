// SPDX-License-Identifier: MIT
// examples/server_args.h — the example servers' command line:
//   NAME [--port P] [--churn-ms M] [--seconds S]    (P 0: any free port; S 0: until a signal)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

struct server_args {
  long port = 8080;
  long churn_ms = 0;  // 0: no core churn (core_churn.h)
  long seconds = 0;   // 0: serve until SIGINT or SIGTERM
};

// parse_server_args() fills `args`, or prints the usage line and returns false.
inline bool parse_server_args(int argc, char** argv, const char* name, server_args& args) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    long* value = flag == "--port" ? &args.port : flag == "--churn-ms" ? &args.churn_ms
                : flag == "--seconds" ? &args.seconds : nullptr;
    char* end = nullptr;
    if (value != nullptr && i + 1 < argc) *value = std::strtol(argv[i + 1], &end, 10);
    if (value == nullptr || end == nullptr || *end != '\0' || *value < 0 || args.port > 65535) {
      std::fprintf(stderr, "usage: %s [--port P] [--churn-ms M] [--seconds S]\n", name);
      return false;
    }
  }
  return true;
}
