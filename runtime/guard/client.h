// SPDX-License-Identifier: MIT
// runtime/guard/client.h — a physical-mode runtime's connection to the guard service:
// when the service runs, the runtime asks it to claim its CPUs and to take them offline
// and online (it needs no write access to sysfs itself), and the service puts them back
// as found when the runtime's process ends, however it ends.
#pragma once

#include <mutex>

#include "non_copyable.h"

namespace hotcore::detail {

class guard_client : non_copyable {
 public:
  ~guard_client() { close(); }

  // connect() opens the connection: 0, or a negative errno (-ENOENT or -ECONNREFUSED
  // when no service runs).
  [[nodiscard]] int connect() noexcept;
  [[nodiscard]] bool connected() const noexcept { return _fd >= 0; }
  void close() noexcept;

  // claim() takes cpu for this process (-EBUSY: another runtime holds it); set_online()
  // has the service write cpuN/online. 0 or a negative errno.
  [[nodiscard]] int claim(unsigned cpu) noexcept;
  [[nodiscard]] int set_online(unsigned cpu, bool online) noexcept;

 private:
  int ask(const char* verb, unsigned cpu) noexcept;

  int _fd = -1;
  std::mutex _ask;  // one request and its answer at a time (parallel walks may ask)
};

// guard_reachable() tells whether the guard service answers a connection now.
bool guard_reachable() noexcept;

}  // namespace hotcore::detail
