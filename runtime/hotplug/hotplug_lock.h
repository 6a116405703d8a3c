// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_lock.h — cpus_read_lock(): a reader/writer lock whose read side
// is two plain stores to the reader's own cache line; hotplug operations are the writers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "chaos.h"
#include "hotcore/detail/read_side.h"
#include "thread_annotations.h"

#if defined(__SANITIZE_THREAD__)
#define HOTCORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOTCORE_TSAN 1
#endif
#endif

namespace hotcore::detail {

// hotplug_lock is the kernel's percpu_rw_semaphore with rcu_sync, in userspace: each thread
// publishes the locks it reads in a record of its own, registered once per thread, and then
// checks the lock's gate (read_side.h); a writer closes the gate, makes every running
// thread of the process execute a full memory barrier (membarrier(
// MEMBARRIER_CMD_PRIVATE_EXPEDITED)), and waits until no record names the lock. The barrier the writer forces on the readers
// replaces the one each reader would otherwise execute, so the read side has no locked
// instruction and writes no shared cache line. Readers that find a writer in park on a
// condition variable until it leaves. Reads nest within one thread.
//
// A burst of writers pays for one membarrier, as the kernel's rcu_sync has it: a writer
// leaves the gate fenced (read_side.h), and readers that find it so run a full fence of
// their own after publishing their entry, so the next writer's flag and scan need none.
// The first reader that finds the gate fenced after a quiet period without a writer sets it
// idle again, and readers are back on the inline path; the writer after that pays the
// membarrier again.
//
// Where membarrier is unavailable (ENOSYS, EPERM), and in TSan builds (TSan does not know
// membarrier), the read side uses seq_cst accesses instead: correct, but each read_lock()
// then costs a locked instruction (xchg on x86).
class CAPABILITY("hotplug lock") hotplug_lock : public read_gate {
 public:
  // read_side::asymmetric asks for the membarrier read side (granted only where membarrier
  // works: asymmetric() says what the lock got); read_side::symmetric always uses seq_cst.
  enum class read_side { asymmetric, symmetric };

  // quiet: how long the gate stays fenced after the last writer left (default_quiet).
  static constexpr std::chrono::microseconds default_quiet{1000};
  explicit hotplug_lock(read_side side = read_side::asymmetric,
                        std::chrono::microseconds quiet = default_quiet) noexcept;
  hotplug_lock(const hotplug_lock&) = delete;
  hotplug_lock& operator=(const hotplug_lock&) = delete;

  // read_lock() and read_unlock() are inline for their fast path: a thread that holds no
  // hotplug lock takes this one in entry 0 of its record, and gives it back from there.
  // The analysis sees the read side as the shared capability and write_lock() as the
  // exclusive one; the lock's own code is not analysed (it is the lock).
  void read_lock() noexcept ACQUIRE_SHARED();
  [[nodiscard]] bool read_trylock() noexcept TRY_ACQUIRE_SHARED(true);
  void read_unlock() noexcept RELEASE_SHARED();
  // read_held() is true when the calling thread holds the read side of this lock.
  [[nodiscard]] bool read_held() const noexcept;

  void write_lock() ACQUIRE();
  void write_unlock() RELEASE();

  // asymmetric() is true when readers rely on the writer's membarrier (no fence of their
  // own), false when they use seq_cst accesses.
  [[nodiscard]] bool asymmetric() const noexcept { return _asymmetric; }
  // barriers() is how many membarriers the writers have forced so far.
  [[nodiscard]] long barriers() const noexcept {
    return _barriers.load(std::memory_order_relaxed);  // relaxed: a statistic
  }
  // fenced() is true while readers fence for themselves (a writer left lately).
  [[nodiscard]] bool fenced() const noexcept {
    return gate.load(std::memory_order_relaxed) == gate_fenced;  // relaxed: a snapshot
  }

 private:
  // The general read side: nested holds, several locks, the first lock of a thread, a
  // writer in, the symmetric read side.
  void read_lock_slow() noexcept;
  void read_unlock_slow() noexcept;
  // Hidden: called directly (not through the PLT) and inlined into the read side.
  [[gnu::visibility("hidden")]] bool try_enter() noexcept;
  [[gnu::visibility("hidden")]] bool try_enter_shared() noexcept;
  // wait_and_enter() parks until the writer leaves, then enters (read_lock()'s slow path).
  [[gnu::visibility("hidden"), gnu::noinline, gnu::cold]] void wait_and_enter() noexcept;
  [[gnu::visibility("hidden")]] [[nodiscard]] bool readers_in() const;
  // idle_if_quiet() sets a fenced gate idle once the quiet period passed since the last
  // writer left.
  [[gnu::visibility("hidden"), gnu::noinline]] void idle_if_quiet() noexcept;

  const bool _asymmetric;
  const std::chrono::steady_clock::duration _quiet;
  // Readers that have no record entry (a thread holding more locks at once than its record
  // has entries, or one whose record is already gone because it is exiting) count here,
  // with seq_cst read-modify-writes: the slow but always correct way in.
  std::atomic<long> _shared_readers{0};
  // When the last writer left (steady_clock ticks), and the membarriers forced so far.
  std::atomic<std::int64_t> _writer_left{0};
  std::atomic<long> _barriers{0};
  std::mutex _writer_mutex;  // one writer at a time
  std::mutex _wait_mutex;    // readers park here while a writer is in
  std::condition_variable _writer_done;
};

inline void hotplug_lock::read_lock() noexcept NO_THREAD_SAFETY_ANALYSIS {
  if (!read_enter(*this)) read_lock_slow();
}

inline void hotplug_lock::read_unlock() noexcept NO_THREAD_SAFETY_ANALYSIS {
  if (!read_exit(*this)) read_unlock_slow();
}

}  // namespace hotcore::detail
