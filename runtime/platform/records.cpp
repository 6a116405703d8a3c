// SPDX-License-Identifier: MIT
// runtime/platform/records.cpp — the records under /run/hotcore/ and the per-CPU locks,
// with plain syscalls only (the guardian calls them after fork()).
#include "platform/records.h"

#include "platform/file_read.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hotcore::detail {
namespace {

// append() copies text to buf at pos (stopping short of end); returns the new pos.
unsigned append(char* buf, unsigned pos, unsigned end, const char* text) noexcept {
  while (*text != '\0' && pos + 1 < end) buf[pos++] = *text++;
  buf[pos] = '\0';
  return pos;
}

// append_uint() writes n in decimal at pos; returns the new pos.
unsigned append_uint(char* buf, unsigned pos, unsigned end, unsigned long n) noexcept {
  char digits[24];
  int i = 0;
  do {
    digits[i++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (i > 0 && pos + 1 < end) buf[pos++] = digits[--i];
  buf[pos] = '\0';
  return pos;
}

// record_path() is /run/hotcore/<name><suffix>.
void record_path(const char* name, const char* suffix, char* out, unsigned size) noexcept {
  unsigned p = append(out, 0, size, record_dir);
  p = append(out, p, size, "/");
  p = append(out, p, size, name);
  (void)append(out, p, size, suffix);
}

int write_all(int fd, const char* text, unsigned len) noexcept {
  while (len > 0) {
    const ssize_t n = ::write(fd, text, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    text += n;
    len -= static_cast<unsigned>(n);
  }
  return 0;
}

// parse_uint() reads a decimal number at the start of text; false if there is none.
bool parse_uint(const char* text, unsigned long& out) noexcept {
  if (*text < '0' || *text > '9') return false;
  out = 0;
  while (*text >= '0' && *text <= '9') out = out * 10 + static_cast<unsigned long>(*text++ - '0');
  return true;
}

}  // namespace

int ensure_record_dir() noexcept {
  if (::mkdir(record_dir, 0755) == 0 || errno == EEXIST) return 0;
  return -errno;
}

void cpu_record_name(unsigned cpu, char* buf) noexcept {
  (void)append_uint(buf, append(buf, 0, 16, "cpu"), 16, cpu);
}

int write_record(const char* name, pid_t pid, const char* line1, const char* line2) noexcept {
  char path[256], tmp[256], text[1024];
  record_path(name, "", path, sizeof path);
  record_path(name, ".tmp", tmp, sizeof tmp);
  unsigned p = append_uint(text, 0, sizeof text, static_cast<unsigned long>(pid));
  p = append(text, p, sizeof text, "\n");
  p = append(text, p, sizeof text, line1 ? line1 : "");
  p = append(text, p, sizeof text, "\n");
  p = append(text, p, sizeof text, line2 ? line2 : "");
  p = append(text, p, sizeof text, "\n");
  const int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  int ret = write_all(fd, text, p);
  if (::close(fd) != 0 && ret == 0) ret = -errno;
  if (ret == 0 && ::rename(tmp, path) != 0) ret = -errno;
  if (ret != 0) (void)::unlink(tmp);
  return ret;
}

void remove_record(const char* name) noexcept {
  char path[256];
  record_path(name, "", path, sizeof path);
  (void)::unlink(path);
}

int read_record(const char* name, pid_t& pid, char* line1, char* line2, unsigned size) noexcept {
  char path[256], text[1024];
  record_path(name, "", path, sizeof path);
  if (const int n = read_file(path, text, sizeof text); n < 0) return n;
  unsigned long value = 0;
  if (!parse_uint(text, value) || value == 0) return -EINVAL;
  pid = static_cast<pid_t>(value);
  // The lines after the first, each copied up to its newline.
  char* out[2] = {line1, line2};
  const char* at = std::strchr(text, '\n');
  for (char* dst : out) {
    dst[0] = '\0';
    if (at == nullptr) continue;
    ++at;
    unsigned i = 0;
    while (*at != '\0' && *at != '\n' && i + 1 < size) dst[i++] = *at++;
    dst[i] = '\0';
    at = std::strchr(at, '\n');
  }
  return 0;
}

int lock_cpu(unsigned cpu) noexcept {
  if (const int ret = ensure_record_dir(); ret < 0) return ret;
  char name[16], path[256];
  cpu_record_name(cpu, name);
  record_path(name, ".lock", path, sizeof path);
  const int fd = ::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  // A holder whose process is gone is its guardian, finishing the repair after it: wait
  // for that (milliseconds), up to 2 s. A live holder: -EBUSY right away.
  for (int waited_ms = 0; ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++waited_ms) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      char text[24] = {};
      unsigned long holder = 0;
      const bool dead = read_fd(fd, text, sizeof text) > 0 && parse_uint(text, holder) &&
                        ::kill(static_cast<pid_t>(holder), 0) != 0 && errno == ESRCH;
      if (dead && waited_ms < 2000) {
        ::usleep(1000);
        continue;
      }
      err = EBUSY;
    }
    ::close(fd);
    return -err;
  }
  // The holder's pid, for the error message of the one that finds it taken.
  char text[24];
  const unsigned len = append_uint(text, 0, sizeof text, static_cast<unsigned long>(::getpid()));
  if (::ftruncate(fd, 0) == 0) (void)write_all(fd, text, len);
  return fd;
}

bool cpu_lock_free(unsigned cpu) noexcept {
  char name[16], path[256];
  cpu_record_name(cpu, name);
  record_path(name, ".lock", path, sizeof path);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // drops the lock if we took it
  return free;
}

int write_cpu_online_raw(unsigned cpu, bool online) noexcept {
  char path[96];
  unsigned p = append(path, 0, sizeof path, "/sys/devices/system/cpu/cpu");
  p = append_uint(path, p, sizeof path, cpu);
  (void)append(path, p, sizeof path, "/online");
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int ret = write_all(fd, online ? "1" : "0", 1);
  ::close(fd);
  return ret;
}

int repair_record(const char* name) noexcept {
  pid_t pid = 0;
  char line1[256], line2[256];
  if (const int ret = read_record(name, pid, line1, line2, sizeof line1); ret < 0) return ret;
  unsigned long cpu = 0;
  if (std::strncmp(name, "cpu", 3) == 0 && parse_uint(name + 3, cpu)) {
    if (const int ret = write_cpu_online_raw(static_cast<unsigned>(cpu), true); ret < 0) return ret;
  } else if (std::strncmp(name, "tracefs-", 8) == 0) {
    // line1: the instance; line2: the mount point hotcore mounted ("" if it did not).
    if (line1[0] != '\0' && ::rmdir(line1) != 0 && errno != ENOENT) return -errno;
    // Lazily: right after the rmdir the instance's files may still be busy for a moment,
    // which makes a plain umount fail with EBUSY; the mount leaves the tree now either way.
    if (line2[0] != '\0' && ::umount2(line2, MNT_DETACH) != 0 && errno != EINVAL) return -errno;
  } else {
    return -EINVAL;
  }
  remove_record(name);
  return 0;
}

}  // namespace hotcore::detail
