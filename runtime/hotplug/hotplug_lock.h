// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_lock.h — cpus_read_lock(): a reader/writer lock whose readers
// are cheap and never share a written cache line; hotplug operations are the writers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace hotcore::detail {

// hotplug_lock is a per-CPU-counter rwsem (the kernel's percpu_rw_semaphore, in spirit).
// Readers bump a counter in a slot of their own (one cache line per slot, a slot per
// thread chosen round-robin) and check the writer flag; a writer raises the flag and
// waits until every slot counts zero. Reads nest within one thread.
class hotplug_lock {
 public:
  hotplug_lock() = default;
  hotplug_lock(const hotplug_lock&) = delete;
  hotplug_lock& operator=(const hotplug_lock&) = delete;

  void read_lock() noexcept;
  [[nodiscard]] bool read_trylock() noexcept;
  void read_unlock() noexcept;
  // read_held() is true when the calling thread holds the read side of this lock.
  [[nodiscard]] bool read_held() const noexcept;

  void write_lock();
  void write_unlock();

 private:
  static constexpr std::size_t slot_count = 64;
  struct alignas(64) slot {
    std::atomic<long> readers{0};
  };

  bool try_enter(std::size_t s) noexcept;

  slot _slots[slot_count];
  std::atomic<bool> _writer{false};
  std::mutex _writer_mutex;     // one writer at a time
  std::mutex _wait_mutex;       // readers park here while a writer is in
  std::condition_variable _writer_done;
};

}  // namespace hotcore::detail
