// SPDX-License-Identifier: MIT
// runtime/quota/quota_pacer.h — pacing a fractional CPU limit: the cores above what the
// quota can keep running for a whole period (ceil's extra core) run only while the
// process's CPU use over the last period leaves room for them, so the process stays under
// its quota before the kernel's bandwidth control throttles the whole group.
//
// The kernel bills a group's threads against `quota` per `period` and, once the quota is
// spent, stops every one of them until the period ends. The pacer does the same one level
// down, to the extra core alone: it looks at the process's CPU time, keeps the use of the
// last period (a sliding window, which bounds every period the kernel's timer may align
// to) and caps the core count at the floor of the limit when what is left, less what the
// floor's cores need until the window frees it, would not last the full cores until its
// next look. It looks again before the full cores could spend what is left, so no look
// comes too late; an idle process is looked at rarely.
// The quota follower owns it and moves the cores through the governor.
#pragma once

#include <cstdint>
#include <deque>

namespace hotcore::detail {

class quota_pacer {
 public:
  // min_look_ns is the shortest time between two looks, max_look_ns the longest.
  quota_pacer(std::int64_t min_look_ns, std::int64_t max_look_ns) noexcept
      : _min_look_ns(min_look_ns), _max_look_ns(max_look_ns) {}

  // set_limit() takes a limit (quota per period, in microseconds; quota < 0: none) and
  // the cores it is worth (full, the follower's target) and can keep running a whole
  // period (low, at least 1). Pacing is on when full > low; otherwise cap() is 0.
  void set_limit(std::int64_t quota_us, std::int64_t period_us, unsigned full, unsigned low) noexcept;
  // look() takes the time and the process's CPU time (ns) and returns the core cap to
  // apply: 0 for none, or low.
  unsigned look(std::int64_t now_ns, std::int64_t cpu_ns);
  // next_look_ns() is how long after the last look the next one is due (0: not pacing).
  [[nodiscard]] std::int64_t next_look_ns() const noexcept { return _next_ns; }
  [[nodiscard]] unsigned cap() const noexcept { return _cap; }
  [[nodiscard]] bool pacing() const noexcept { return _full > _low; }

 private:
  struct sample {
    std::int64_t at_ns, cpu_ns;
  };
  std::int64_t cpu_at(std::int64_t t) const noexcept;

  const std::int64_t _min_look_ns, _max_look_ns;
  std::int64_t _quota_ns = -1, _period_ns = 0;
  unsigned _full = 0, _low = 0;
  unsigned _cap = 0;
  std::int64_t _next_ns = 0;
  std::deque<sample> _window;  // oldest first; the oldest is at or before now - period
};

}  // namespace hotcore::detail
