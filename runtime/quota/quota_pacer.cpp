// SPDX-License-Identifier: MIT
// runtime/quota/quota_pacer.cpp — the pacer's window and its two thresholds (see
// quota_pacer.h).
#include "quota/quota_pacer.h"

#include <algorithm>

namespace hotcore::detail {

void quota_pacer::set_limit(std::int64_t quota_us, std::int64_t period_us, unsigned full,
                            unsigned low) noexcept {
  low = std::max(1u, low);
  if (quota_us < 0 || period_us <= 0 || full <= low) full = low = 0;  // nothing to pace
  const std::int64_t quota_ns = full == 0 ? -1 : quota_us * 1000;
  if (quota_ns == _quota_ns && period_us * 1000 == _period_ns && full == _full && low == _low)
    return;
  _quota_ns = quota_ns;
  _period_ns = period_us * 1000;
  _full = full;
  _low = low;
  _cap = 0;
  _next_ns = pacing() ? _min_look_ns : 0;
  if (!pacing()) _window.clear();
}

// cpu_at() is the CPU time at t, linear between two looks; before the first look the
// pacer knows of no use.
std::int64_t quota_pacer::cpu_at(std::int64_t t) const noexcept {
  if (t <= _window.front().at_ns) return _window.front().cpu_ns;
  for (std::size_t i = 1; i < _window.size(); ++i) {
    const sample& a = _window[i - 1];
    const sample& b = _window[i];
    if (t <= b.at_ns)
      return a.cpu_ns + (b.cpu_ns - a.cpu_ns) * (t - a.at_ns) / std::max<std::int64_t>(1, b.at_ns - a.at_ns);
  }
  return _window.back().cpu_ns;
}

unsigned quota_pacer::look(std::int64_t now_ns, std::int64_t cpu_ns) {
  if (!pacing()) return 0;
  _window.push_back({now_ns, cpu_ns});
  const std::int64_t start = now_ns - _period_ns;
  while (_window.size() >= 2 && _window[1].at_ns <= start) _window.pop_front();
  const std::int64_t at_start = cpu_at(start);
  const std::int64_t used = cpu_ns - at_start;
  // Once the extra core stops, the low cores still run: over the next period they add
  // low x s while the window frees what it used in its first s. ahead is the most that
  // sum reaches (at a look, since both are linear between looks): the room the low cores
  // need, large after an idle spell, none after a busy one.
  std::int64_t ahead = 0;
  for (const sample& x : _window)
    if (x.at_ns > start)
      ahead = std::max(ahead, static_cast<std::int64_t>(_low) * (x.at_ns - start) - (x.cpu_ns - at_start));
  // What is left for the extra core, less a twentieth of the quota kept for the threads
  // outside the pool (I/O, timers) and for a look that comes late.
  const std::int64_t left = _quota_ns - _quota_ns / 20 - used - ahead;
  // The full cores spend `full` ns of CPU per ns: stop the extra core while what is left
  // would not last them until the next look, and let it run again once it lasts two
  // looks (so that the core does not flap at every look).
  const std::int64_t per_look = static_cast<std::int64_t>(_full) * _min_look_ns;
  if (_cap == 0 && left < per_look) _cap = _low;
  else if (_cap != 0 && left >= 2 * per_look) _cap = 0;
  // Running full: look again before the full cores can spend what is left. Capped: the
  // window frees what it held as it slides; look often enough to give the core back soon.
  const std::int64_t until = _cap == 0 ? (left - per_look) / _full : 2 * _min_look_ns;
  _next_ns = std::clamp(until, _min_look_ns, _max_look_ns);
  return _cap;
}

}  // namespace hotcore::detail
