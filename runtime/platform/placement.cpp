// SPDX-License-Identifier: MIT
// runtime/platform/placement.cpp — the one owner of where the runtime's threads run: a
// core's threads on its CPU while placed there, every other thread on the process's mask
// minus the cores that are down (the only sched_setaffinity of the runtime).
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
                     const cpu_set_t& home, thread_of_fn thread_of)
    : _cores(cores), _home(home), _thread_of(std::move(thread_of)) {
  const unsigned slots = _cores.empty() ? 0 : _cores.back() + 1;
  _cpu.resize(slots);
  for (std::size_t i = 0; i < _cores.size(); ++i) _cpu[_cores[i]] = cpus[i];
  _placed.assign(slots, {false, false});
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

bool placement::up(unsigned core) const noexcept {
  return _placed[core][index(core_thread::hotplug)];
}

// spread() gives the spare mask to the threads of the cores that are down and to the
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
    if (!up(id) && (!same || id == changing))
      for (core_thread t : both) (void)set_mask(_thread_of(t, id), mask);
  if (!same)
    for (pid_t tid : _helpers) (void)set_mask(tid, mask);
}

int placement::pin(core_thread which, unsigned core) noexcept {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(_cpu[core], &one);
  return set_mask(_thread_of(which, core), one);
}

int placement::place(core_thread which, unsigned core) noexcept {
  if (const int ret = pin(which, core); ret != 0) return ret;
  _placed[core][index(which)] = true;
  if (which == core_thread::hotplug) spread(core);  // the others may use this CPU again
  return 0;
}

void placement::leave(core_thread which, unsigned core) noexcept {
  _placed[core][index(which)] = false;
  if (which == core_thread::hotplug) spread(core);  // the core is down: everyone leaves it
  else (void)set_mask(_thread_of(which, core), spare());
}

void placement::adopt(pid_t tid) {
  (void)set_mask(tid, spare());
  _helpers.push_back(tid);
}

void placement::release(pid_t tid) { std::erase(_helpers, tid); }

int placement::restore_all() noexcept {
  const cpu_set_t mask = spare();
  int err = 0;
  for (unsigned id : _cores)
    for (core_thread t : both) {
      if (!_placed[id][index(t)]) {
        if (up(id)) (void)set_mask(_thread_of(t, id), mask);  // a parked worker of an up core
        continue;
      }
      if (const int ret = pin(t, id); ret != 0 && err == 0) err = ret;
    }
  _spread_valid = false;  // the kernel widened masks behind our back: give every one again
  spread(UINT_MAX);
  return err;
}

}  // namespace hotcore::detail
