// SPDX-License-Identifier: MIT
// tools/restore.h — `hotcore restore`: repair what a killed physical-mode process left
// (CPUs it took offline, its tracefs instance), from the records under /run/hotcore/.
#pragma once

namespace hotcore::tools {

// restore_options are `hotcore restore`'s parsed options (none yet).
struct restore_options {};

// restore_main() prints one line per record or offline CPU it looked at and returns an
// exit status: 0 when every record is repaired, 1 when a repair failed, a recorded CPU
// stays offline because its runtime still runs, or the command is not run as root.
int restore_main(const restore_options& opts);

}  // namespace hotcore::tools
