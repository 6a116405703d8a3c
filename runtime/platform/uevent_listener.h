// SPDX-License-Identifier: MIT
// runtime/platform/uevent_listener.h — the kernel's CPU uevents (NETLINK_KOBJECT_UEVENT):
// "offline@/devices/system/cpu/cpu1" and its kin, parsed into (action, cpu).
#pragma once

#include <cstddef>
#include <functional>

#include "non_copyable.h"

namespace hotcore::detail {

// cpu_uevent is one kernel uevent about a CPU device.
struct cpu_uevent {
  enum class action { add, remove, online, offline, other };
  action act = action::other;
  unsigned cpu = 0;
};

// parse_cpu_uevent() reads one datagram the kernel sent ("ACTION@DEVPATH\0KEY=VALUE\0...")
// and fills ev when it is about a CPU (SUBSYSTEM=cpu, DEVPATH /devices/system/cpu/cpuN).
// Returns false for anything else (other subsystems, malformed text).
bool parse_cpu_uevent(const char* buf, std::size_t len, cpu_uevent& ev);

// uevent_listener owns a netlink socket bound to the kernel's uevent multicast group.
class uevent_listener : non_copyable {
 public:
  ~uevent_listener() { close(); }

  // open() creates and binds the socket (non-blocking, close-on-exec). Returns 0 or the
  // negative errno of socket()/bind() (-EMFILE, -EPERM, -EPROTONOSUPPORT...); nothing
  // stays open on error.
  [[nodiscard]] int open();
  void close() noexcept;
  [[nodiscard]] int fd() const noexcept { return _fd; }
  // receive() reads every datagram waiting and hands each CPU event to fn; datagrams not
  // sent by the kernel are ignored. Returns 0, -ENOBUFS when the kernel dropped events
  // (the socket's buffer overflowed: the caller must look at the machine again), or
  // another negative errno.
  int receive(const std::function<void(const cpu_uevent&)>& fn);

 private:
  int _fd = -1;
};

}  // namespace hotcore::detail
