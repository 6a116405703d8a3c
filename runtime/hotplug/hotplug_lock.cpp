// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_lock.cpp — the reader/writer lock behind cpus_read_lock().
#include "hotplug/hotplug_lock.h"
#include "chaos.h"

#include <chrono>
#include <thread>

namespace hotcore::detail {
namespace {

// Each thread uses one slot for every hotplug_lock; threads are spread round-robin.
std::atomic<unsigned> next_slot{0};

std::size_t my_slot(std::size_t count) noexcept {
  // relaxed: the counter only hands out distinct-ish numbers, it orders nothing.
  thread_local const unsigned slot = next_slot.fetch_add(1, std::memory_order_relaxed);
  return slot % count;
}

// held_entry remembers, per thread, how deep it holds which lock (reads nest), so a nested
// read never waits behind a writer that waits for the outer read.
struct held_entry {
  const hotplug_lock* lock = nullptr;
  int depth = 0;
};
constexpr int held_max = 8;
thread_local held_entry held[held_max];

held_entry* find_held(const hotplug_lock* lock) noexcept {
  for (auto& e : held)
    if (e.lock == lock) return &e;
  return nullptr;
}

held_entry* claim_held(const hotplug_lock* lock) noexcept {
  for (auto& e : held)
    if (e.lock == nullptr) {
      e.lock = lock;
      e.depth = 0;
      return &e;
    }
  return nullptr;  // more than held_max locks held at once: nesting is not tracked
}

}  // namespace

bool hotplug_lock::try_enter(std::size_t s) noexcept {
  // seq_cst on both sides makes this a Dekker handshake with write_lock(): either the
  // writer sees our count, or we see its flag (never neither).
  _slots[s].readers.fetch_add(1, std::memory_order_seq_cst);
  HOTCORE_CHAOS_POINT("read_lock:enter");
  if (!_writer.load(std::memory_order_seq_cst)) return true;
  // seq_cst: withdraw the count in the same total order the writer scans in.
  _slots[s].readers.fetch_sub(1, std::memory_order_seq_cst);
  return false;
}

void hotplug_lock::read_lock() noexcept {
  if (held_entry* e = find_held(this); e && e->depth > 0) {
    ++e->depth;  // nested: the outer hold keeps writers out
    return;
  }
  const std::size_t s = my_slot(slot_count);
  while (!try_enter(s)) {
    std::unique_lock lk(_wait_mutex);
    // seq_cst pairs with write_unlock()'s store, made under the same mutex.
    _writer_done.wait(lk, [&] { return !_writer.load(std::memory_order_seq_cst); });
  }
  if (held_entry* e = find_held(this) ? find_held(this) : claim_held(this)) e->depth = 1;
}

bool hotplug_lock::read_trylock() noexcept {
  if (held_entry* e = find_held(this); e && e->depth > 0) {
    ++e->depth;
    return true;
  }
  if (!try_enter(my_slot(slot_count))) return false;
  if (held_entry* e = find_held(this) ? find_held(this) : claim_held(this)) e->depth = 1;
  return true;
}

void hotplug_lock::read_unlock() noexcept {
  held_entry* e = find_held(this);
  if (e != nullptr) {
    if (--e->depth > 0) return;
    e->lock = nullptr;
  }
  HOTCORE_CHAOS_POINT("read_lock:exit");
  // release: everything the reader did happens before the writer that sees the count drop.
  _slots[my_slot(slot_count)].readers.fetch_sub(1, std::memory_order_release);
}

bool hotplug_lock::read_held() const noexcept {
  const held_entry* e = find_held(this);
  return e != nullptr && e->depth > 0;
}

void hotplug_lock::write_lock() {
  _writer_mutex.lock();
  // seq_cst: the other half of the Dekker handshake in try_enter().
  _writer.store(true, std::memory_order_seq_cst);
  HOTCORE_CHAOS_POINT("write_lock:wait");
  auto readers_in = [&] {
    for (auto& s : _slots)
      // seq_cst: must not be satisfied by a count from before our flag was visible.
      if (s.readers.load(std::memory_order_seq_cst) != 0) return true;
    return false;
  };
  // Readers hold the lock briefly as a rule: spin a little, then back off with sleeps so a
  // long reader costs the waiting writer next to nothing.
  for (int spin = 0; spin < 200 && readers_in(); ++spin) std::this_thread::yield();
  auto pause = std::chrono::microseconds(2);
  while (readers_in()) {
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(1)) pause *= 2;
  }
}

void hotplug_lock::write_unlock() {
  {
    std::lock_guard lk(_wait_mutex);
    // seq_cst: readers re-check the flag in try_enter() with seq_cst.
    _writer.store(false, std::memory_order_seq_cst);
  }
  _writer_done.notify_all();
  _writer_mutex.unlock();
}

}  // namespace hotcore::detail
