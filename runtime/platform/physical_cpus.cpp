// SPDX-License-Identifier: MIT
// runtime/platform/physical_cpus.cpp — physical mode: the "cpu:physical" state (the
// kernel's own CPU hotplug through /sys/devices/system/cpu/cpuN/online, below core:bringup
// in the PREPARE section), the per-CPU locks and the guard (service or forked guardian).
#include "platform/physical_cpus.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/records.h"
#include "platform/sysfs_cpu.h"

namespace hotcore::detail {

physical_cpus::physical_cpus(unsigned slots) : _slots(slots), _cpus(std::make_unique<cpu[]>(slots)) {}

bool physical_cpus::physical(unsigned core) const noexcept {
  return core < _slots && _cpus[core].physical;
}

bool physical_cpus::offlined_by_us(unsigned core) const noexcept {
  // relaxed: see cpu.
  return physical(core) && _cpus[core].offlined_by_us.load(std::memory_order_relaxed);
}

bool physical_cpus::take_own_offline(unsigned core) noexcept {
  if (core >= _slots) return false;
  std::atomic<int>& counter = _cpus[core].own_offlines;
  // relaxed: a counter of events, see cpu.
  int n = counter.load(std::memory_order_relaxed);
  while (n > 0)
    if (counter.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) return true;
  return false;
}

// "cpu:physical" startup, on the control thread before core:bringup pins the core's
// hotplug thread there: the kernel brings the CPU online (the write returns once it is).
// A CPU already online is fine. It may fail (the kernel's error); the walk rolls back.
int physical_cpus::online(unsigned core) {
  cpu& c = _cpus[core];
  if (!c.physical) return 0;  // no online file (cpu0): this core stays logical
  const int ret = write(core, true);
  // relaxed: see cpu.
  if (ret == 0) {
    c.offlined_by_us.store(false, std::memory_order_relaxed);
    char name[16];
    cpu_record_name(core, name);
    // A CPU found offline keeps its record (the repair takes it offline again).
    if (!_service.connected() && !c.found_offline) remove_record(name);
  }
  return ret;
}

// "cpu:physical" teardown, after core:bringup's teardown moved every runtime thread off
// the CPU: the kernel takes it offline. A PREPARE teardown may not fail: if the kernel
// refuses, the core is down all the same (no thread of ours is left there) and the CPU
// stays online; that is said on stderr.
int physical_cpus::offline(unsigned core) {
  cpu& c = _cpus[core];
  // Destruction leaves the CPU as it was found: the core goes down, the CPU stays.
  if (!c.physical || _leaving) return 0;
  // The watch must not take our own offline for the kernel's: count the uevent it causes
  // (only a CPU that is online now will send one).
  const bool was_online = read_cpu_online(core) == 1;
  // The record goes first: whatever kills the process from here on, the guardian (or
  // `hotcore restore`) finds which CPU to bring back.
  // (The guard service writes it itself; a CPU found offline has its record already.)
  char name[16];
  cpu_record_name(core, name);
  const bool record = was_online && !c.found_offline && !_service.connected();
  proc_id self;
  if (record)
    if (const int ret = read_proc_id(0, self) < 0 ? -ESRCH : write_record(name, self, nullptr, nullptr);
        ret < 0) {
      std::fprintf(stderr, "hotcore: cpu:physical: cpu%u stays online: cannot record it in %s: %s\n",
                   core, record_dir, std::strerror(-ret));
      return 0;
    }
  // relaxed: see cpu.
  if (was_online) c.own_offlines.fetch_add(1, std::memory_order_relaxed);
  const int ret = write(core, false);
  if (ret < 0) {
    if (was_online) c.own_offlines.fetch_sub(1, std::memory_order_relaxed);
    if (record) remove_record(name);
    std::fprintf(stderr, "hotcore: cpu:physical: cpu%u stays online: %s\n", core, std::strerror(-ret));
    return 0;
  }
  // Only an offline we caused is ours: a CPU someone else took offline first (the kernel
  // uevent that brought us here) stays theirs, and unavailable to the watch.
  if (was_online) c.offlined_by_us.store(true, std::memory_order_relaxed);
  return 0;
}

int physical_cpus::write(unsigned core, bool online) {
  return _service.connected() ? _service.set_online(core, online) : write_cpu_online(core, online);
}

int physical_cpus::claim(const std::vector<unsigned>& cores) {
  for (unsigned id : cores) {
    _cpus[id].physical = true;
    _cpus[id].found_offline = read_cpu_online(id) == 0;
  }
  if (cores.empty()) return 0;
  if (_service.connect() == 0) {
    for (unsigned id : cores)
      if (const int ret = _service.claim(id); ret < 0) return ret;
    return 0;
  }
  proc_id self;
  if (const int ret = read_proc_id(0, self); ret < 0) return ret;
  for (unsigned id : cores) {
    const int fd = lock_cpu(id);
    if (fd < 0) return fd;  // release() closes the locks taken so far
    _locks.push_back(fd);
    char name[16];
    cpu_record_name(id, name);
    if (_cpus[id].found_offline)
      if (const int ret = write_record(name, self, found_offline, nullptr); ret < 0) return ret;
  }
  return _guard.start(cores, _locks);
}

bool physical_cpus::settle(unsigned id) {
  cpu& c = _cpus[id];
  // relaxed: every hotplug operation and the watch have finished.
  const bool back_online = !c.found_offline && c.offlined_by_us.load(std::memory_order_relaxed);
  const bool back_offline = c.found_offline && read_cpu_online(id) == 1;
  if (back_online || back_offline) {
    if (const int ret = write(id, back_online); ret < 0) {
      // The record stays: the guardian does not act on a clean exit, `hotcore restore` does.
      std::fprintf(stderr, "hotcore: cannot bring cpu%u back %s: %s (hotcore restore retries)\n",
                   id, back_online ? "online" : "offline", std::strerror(-ret));
      return false;
    }
  }
  c.offlined_by_us.store(false, std::memory_order_relaxed);
  return true;
}

void physical_cpus::release() {
  for (unsigned id = 0; id < _slots; ++id) {
    if (!_cpus[id].physical || !settle(id)) continue;
    char name[16];
    cpu_record_name(id, name);
    if (!_service.connected()) remove_record(name);
  }
  _guard.stop();
  for (const int fd : _locks) ::close(fd);
  _locks.clear();
  _service.close();
}

}  // namespace hotcore::detail
