// SPDX-License-Identifier: MIT
// tests/cpu1_hold.h — keeps cpu1 online for a whole test program by holding the lock that
// every program taking cpu1 offline holds while it does.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace hotcore_test {

// cpu1_hold keeps other programs' physical tests, which take cpu1 offline only while they
// hold /tmp/hotcore-cpu1.lock, from doing so while this program runs: a core created on an
// offline CPU stays down, and these cases expect every core up. Taken before the first
// case (the leak fixture counts its fd as already there).
struct cpu1_hold {
  cpu1_hold() : fd(::open("/tmp/hotcore-cpu1.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (fd >= 0) (void)::flock(fd, LOCK_EX);
  }
  ~cpu1_hold() {
    if (fd >= 0) ::close(fd);
  }
  cpu1_hold(const cpu1_hold&) = delete;
  cpu1_hold& operator=(const cpu1_hold&) = delete;
  const int fd;
};

}  // namespace hotcore_test
