// SPDX-License-Identifier: MIT
// runtime/sched/futex.cpp — futex wait/wake (and the fence word of TSan builds).
#include "sched/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hotcore::detail {

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

}  // namespace hotcore::detail
