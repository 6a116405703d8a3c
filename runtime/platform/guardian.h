// SPDX-License-Identifier: MIT
// runtime/platform/guardian.h — the guardian of a physical-mode runtime: a small process
// forked at create() that watches the runtime's process through a pidfd and, if the
// process dies by any signal (SIGKILL and the OOM killer included), undoes what it left:
// it onlines the CPUs this runtime took offline and removes the process's tracefs
// instances (records under /run/hotcore/). It also keeps the runtime's per-CPU locks
// until it has done so, so no other runtime takes those CPUs in between.
#pragma once

#include <sys/types.h>

#include <vector>

#include "non_copyable.h"

namespace hotcore::detail {

class guardian : non_copyable {
 public:
  ~guardian() { stop(); }

  // start() forks the guardian for these CPUs; lock_fds are their held locks (the
  // guardian keeps them too). 0 or a negative errno (nothing started then).
  [[nodiscard]] int start(const std::vector<unsigned>& cpus, const std::vector<int>& lock_fds);
  // stop() tells the guardian that the runtime ended cleanly (it undoes nothing) and
  // waits for it to exit. Idempotent.
  void stop() noexcept;

 private:
  pid_t _pid = -1;
  int _quit_fd = -1;  // our end of the socket pair the guardian reads
};

}  // namespace hotcore::detail
