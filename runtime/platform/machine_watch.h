// SPDX-License-Identifier: MIT
// runtime/platform/machine_watch.h — the thread that follows the machine under the
// runtime: the kernel's CPU uevents and the process's affinity mask. It only tells the
// governor which cores are available (the one hotplug path moves them) and re-pins the
// threads of a core whose CPU came back while the core stayed up.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <thread>
#include <vector>

#include "platform/affinity_watch.h"
#include "platform/uevent_listener.h"

namespace hotcore::detail {

struct runtime_impl;

// machine_watch is owned by the runtime (runtime_options::follow_cpu_hotplug or
// follow_affinity). It reacts to a uevent as soon as it arrives and polls the process
// mask every options.affinity_poll_ms, so a core follows a change of the mask within
// that period plus the time of its hotplug walk.
class machine_watch {
 public:
  explicit machine_watch(runtime_impl& rt);
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

 private:
  void loop();
  void on_uevent(const cpu_uevent& ev);
  void evaluate();

  runtime_impl& _rt;
  uevent_listener _uevents;
  affinity_watch _affinity;
  int _stop_fd = -1;
  std::thread _thread;
  std::atomic<pid_t> _tid{0};
  // Watch-thread only, by OS CPU number: the availability last told the governor (-1:
  // nothing yet), and whether that failed and must be told again (-EBUSY: the last core).
  std::vector<signed char> _told;
  std::vector<char> _retry;
  bool _dirty = true;  // something changed: evaluate and reload the topology
};

}  // namespace hotcore::detail
