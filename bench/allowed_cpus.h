// SPDX-License-Identifier: MIT
// bench/allowed_cpus.h — the CPUs a benchmark may pin threads to or build a runtime on.
#pragma once

#include <sched.h>

#include <vector>

namespace hotcore::bench {

// allowed_cpus() lists the CPUs the process may run on, ascending (empty if the mask
// cannot be read).
inline std::vector<unsigned> allowed_cpus() {
  std::vector<unsigned> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace hotcore::bench
