// SPDX-License-Identifier: MIT
// tests/cpu1_guard.h — the rules for a test that takes cpu1 offline: hold
// /tmp/hotcore-cpu1.lock for the whole program, always write 1 back to cpu1/online (at the
// end of each test case, at exit, and on a fatal signal), and skip (77) when not root or
// when cpu1 has no online file.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "allowed_cpus.h"

namespace hotcore_test {

inline constexpr const char* cpu1_online = "/sys/devices/system/cpu/cpu1/online";
inline constexpr const char* cpu1_lock_path = "/tmp/hotcore-cpu1.lock";

// write_cpu1_online() writes "1"/"0" to cpu1/online with plain syscalls (async-signal-safe).
// Returns true when the write went through.
inline bool write_cpu1_online(bool on) noexcept {
  const int fd = ::open(cpu1_online, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, on ? "1" : "0", 1) == 1;
  ::close(fd);
  return ok;
}

// read_cpu1_online() is 1 or 0, or -1 when it cannot be read.
inline int read_cpu1_online() {
  std::ifstream f(cpu1_online);
  int v = -1;
  f >> v;
  return f ? v : -1;
}

// cpu1_online_guard writes 1 back when it goes out of scope (a test case that failed or
// threw included).
struct cpu1_online_guard {
  cpu1_online_guard() = default;
  cpu1_online_guard(const cpu1_online_guard&) = delete;
  cpu1_online_guard& operator=(const cpu1_online_guard&) = delete;
  ~cpu1_online_guard() { (void)write_cpu1_online(true); }
};

extern "C" inline void cpu1_restore_and_die(int sig) {
  (void)write_cpu1_online(true);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// cpu1_session is held by main() for the whole program: it skips when it cannot run, takes
// the lock, brings cpu1 online if someone left it offline, and restores it at the end and
// on a fatal signal (meson's timeout sends SIGTERM).
class cpu1_session {
 public:
  static constexpr int skip = 77;
  // start() returns 0 to go on, or `skip` (with the reason on stderr).
  int start() {
    if (::geteuid() != 0) return say_skip("not root");
    if (::access(cpu1_online, W_OK) != 0) return say_skip("no writable cpu1/online");
    const auto cpus = first_two_cpus();
    if (!cpus || cpus->a != 0 || cpus->b != 1)
      return say_skip("this process may not run on both cpu0 and cpu1 (taskset)");
    _lock = ::open(cpu1_lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (_lock < 0 || ::flock(_lock, LOCK_EX) != 0) return say_skip("cannot take the cpu1 lock");
    for (int sig : {SIGTERM, SIGINT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGHUP})
      ::signal(sig, cpu1_restore_and_die);
    (void)write_cpu1_online(true);
    return 0;
  }
  cpu1_session() = default;
  cpu1_session(const cpu1_session&) = delete;
  cpu1_session& operator=(const cpu1_session&) = delete;
  ~cpu1_session() {
    if (_lock < 0) return;
    (void)write_cpu1_online(true);
    ::close(_lock);  // releases the lock
  }

 private:
  static int say_skip(const char* why) {
    std::fprintf(stderr, "skipped: %s (this test takes cpu1 offline)\n", why);
    return skip;
  }
  int _lock = -1;
};

}  // namespace hotcore_test
