// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_lock.h — cpus_read_lock(): a reader/writer lock whose read side
// is two plain stores to the reader's own cache line; hotplug operations are the writers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "chaos.h"

#if defined(__SANITIZE_THREAD__)
#define HOTCORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOTCORE_TSAN 1
#endif
#endif

namespace hotcore::detail {

class hotplug_lock;

// reader_record is one thread's view of the hotplug locks it reads: entry i names a lock
// (held[i]) and how deep the thread holds it (depth[i]). Only its own thread writes it;
// writers read held[] of every registered record.
constexpr int held_max = 8;
struct reader_record {
  std::atomic<const hotplug_lock*> held[held_max]{};
  int depth[held_max]{};
  int used = 0;  // entries [used, held_max) are all empty
  bool registered = false;
  bool exited = false;  // the thread is exiting and its record is no longer registered
};

// this_reader is the calling thread's record (hotplug_lock.cpp). constinit: no lazy
// initialisation check (nor TLS wrapper call) on the read side. initial-exec: the record
// sits at a fixed offset from the thread pointer instead of behind a __tls_get_addr()
// call on every access; the cost is about 100 bytes of the static TLS block, which a
// library loaded with dlopen() takes from glibc's reserve for that.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local reader_record this_reader;

// hotplug_lock is the kernel's percpu_rw_semaphore with rcu_sync, in userspace: each thread
// publishes the locks it reads in a record of its own, registered once per thread, and then
// checks the writer flag; a writer raises the flag, makes every running thread of the
// process execute a full memory barrier (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)),
// and waits until no record names the lock. The barrier the writer forces on the readers
// replaces the one each reader would otherwise execute, so the read side has no locked
// instruction and writes no shared cache line. Readers that find a writer in park on a
// condition variable until it leaves. Reads nest within one thread.
//
// Where membarrier is unavailable (ENOSYS, EPERM), and in TSan builds (TSan does not know
// membarrier), the read side uses seq_cst accesses instead: correct, but each read_lock()
// then costs a locked instruction (xchg on x86).
class hotplug_lock {
 public:
  // read_side::asymmetric asks for the membarrier read side (granted only where membarrier
  // works: asymmetric() says what the lock got); read_side::symmetric always uses seq_cst.
  enum class read_side { asymmetric, symmetric };

  explicit hotplug_lock(read_side side = read_side::asymmetric) noexcept;
  hotplug_lock(const hotplug_lock&) = delete;
  hotplug_lock& operator=(const hotplug_lock&) = delete;

  // read_lock() and read_unlock() are inline for their fast path: a thread that holds no
  // hotplug lock takes this one in entry 0 of its record, and gives it back from there.
  void read_lock() noexcept;
  [[nodiscard]] bool read_trylock() noexcept;
  void read_unlock() noexcept;
  // read_held() is true when the calling thread holds the read side of this lock.
  [[nodiscard]] bool read_held() const noexcept;

  void write_lock();
  void write_unlock();

  // asymmetric() is true when readers rely on the writer's membarrier (no fence of their
  // own), false when they use seq_cst accesses.
  [[nodiscard]] bool asymmetric() const noexcept { return _asymmetric; }

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

  const bool _asymmetric;
  std::atomic<bool> _writer{false};
  // Readers that have no record entry (a thread holding more locks at once than its record
  // has entries, or one whose record is already gone because it is exiting) count here,
  // with seq_cst read-modify-writes: the slow but always correct way in.
  std::atomic<long> _shared_readers{0};
  std::mutex _writer_mutex;  // one writer at a time
  std::mutex _wait_mutex;    // readers park here while a writer is in
  std::condition_variable _writer_done;
};

inline void hotplug_lock::read_lock() noexcept {
#ifndef HOTCORE_TSAN
  reader_record& r = this_reader;
  if (_asymmetric && r.used == 0 && r.registered) {
    // relaxed, and only a compiler barrier before the flag's load: one half of the Dekker
    // handshake with write_lock(), as in try_enter() (hotplug_lock.cpp).
    r.held[0].store(this, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    HOTCORE_CHAOS_POINT("read_lock:enter");
    // acquire: what the last writer did before write_unlock() happens before our reads.
    if (!_writer.load(std::memory_order_acquire)) {
      r.depth[0] = 1;
      r.used = 1;
      return;
    }
    // release: pairs with the writer's scan; the slow path waits for the writer.
    r.held[0].store(nullptr, std::memory_order_release);
  }
#endif
  read_lock_slow();
}

inline void hotplug_lock::read_unlock() noexcept {
  reader_record& r = this_reader;
  // relaxed: only this thread writes its own entries.
  if (r.used == 1 && r.depth[0] == 1 && r.held[0].load(std::memory_order_relaxed) == this) {
    HOTCORE_CHAOS_POINT("read_lock:exit");
    r.depth[0] = 0;
    r.used = 0;
    // release: everything the reader did happens before the writer that sees it empty.
    r.held[0].store(nullptr, std::memory_order_release);
    return;
  }
  read_unlock_slow();
}

}  // namespace hotcore::detail
