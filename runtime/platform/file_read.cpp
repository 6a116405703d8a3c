// SPDX-License-Identifier: MIT
// runtime/platform/file_read.cpp — reading a small file from its start (pread, retried on
// EINTR), into a buffer or a string.
#include "platform/file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace hotcore::detail {
namespace {

ssize_t pread_retry(int fd, char* buf, std::size_t size, off_t at) noexcept {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size, at);
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

int read_fd(int fd, char* buf, std::size_t size) noexcept {
  const ssize_t n = pread_retry(fd, buf, size - 1, 0);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return static_cast<int>(n);
}

int read_file(const char* path, char* buf, std::size_t size) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int n = read_fd(fd, buf, size);
  ::close(fd);
  return n;
}

int read_fd_text(int fd, std::string& text) {
  text.clear();
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = pread_retry(fd, buf, sizeof buf, at);
    if (n < 0) return -errno;
    if (n == 0) return 0;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
}

}  // namespace hotcore::detail
