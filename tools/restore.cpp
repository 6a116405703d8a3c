// SPDX-License-Identifier: MIT
// tools/restore.cpp — `hotcore restore`: hotcore::restore_machine() and its report.
#include "restore.h"

#include <unistd.h>

#include <cstdio>

#include "hotcore/recovery.h"

namespace hotcore::tools {

int restore_main(const restore_options&) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "hotcore restore: needs root (it writes /sys/devices/system/cpu/cpuN/online)\n");
    return 1;
  }
  const restore_report report = restore_machine();
  for (const std::string& line : report.lines) std::printf("%s\n", line.c_str());
  if (report.lines.empty()) std::printf("nothing to restore\n");
  // Success means the machine is restored: no recorded CPU stays offline.
  return report.errors == 0 && report.still_held == 0 ? 0 : 1;
}

}  // namespace hotcore::tools
