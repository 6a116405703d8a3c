// SPDX-License-Identifier: MIT
// runtime/sched/futex.h — the scheduler's sleep and wake primitives: futex wait/wake on a
// 32-bit atomic, a wake queue, a pause for spin loops, and the full fence of the
// pusher/sleeper handshake.
#pragma once

#include <atomic>
#include <cstdint>

namespace hotcore::detail {

// futex_wait() sleeps while word == expected (or until woken, or spuriously).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept;
// futex_wake() wakes up to n sleepers. It reads no memory at the address, so it is safe to
// call after the word's owner may have been freed (the wake is then merely spurious).
void futex_wake(std::atomic<std::uint32_t>& word, int n) noexcept;

// The wake queue (the kernel's wake_q): on a thread between defer_wakes() and
// flush_wakes(), futex_wake_later() only notes the wake-up, and flush_wakes() issues the
// noted ones; on any other thread it wakes at once. A core's hotplug thread defers the
// wake-ups of its request until it has handed the result back: the worker it wakes sleeps
// on the same CPU and would preempt it, and the caller would wait for both context
// switches. Only a wake-up that nothing in the rest of the request waits for may be
// deferred.
void futex_wake_later(std::atomic<std::uint32_t>& word, int n) noexcept;
void defer_wakes() noexcept;
void flush_wakes() noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// full_fence() is a seq_cst fence. ThreadSanitizer does not model fences (GCC refuses
// them under -fsanitize=thread), so there it is a seq_cst RMW on one shared word, which
// gives the same store→load ordering between any two threads that both use it.
#if defined(__SANITIZE_THREAD__)
extern std::atomic<std::uint32_t> fence_word;
inline void full_fence() noexcept { fence_word.fetch_add(0, std::memory_order_seq_cst); }
#else
inline void full_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
#endif

// The store→load handshake between a task pusher (store the task, then load the sleeper
// count) and a worker going to sleep (raise the count, then look for tasks) is a full
// fence on both sides, as oneTBB's spawn does. membarrier() on the sleeper's side would
// spare the pusher its fence, but interrupts every running thread of the process each
// time a worker sleeps: at partial load, where workers fall asleep thousands of times a
// second, that costs more CPU than it saves (and more still on a VM, where each
// interrupt is a VM exit).


}  // namespace hotcore::detail
