// SPDX-License-Identifier: MIT
// runtime/timers/timer_wheel.h — one core's timer wheel: 512 slots of 2^20 ns plus an
// overflow list, run as a core_poller by the core's worker (poll() fires what is due,
// next_deadline_ns() is the exact earliest deadline).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>

#include "hotcore/core_poller.h"
#include "hotcore/timers.h"
#include "timers/timer_rec.h"

namespace hotcore::detail {

// wheel_counters are a core's timer counts: written by the thread that owns the wheel
// (its worker, or its hotplug thread while the worker does not poll it) with relaxed
// load+store, read by stats() from anywhere.
struct alignas(64) wheel_counters {
  std::atomic<std::uint64_t> armed{0};
  std::atomic<std::uint64_t> fired{0};
  std::atomic<std::uint64_t> held{0};
  static void add(std::atomic<std::uint64_t>& c, std::uint64_t by) noexcept {
    // relaxed load+store: one writer at a time (see above).
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

class timer_wheel final : public core_poller {
 public:
  static constexpr unsigned slots = timer_service::wheel_slots;
  static constexpr unsigned shift = timer_service::tick_shift;
  static_assert((slots & (slots - 1)) == 0 && slots % 64 == 0);

  // cancels counts successful cancel() calls service-wide: when it grew by half of what
  // the wheel holds (at least 64, or everything it holds) since the last sweep, poll()
  // drops every cancelled timer, so timers cancelled long before their deadline do not
  // pile up.
  timer_wheel(timer_inbox& inbox, wheel_counters& counters, const std::atomic<std::uint64_t>& cancels,
              std::int64_t now) noexcept;
  ~timer_wheel() override;

  // poll() takes the inbox, fires every timer whose deadline has passed (each exactly
  // once: try_fire() decides against cancel()) and drops cancelled ones. Owner only.
  unsigned poll() noexcept override;
  // next_deadline_ns() is the earliest deadline held (0 if the inbox has timers), or -1.
  std::int64_t next_deadline_ns() noexcept override;

  // restart() makes an empty wheel start again at `now` (its core's next bring-up).
  void restart(std::int64_t now) noexcept;
  // insert() adds a timer armed on this core (owner only: a task on the core, or the
  // hotplug thread while the worker does not poll the wheel).
  void insert(timer_rec* t) noexcept;
  // take_everything() empties the wheel (slots and overflow) into one list. Owner only.
  [[nodiscard]] timer_rec* take_everything() noexcept;
  [[nodiscard]] std::uint64_t held() const noexcept { return _held; }

 private:
  void place(timer_rec* t) noexcept;
  // sort() places t, drops it if cancelled, or adds it to `due` if its time has come.
  void sort(timer_rec* t, std::int64_t now, timer_rec*& due) noexcept;
  // take_overflow() empties the overflow list and returns what it held (still counted in
  // _held: the caller places or drops each one).
  timer_rec* take_overflow() noexcept;
  void take_slots(std::int64_t now, std::int64_t now_tick, timer_rec*& due) noexcept;
  unsigned fire(timer_rec* due) noexcept;
  void drop(timer_rec* t) noexcept;
  void publish_held() noexcept;
  [[nodiscard]] int first_slot() const noexcept;  // first non-empty slot from _cur_tick
  void sweep() noexcept;                          // drop every cancelled timer held

  timer_inbox& _inbox;
  wheel_counters& _counters;
  const std::atomic<std::uint64_t>& _cancels;
  std::uint64_t _cancels_seen = 0;
  std::int64_t _cur_tick;  // slots of ticks before this one are done
  std::array<timer_rec*, slots> _slot{};
  std::array<std::uint64_t, slots / 64> _bits{};
  timer_rec* _overflow = nullptr;
  std::int64_t _overflow_min_tick = std::numeric_limits<std::int64_t>::max();
  std::int64_t _overflow_min_deadline = std::numeric_limits<std::int64_t>::max();
  std::uint64_t _in_slots = 0;
  std::uint64_t _held = 0;  // in slots and overflow
};

}  // namespace hotcore::detail
