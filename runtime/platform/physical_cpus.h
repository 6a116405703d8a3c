// SPDX-License-Identifier: MIT
// runtime/platform/physical_cpus.h — physical mode: the cores whose CPU the kernel takes
// offline and online with them (the row cpu:physical), the per-CPU locks that keep other
// physical-mode runtimes off those CPUs, the guard that brings them back if the process
// dies (the guard service when it runs, runtime/guard/, else a forked guardian), and
// which offlines were the runtime's own. Each CPU ends as the runtime found it.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "non_copyable.h"
#include "guard/client.h"
#include "platform/guardian.h"

namespace hotcore::detail {

class physical_cpus : non_copyable {
 public:
  // slots: one more than the highest core id. No core is physical before claim().
  explicit physical_cpus(unsigned slots);

  // claim() makes these cores physical (each has a cpuN/online file) and notes the state
  // each CPU is found in. Where the guard service runs, it claims them there; otherwise it
  // takes each one's per-CPU lock, records the CPUs found offline, and starts the
  // guardian. -EBUSY: another physical-mode runtime holds one. 0 or a negative errno;
  // release() undoes what was done.
  int claim(const std::vector<unsigned>& cores);
  // release() puts every CPU back as the runtime found it (at destruction): online again
  // if the runtime took it offline, offline again if it was offline at claim() and the
  // runtime brought it online; then it stops the guard and drops the locks.
  void release();
  // leave(): from now on cores go down without taking their CPU offline (the destructor's
  // last walks), so destruction leaves each CPU as it was found.
  void leave() noexcept { _leaving = true; }

  // The row cpu:physical: online() (startup, before core:bringup) has the kernel bring the
  // core's CPU online, or fails with the kernel's error; offline() (teardown, after
  // core:bringup moved every thread off) takes it offline and may not fail: a refusal is
  // said on stderr, and the CPU stays online.
  int online(unsigned core);
  int offline(unsigned core);

  // What the machine watch asks: whether a core is physical, whether its CPU is offline
  // because the runtime took it offline, and take_own_offline(): whether an offline
  // uevent of the core's CPU is one the runtime caused itself (it is counted off once).
  [[nodiscard]] bool physical(unsigned core) const noexcept;
  // takes_offline(): the core going down now takes its CPU offline (physical, and the
  // destructor's last walks have not begun).
  [[nodiscard]] bool takes_offline(unsigned core) const noexcept { return !_leaving && physical(core); }
  [[nodiscard]] bool offlined_by_us(unsigned core) const noexcept;
  bool take_own_offline(unsigned core) noexcept;

 private:
  struct cpu {
    bool physical = false;  // set by claim(), before any walk
    // offlined_by_us: the CPU is offline because offline() took it offline. own_offlines:
    // offline uevents the runtime caused itself that the machine watch has not seen yet.
    // relaxed: flags shared by the hotplug path and the watch thread; nothing else is
    // published through them.
    std::atomic<bool> offlined_by_us{false};
    std::atomic<int> own_offlines{0};
    bool found_offline = false;  // set by claim()
  };

  // write() writes cpuN/online, through the guard service when it runs.
  int write(unsigned core, bool online);
  // settle() puts one CPU back as found; false if the kernel refused.
  bool settle(unsigned core);

  const unsigned _slots;
  std::unique_ptr<cpu[]> _cpus;  // by core id
  std::vector<int> _locks;       // the per-CPU lock fds
  guardian _guard;
  guard_client _service;
  // Set by the destructor before its last walks (which read it); see leave().
  bool _leaving = false;
};

}  // namespace hotcore::detail
