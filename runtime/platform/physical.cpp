// runtime/platform/physical.cpp — the "cpu:physical" state: the kernel's own CPU hotplug
// through /sys/devices/system/cpu/cpuN/online, below core:bringup in the PREPARE section.
#include <cstdio>
#include <cstring>

#include "platform/sysfs_cpu.h"
#include "runtime_impl.h"

namespace hotcore::detail {

// "cpu:physical" startup, on the control thread before core:bringup pins the core's
// hotplug thread there: the kernel brings the CPU online (the write returns once it is).
// A CPU already online is fine. It may fail (the kernel's error); the walk rolls back.
int runtime_impl::physical_online(unsigned core) {
  core_ctx& c = *by_id[core];
  if (!c.physical) return 0;  // no online file (cpu0): this core stays logical
  const int ret = write_cpu_online(core, true);
  // relaxed: see core_ctx.
  if (ret == 0) c.offlined_by_us.store(false, std::memory_order_relaxed);
  return ret;
}

// "cpu:physical" teardown, after core:bringup's teardown moved every runtime thread off
// the CPU: the kernel takes it offline. A PREPARE teardown may not fail: if the kernel
// refuses, the core is down all the same (no thread of ours is left there) and the CPU
// stays online; that is said on stderr.
int runtime_impl::physical_offline(unsigned core) {
  core_ctx& c = *by_id[core];
  if (!c.physical) return 0;
  // The watch must not take our own offline for the kernel's: count the uevent it causes
  // (only a CPU that is online now will send one).
  const bool was_online = read_cpu_online(core) == 1;
  // relaxed: see core_ctx.
  if (was_online) c.own_offlines.fetch_add(1, std::memory_order_relaxed);
  const int ret = write_cpu_online(core, false);
  if (ret < 0) {
    if (was_online) c.own_offlines.fetch_sub(1, std::memory_order_relaxed);
    std::fprintf(stderr, "hotcore: cpu:physical: cpu%u stays online: %s\n", core, std::strerror(-ret));
    return 0;
  }
  // Only an offline we caused is ours: a CPU someone else took offline first (the kernel
  // uevent that brought us here) stays theirs, and unavailable to the watch.
  if (was_online) c.offlined_by_us.store(true, std::memory_order_relaxed);
  return 0;
}

// restore_physical() brings back online every CPU the runtime took offline (at
// destruction: the machine is left as the runtime found it).
void runtime_impl::restore_physical() {
  for (unsigned id : core_ids) {
    core_ctx& c = *by_id[id];
    // relaxed: every hotplug operation and the watch have finished.
    if (!c.physical || !c.offlined_by_us.load(std::memory_order_relaxed)) continue;
    if (const int ret = write_cpu_online(id, true); ret < 0)
      std::fprintf(stderr, "hotcore: cannot bring cpu%u back online: %s\n", id, std::strerror(-ret));
    else
      c.offlined_by_us.store(false, std::memory_order_relaxed);
  }
}

}  // namespace hotcore::detail
