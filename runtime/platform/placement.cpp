// SPDX-License-Identifier: MIT
// runtime/platform/placement.cpp — the one owner of where the runtime's threads run: a
// core's threads on its CPU, up or down, until the machine needs the CPU; every other
// thread on the process's mask minus the cores that are down (the only sched_setaffinity
// of the runtime).
#include "platform/placement.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

namespace hotcore::detail {
namespace {

int set_mask(pid_t tid, const cpu_set_t& mask) noexcept {
  if (tid <= 0) return 0;  // no thread (yet): nothing to place
  return sched_setaffinity(tid, sizeof mask, &mask) == 0 ? 0 : -errno;
}

constexpr std::size_t index(core_thread t) noexcept { return t == core_thread::hotplug ? 0 : 1; }
constexpr core_thread both[] = {core_thread::hotplug, core_thread::worker};

}  // namespace

placement::placement(const std::vector<unsigned>& cores, const std::vector<unsigned>& cpus,
                     const cpu_set_t& home, thread_of_fn thread_of, vacate_fn vacate)
    : _cores(cores), _home(home), _thread_of(std::move(thread_of)), _vacate(std::move(vacate)) {
  const unsigned slots = _cores.empty() ? 0 : _cores.back() + 1;
  _cpu.resize(slots);
  for (std::size_t i = 0; i < _cores.size(); ++i) _cpu[_cores[i]] = cpus[i];
  _pinned.assign(slots, {false, false});
  _up.assign(slots, 0);
}

// spare() is the process's mask minus the CPUs of the cores that are down (a CPU that an
// up core also runs on stays). Every core down (a runtime created with its cores
// offline): nowhere is better than anywhere.
cpu_set_t placement::spare() const noexcept {
  cpu_set_t in_use, spare = _home;
  CPU_ZERO(&in_use);
  for (unsigned id : _cores)
    if (up(id)) CPU_SET(_cpu[id], &in_use);
  for (unsigned id : _cores)
    if (!CPU_ISSET(_cpu[id], &in_use)) CPU_CLR(_cpu[id], &spare);
  if (CPU_COUNT(&spare) == 0) spare = _home;
  return spare;
}

// spread() gives the spare mask to the core threads that are not pinned and to the
// helpers. Setting a sleeping thread's affinity is cheap (it is not migrated); a thread
// the kernel cannot place keeps the mask it had. When the mask is the one last spread
// (cores that share a CPU with another core that is up), only the threads of `changing`
// need it: a walk then costs O(1) affinity calls instead of one per core that is down.
void placement::spread(unsigned changing) noexcept {
  const cpu_set_t mask = spare();
  const bool same = _spread_valid && CPU_EQUAL(&mask, &_spread);
  _spread = mask;
  _spread_valid = true;
  for (unsigned id : _cores)
    if (!same || id == changing)
      for (core_thread t : both)
        if (!_pinned[id][index(t)]) (void)set_mask(_thread_of(t, id), mask);
  if (!same)
    for (pid_t tid : _helpers) (void)set_mask(tid, mask);
}

int placement::pin(core_thread which, unsigned core) noexcept {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(_cpu[core], &one);
  return set_mask(_thread_of(which, core), one);
}

// still_pinned() asks the kernel whether a thread kept its pin: its mask is exactly the
// core's CPU, and that CPU is active (sched_getaffinity reports the mask's active CPUs, so
// a CPU the kernel took offline, or a cpuset that took it away, shows here).
bool placement::still_pinned(core_thread which, unsigned core) const noexcept {
  const pid_t tid = _thread_of(which, core);
  if (tid <= 0) return false;
  cpu_set_t now, one;
  CPU_ZERO(&one);
  CPU_SET(_cpu[core], &one);
  return sched_getaffinity(tid, sizeof now, &now) == 0 && CPU_EQUAL(&now, &one);
}

int placement::place(core_thread which, unsigned core) noexcept {
  auto& pinned = _pinned[core][index(which)];
  if (!pinned || !still_pinned(which, core)) {
    pinned = false;
    int ret = pin(which, core);
    // The kernel accepts a mask equal to the thread's own without looking at its CPUs (a
    // thread kept on a CPU that went offline): ask again.
    if (ret == 0 && !still_pinned(which, core)) ret = -EINVAL;
    if (ret != 0) return ret;
    pinned = true;
  }
  if (which == core_thread::hotplug) {
    _up[core] = 1;
    spread(core);  // the others may use this CPU again
  }
  return 0;
}

void placement::leave(core_thread which, unsigned core) noexcept {
  const bool vacate = _vacate(core);
  if (vacate) _pinned[core][index(which)] = false;
  if (which == core_thread::hotplug) {
    _up[core] = 0;
    spread(core);  // the core is down: the unpinned threads keep off it
  } else if (vacate) {
    (void)set_mask(_thread_of(which, core), spare());
  }
}

void placement::adopt(pid_t tid) {
  (void)set_mask(tid, spare());
  _helpers.push_back(tid);
}

void placement::release(pid_t tid) { std::erase(_helpers, tid); }

int placement::restore_all() noexcept {
  int err = 0;
  for (unsigned id : _cores)
    for (core_thread t : both) {
      if (!_pinned[id][index(t)]) continue;  // spread() below
      const int ret = pin(t, id);
      if (ret == 0) continue;
      if (up(id)) {
        if (err == 0) err = ret;
      } else {
        _pinned[id][index(t)] = false;  // a down core's CPU that is gone: to the spare mask
      }
    }
  _spread_valid = false;  // the kernel widened masks behind our back: give every one again
  spread(UINT_MAX);
  return err;
}

}  // namespace hotcore::detail
