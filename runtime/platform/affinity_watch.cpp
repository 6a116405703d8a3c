// SPDX-License-Identifier: MIT
// runtime/platform/affinity_watch.cpp — reading the process's affinity mask and telling
// whether it changed.
#include "platform/affinity_watch.h"

#include "platform/sysfs_cpu.h"

namespace hotcore::detail {

bool affinity_watch::poll() {
  cpu_set_t now;
  if (read_process_mask(now) < 0) return false;
  if (CPU_EQUAL(&now, &_mask)) return false;
  _mask = now;
  return true;
}

}  // namespace hotcore::detail
