// SPDX-License-Identifier: MIT
/// @file
/// hotcore/recovery.h — what a physical-mode process leaves on the machine if it dies, and
/// its repair: the records under /run/hotcore/ that the guardian of a physical-mode runtime
/// (and `hotcore restore`) act on.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hotcore {

/// record_tracefs_instance() records that this process made the tracefs instance
/// `instance` (and mounted tracefs on `mounted_root`, or "" if it was mounted already), so
/// that the guardian of a physical-mode runtime of this process removes it (and unmounts
/// tracefs) if the process dies, and `hotcore restore` does after a dead process. Root
/// only. Returns 0 or a negative errno.
int record_tracefs_instance(std::string_view instance, std::string_view mounted_root);

/// forget_tracefs_instance() removes that record (the instance was removed cleanly).
void forget_tracefs_instance();

/// restore_report is what restore_machine() did: one line per record or offline CPU it
/// looked at, how many of them it could not repair, and how many recorded CPUs stay
/// offline because the runtime that took them still runs (or holds their lock).
struct restore_report {
  std::vector<std::string> lines;  ///< one line per record or offline CPU looked at
  int errors = 0;                  ///< how many could not be repaired
  int still_held = 0;              ///< recorded CPUs left offline: their runtime still runs
};

/// restore_machine() repairs what dead physical-mode processes left: every CPU recorded
/// by a runtime that no longer runs (its process is gone, a zombie, or its pid now names
/// another process, in whatever pid namespace it ran; and nobody holds the CPU's lock) is
/// put back as that runtime found it, and every tracefs instance of a dead process is
/// removed (tracefs unmounted if hotcore mounted it) where it is on tracefs and named as
/// hotcore names its instances. Half-written records (*.tmp) of dead writers are removed.
/// It leaves alone a CPU recorded by a runtime that still runs, a CPU that is offline
/// without a record (an operator's) and a file that is no record; names are printed with
/// control bytes escaped. Root only; without /run/hotcore there is nothing to repair.
restore_report restore_machine();

}  // namespace hotcore
