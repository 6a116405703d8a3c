// SPDX-License-Identifier: MIT
// runtime/sched/futex.cpp — futex wait/wake and the membarrier()-based asymmetric fence.
#include "sched/futex.h"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace hotcore::detail {

bool asymmetric_fences = false;
#if defined(__SANITIZE_THREAD__)
std::atomic<std::uint32_t> fence_word{0};
#endif

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
            nullptr, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word, int n) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

void init_fences() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return;
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) return;
    asymmetric_fences = true;
  });
}

void heavy_fence() noexcept {
  if (asymmetric_fences &&
      ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
    return;
  full_fence();
}

}  // namespace hotcore::detail
