// SPDX-License-Identifier: MIT
// runtime/sched/futex.cpp — futex wait/wake, the per-thread wake queue (and the fence
// word of TSan builds).
#include "sched/futex.h"

#include <array>

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

namespace {
struct wake_queue {
  bool deferring = false;
  unsigned count = 0;
  std::array<std::pair<std::atomic<std::uint32_t>*, int>, 8> wakes{};
};
thread_local wake_queue tls_wakes;
}  // namespace

void futex_wake_later(std::atomic<std::uint32_t>& word, int n) noexcept {
  wake_queue& q = tls_wakes;
  if (!q.deferring || q.count == q.wakes.size()) {
    futex_wake(word, n);
    return;
  }
  q.wakes[q.count++] = {&word, n};
}

void defer_wakes() noexcept { tls_wakes.deferring = true; }

void flush_wakes() noexcept {
  wake_queue& q = tls_wakes;
  q.deferring = false;
  // futex_wake() reads nothing at the address: a word whose owner is gone is harmless.
  for (unsigned i = 0; i < q.count; ++i) futex_wake(*q.wakes[i].first, q.wakes[i].second);
  q.count = 0;
}

}  // namespace hotcore::detail
