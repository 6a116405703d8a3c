// SPDX-License-Identifier: MIT
// runtime/guard/client.cpp — the runtime's side of runtime/guard/protocol.h.
#include "guard/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "guard/protocol.h"

namespace hotcore::detail {

int guard_client::connect() noexcept {
  if (_fd >= 0) return 0;
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, guard_socket_path, sizeof addr.sun_path - 1);
  // The service answers at once but for a claim whose CPU a dead runtime's guardian is
  // still repairing (up to 2 s): 10 s bounds a hung service.
  const timeval limit{.tv_sec = 10, .tv_usec = 0};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  _fd = fd;
  return 0;
}

void guard_client::close() noexcept {
  if (_fd >= 0) ::close(_fd);
  _fd = -1;
}

int guard_client::claim(unsigned cpu) noexcept { return ask(guard_claim, cpu); }

int guard_client::set_online(unsigned cpu, bool online) noexcept {
  return ask(online ? guard_online : guard_offline, cpu);
}

int guard_client::ask(const char* verb, unsigned cpu) noexcept {
  std::lock_guard lk(_ask);
  if (_fd < 0) return -ENOTCONN;
  char packet[guard_packet_max];
  const int len = std::snprintf(packet, sizeof packet, "%s %u", verb, cpu);
  // EINTR again: a socket call with a timeout returns it after SIGSTOP and SIGCONT
  // (Ctrl-Z, a debugger), SA_RESTART or not; the request or its answer is still due.
  ssize_t sent = 0;
  do sent = ::send(_fd, packet, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent != len) return sent < 0 ? -errno : -EIO;
  ssize_t got = 0;
  do got = ::recv(_fd, packet, sizeof packet - 1, 0);
  while (got < 0 && errno == EINTR);
  if (got < 0) return errno == EAGAIN ? -ETIMEDOUT : -errno;
  if (got == 0) return -ECONNRESET;  // the service went away
  packet[got] = '\0';
  char* end = nullptr;
  const long ret = std::strtol(packet, &end, 10);
  return end != packet && *end == '\0' && ret <= 0 && ret > -4096 ? static_cast<int>(ret) : -EPROTO;
}

bool guard_reachable() noexcept {
  guard_client probe;
  return probe.connect() == 0;
}

}  // namespace hotcore::detail
