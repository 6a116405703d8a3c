// SPDX-License-Identifier: MIT
// examples/loopback_listener.h — a listening TCP socket on 127.0.0.1 for the example and
// benchmark servers: port 0 picks a free one, which is written back.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace http {

// open_loopback_listener() returns the listening fd (flags: SOCK_NONBLOCK and the like,
// added to SOCK_STREAM | SOCK_CLOEXEC) and sets port to the port it got, or returns -errno.
inline int open_loopback_listener(long& port, int flags, int backlog) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd < 0) return -errno;
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace http
