// SPDX-License-Identifier: MIT
// runtime/platform/file_read.h — the runtime's one way to read a small file (sysfs, /proc,
// cgroupfs, the records under /run/hotcore) from its start.
#pragma once

#include <cstddef>
#include <string>

namespace hotcore::detail {

// read_fd() reads the file behind fd from offset 0 into buf, up to size-1 bytes,
// NUL-terminated: the length, or a negative errno. Async-signal-safe (the guardian).
int read_fd(int fd, char* buf, std::size_t size) noexcept;
// read_file() is read_fd() of a path, opened and closed here.
int read_file(const char* path, char* buf, std::size_t size) noexcept;
// read_fd_text() reads the whole file behind fd from offset 0 into text, however long:
// 0 or a negative errno.
int read_fd_text(int fd, std::string& text);

}  // namespace hotcore::detail
