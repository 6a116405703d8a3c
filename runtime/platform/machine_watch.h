// SPDX-License-Identifier: MIT
// runtime/platform/machine_watch.h — the thread that follows the machine under the
// runtime: the kernel's CPU uevents and the process's affinity mask. It only tells the
// governor which cores are available (the one hotplug path moves them) and re-pins the
// threads of a core whose CPU came back while the core stayed up.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "platform/affinity_watch.h"
#include "platform/uevent_listener.h"

namespace hotcore::detail {

// watch_host is what the machine watch asks of the runtime (runtime/machine_host.cpp
// implements it). Each call is made on the watch thread.
class watch_host {
 public:
  virtual ~watch_host() = default;
  // tell_available() gives the governor a core's availability: 0, or its error (the
  // watch tells it again after the poll period).
  virtual int tell_available(unsigned core, bool available) = 0;
  // restore_placement(): a CPU came back online; the runtime's threads go back where they
  // belong (through the hotplug path).
  virtual int restore_placement() = 0;
  // reload_topology() takes a new hwloc snapshot for this process mask.
  virtual void reload_topology(const cpu_set_t& process_mask) = 0;
  // adopt()/release(): the watch thread is a helper thread of the runtime (placement).
  virtual void adopt(pid_t tid) = 0;
  virtual void release(pid_t tid) = 0;
  // Physical mode: take_own_offline() says an offline uevent of the core's CPU is one the
  // runtime caused itself (counted off once); offlined_by_us() that the core's CPU is
  // offline because the runtime took it offline (the core is still available).
  virtual bool take_own_offline(unsigned core) = 0;
  [[nodiscard]] virtual bool offlined_by_us(unsigned core) const = 0;
};

// watch_config is what the watch follows (from runtime_options) and the runtime's cores.
struct watch_config {
  std::vector<unsigned> cores;   // ascending
  std::vector<unsigned> cpu_of;  // by core id: its OS CPU (placement::cpu_of())
  cpu_set_t home;                // the process's mask at create()
  bool follow_cpu_hotplug = false;
  bool follow_affinity = false;
  unsigned affinity_poll_ms = 100;
};

// watch_counts is what the watch saw (runtime::stats()).
struct watch_counts {
  std::uint64_t uevents = 0, mask_changes = 0, availability_changes = 0;
};

// machine_watch is owned by the runtime (runtime_options::follow_cpu_hotplug or
// follow_affinity). It reacts to a uevent as soon as it arrives and polls the process
// mask every options.affinity_poll_ms, so a core follows a change of the mask within
// that period plus the time of its hotplug walk.
class machine_watch {
 public:
  machine_watch(watch_config config, std::unique_ptr<watch_host> host);
  machine_watch(const machine_watch&) = delete;
  machine_watch& operator=(const machine_watch&) = delete;
  ~machine_watch() { stop(); }

  // open() opens the uevent socket (if asked for) and the eventfd that stops the thread.
  // Returns 0 or a negative errno; nothing stays open on error.
  [[nodiscard]] int open();
  // start() starts the thread, placed on the spare mask (off every core that is down).
  [[nodiscard]] int start();
  // stop() wakes the thread, joins it and closes every fd. Idempotent.
  void stop() noexcept;

  [[nodiscard]] watch_counts counts() const noexcept;
  // kernel_offlines() is how many offline uevents of the core's CPU the runtime did not
  // cause itself.
  [[nodiscard]] unsigned long kernel_offlines(unsigned core) const noexcept;

 private:
  void loop();
  void on_uevent(const cpu_uevent& ev);
  void evaluate();

  [[nodiscard]] bool is_core(unsigned core) const noexcept;

  const watch_config _config;
  const std::unique_ptr<watch_host> _host;
  uevent_listener _uevents;
  affinity_watch _affinity;
  int _stop_fd = -1;
  std::thread _thread;
  std::atomic<pid_t> _tid{0};
  // Watch-thread only, by core id: the availability last told the governor (-1:
  // nothing yet), and whether that failed and must be told again (-EBUSY: the last core).
  std::vector<signed char> _told;
  std::vector<char> _retry;
  bool _dirty = true;  // something changed: evaluate and reload the topology
  // Counted by the watch thread, read by stats() from any thread. relaxed: statistics,
  // nothing is published through them.
  std::atomic<std::uint64_t> _uevent_count{0}, _mask_changes{0}, _availability_changes{0};
  std::unique_ptr<std::atomic<unsigned long>[]> _kernel_offlines;  // by core id
};

}  // namespace hotcore::detail
