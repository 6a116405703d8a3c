// SPDX-License-Identifier: MIT
// runtime/timers/timer_wheel.cpp — the per-core timer wheel: placing timers in slots or
// the overflow list, the poll pass that fires what is due, and the earliest deadline the
// worker sleeps until.
#include "timers/timer_wheel.h"

#include <algorithm>
#include <bit>

namespace hotcore::detail {

timer_wheel::timer_wheel(timer_inbox& inbox, wheel_counters& counters,
                         const std::atomic<std::uint64_t>& cancels, std::int64_t now) noexcept
    : _inbox(inbox),
      _counters(counters),
      _cancels(cancels),
      // relaxed: only a starting point for the sweep heuristic.
      _cancels_seen(cancels.load(std::memory_order_relaxed)),
      _cur_tick(now >> shift) {}

void timer_wheel::restart(std::int64_t now) noexcept {
  // relaxed: only a starting point for the sweep heuristic (as in the constructor).
  _cancels_seen = _cancels.load(std::memory_order_relaxed);
  _cur_tick = now >> shift;
}

timer_wheel::~timer_wheel() {
  // The service empties a wheel before it frees it; this only guards against a leak.
  timer_rec* t = take_everything();
  while (t != nullptr) {
    timer_rec* n = t->next;
    drop(t);
    t = n;
  }
}

void timer_wheel::place(timer_rec* t) noexcept {
  const std::int64_t tick = std::max(t->deadline >> shift, _cur_tick);
  if (tick - _cur_tick < static_cast<std::int64_t>(slots)) {
    const auto idx = static_cast<unsigned>(tick) & (slots - 1);
    t->next = _slot[idx];
    _slot[idx] = t;
    _bits[idx / 64] |= std::uint64_t{1} << (idx % 64);
    ++_in_slots;
  } else {
    t->next = _overflow;
    _overflow = t;
    _overflow_min_tick = std::min(_overflow_min_tick, tick);
    _overflow_min_deadline = std::min(_overflow_min_deadline, t->deadline);
  }
  ++_held;
}

void timer_wheel::insert(timer_rec* t) noexcept {
  place(t);
  publish_held();
}

void timer_wheel::drop(timer_rec* t) noexcept {
  t->fn = nullptr;  // its captures go now, not when the last handle does
  t->release();
}

void timer_wheel::sort(timer_rec* t, std::int64_t now, timer_rec*& due) noexcept {
  if (t->is_cancelled()) {
    drop(t);
  } else if (t->deadline <= now) {
    t->next = due;
    due = t;
  } else {
    place(t);
  }
}

timer_rec* timer_wheel::take_overflow() noexcept {
  timer_rec* t = _overflow;
  _overflow = nullptr;
  _overflow_min_tick = _overflow_min_deadline = std::numeric_limits<std::int64_t>::max();
  return t;
}

void timer_wheel::publish_held() noexcept {
  // relaxed: a statistic (see wheel_counters).
  _counters.held.store(_held, std::memory_order_relaxed);
}

// take_slots() sorts the slots of every tick up to now_tick (each slot once, however long
// the core slept): a due timer goes onto `due`, one of this tick not yet due back into
// its slot.
void timer_wheel::take_slots(std::int64_t now, std::int64_t now_tick, timer_rec*& due) noexcept {
  const std::int64_t last = std::min(now_tick, _cur_tick + static_cast<std::int64_t>(slots) - 1);
  for (std::int64_t tick = _cur_tick; tick <= last; ++tick) {
    const auto idx = static_cast<unsigned>(tick) & (slots - 1);
    const std::uint64_t bit = std::uint64_t{1} << (idx % 64);
    if ((_bits[idx / 64] & bit) == 0) continue;
    timer_rec* t = _slot[idx];
    _slot[idx] = nullptr;
    _bits[idx / 64] &= ~bit;
    while (t != nullptr) {
      timer_rec* n = t->next;
      --_in_slots;
      --_held;
      sort(t, now, due);
      t = n;
    }
  }
}

// fire() runs the due timers, after the wheel is consistent again (a function may arm
// or cancel timers), and returns how many ran.
unsigned timer_wheel::fire(timer_rec* due) noexcept {
  unsigned did = 0;
  while (due != nullptr) {
    timer_rec* t = due;
    due = t->next;
    if (t->try_fire()) {
      t->fn();
      // release: a handle's fired() that sees it sees what fn did.
      t->state.store(timer_rec::fired, std::memory_order_release);
      ++did;
    }
    drop(t);
  }
  if (did != 0) wheel_counters::add(_counters.fired, did);
  return did;
}

unsigned timer_wheel::poll() noexcept {
  const std::int64_t now = timer_service::now_ns();
  const std::int64_t now_tick = now >> shift;
  timer_rec* due = nullptr;

  // 1. Timers from other threads and from cores that went down.
  for (timer_rec* t = _inbox.take_all(); t != nullptr;) {
    timer_rec* n = t->next;
    sort(t, now, due);
    t = n;
  }
  // 2. The slots of every tick up to now.
  if (_in_slots > 0 && now_tick >= _cur_tick) take_slots(now, now_tick, due);
  _cur_tick = std::max(_cur_tick, now_tick);
  // 3. The overflow list, once its earliest timer is half a turn away: every timer that
  // now fits in the wheel moves in, so this happens about once per half turn.
  if (_overflow != nullptr && _overflow_min_tick < _cur_tick + static_cast<std::int64_t>(slots / 2)) {
    timer_rec* t = take_overflow();
    while (t != nullptr) {
      timer_rec* n = t->next;
      --_held;
      sort(t, now, due);
      t = n;
    }
  }
  // 4. Timers cancelled long before their deadline: drop them once enough piled up.
  // relaxed: a heuristic; each timer's own state decides what is dropped.
  // The threshold, half of what the wheel holds (at least 64, at most all of it), keeps
  // the sweeps O(1) per cancellation and bounds the dead timers a wheel carries.
  if (const std::uint64_t c = _cancels.load(std::memory_order_relaxed);
      _held > 0 && c - _cancels_seen >= std::min(_held, std::max<std::uint64_t>(64, _held / 2))) {
    _cancels_seen = c;
    sweep();
  }
  publish_held();
  // 5. Fire.
  return fire(due);
}

int timer_wheel::first_slot() const noexcept {
  const auto start = static_cast<unsigned>(_cur_tick) & (slots - 1);
  constexpr unsigned words = slots / 64;
  // The start word from the start bit, the other words in turn, then the start word's
  // bits before the start bit.
  for (unsigned i = 0; i <= words; ++i) {
    const unsigned w = (start / 64 + i) % words;
    std::uint64_t bits = _bits[w];
    if (i == 0) bits &= ~std::uint64_t{0} << (start % 64);
    if (i == words) bits &= (std::uint64_t{1} << (start % 64)) - 1;
    if (bits != 0) return static_cast<int>(w * 64 + static_cast<unsigned>(std::countr_zero(bits)));
  }
  return -1;
}

std::int64_t timer_wheel::next_deadline_ns() noexcept {
  if (!_inbox.empty()) return 0;  // poll right away
  std::int64_t best = _overflow != nullptr ? _overflow_min_deadline : -1;
  if (_in_slots > 0) {
    // Every timer in the first non-empty slot has the same tick, earlier than any other
    // slot's: the earliest deadline is the least in that slot.
    const int idx = first_slot();
    for (const timer_rec* t = idx >= 0 ? _slot[static_cast<unsigned>(idx)] : nullptr; t != nullptr;
         t = t->next)
      if (best < 0 || t->deadline < best) best = t->deadline;
  }
  return best;
}

void timer_wheel::sweep() noexcept {
  for (unsigned w = 0; w < slots / 64; ++w)
    for (std::uint64_t bits = _bits[w]; bits != 0; bits &= bits - 1) {
      const unsigned idx = w * 64 + static_cast<unsigned>(std::countr_zero(bits));
      timer_rec** link = &_slot[idx];
      while (timer_rec* t = *link) {
        if (!t->is_cancelled()) {
          link = &t->next;
          continue;
        }
        *link = t->next;
        --_in_slots;
        --_held;
        drop(t);
      }
      if (_slot[idx] == nullptr) _bits[w] &= ~(std::uint64_t{1} << (idx % 64));
    }
  timer_rec* t = take_overflow();
  while (t != nullptr) {
    timer_rec* n = t->next;
    --_held;
    if (t->is_cancelled()) drop(t);
    else place(t);  // back into the overflow list (or, if its time came, a slot)
    t = n;
  }
}

timer_rec* timer_wheel::take_everything() noexcept {
  timer_rec* all = _overflow;
  _overflow = nullptr;
  _overflow_min_tick = _overflow_min_deadline = std::numeric_limits<std::int64_t>::max();
  for (unsigned idx = 0; idx < slots; ++idx)
    while (timer_rec* t = _slot[idx]) {
      _slot[idx] = t->next;
      t->next = all;
      all = t;
    }
  _bits = {};
  _in_slots = 0;
  _held = 0;
  publish_held();
  return all;
}

}  // namespace hotcore::detail
