// SPDX-License-Identifier: MIT
// runtime/platform/records.cpp — the records under /run/hotcore/ and the per-CPU locks,
// with plain syscalls where the guardian calls them after fork() (records.h).
#include "platform/records.h"

#include "platform/file_read.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
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

// parse_uint() reads a decimal number at the start of text, up to `limit`; false if there
// is none or it is larger (no wrap: 4294967297 is not pid 1). text moves past it.
bool parse_uint(const char*& text, unsigned long long limit, unsigned long long& out) noexcept {
  if (*text < '0' || *text > '9') return false;
  out = 0;
  while (*text >= '0' && *text <= '9') {
    out = out * 10 + static_cast<unsigned>(*text++ - '0');
    if (out > limit) return false;
  }
  return true;
}

bool parse_uint(const char* text, unsigned long& out) noexcept {
  unsigned long long v = 0;
  if (!parse_uint(text, ~0ul, v) || *text != '\0') return false;
  out = static_cast<unsigned long>(v);
  return true;
}

// parse_owner() reads "<pid> <start> <pidns>" (an older record: "<pid>") at the start of
// text into id; false if the pid is missing or out of 1..max_pid.
bool parse_owner(const char* text, proc_id& id) noexcept {
  unsigned long long v = 0;
  if (!parse_uint(text, max_pid, v) || v == 0) return false;
  id = {.pid = static_cast<unsigned long>(v)};
  if (*text == ' ' && parse_uint(++text, ~0ull, id.start) && *text == ' ')
    (void)parse_uint(++text, ~0ull, id.pidns);
  return true;
}

unsigned append_owner(char* buf, unsigned pos, unsigned end, const proc_id& id) noexcept {
  pos = append_uint(buf, pos, end, id.pid);
  pos = append(buf, pos, end, " ");
  pos = append_uint(buf, pos, end, id.start);
  pos = append(buf, pos, end, " ");
  return append_uint(buf, pos, end, id.pidns);
}

// create_tmp() creates path exclusively, never through a symlink; a stale one (its writer
// was killed before the rename) is unlinked first: unlink removes a link, not its target.
int create_tmp(const char* path) noexcept {
  constexpr int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(path, flags, 0644);
  if (fd < 0 && errno == EEXIST && ::unlink(path) == 0) fd = ::open(path, flags, 0644);
  return fd < 0 ? -errno : fd;
}

// on_tracefs() tells whether path lies on a tracefs mount (statfs magic).
bool on_tracefs(const char* path) noexcept {
  struct statfs st{};
  return ::statfs(path, &st) == 0 && static_cast<unsigned long>(st.f_type) == TRACEFS_MAGIC;
}

// repair_tracefs() removes a dead process's instance `instance` (it must be
// ".../instances/hotcore-<pid>" on tracefs) and unmounts `root` if it is not "" (only a
// tracefs mount that holds that instance).
int repair_tracefs(const proc_id& owner, const char* instance, const char* root) noexcept {
  char expect[64];
  (void)append_uint(expect, append(expect, 0, sizeof expect, "/instances/hotcore-"), sizeof expect, owner.pid);
  const char* tail = std::strstr(instance, "/instances/hotcore-");
  if (tail == nullptr || std::strcmp(tail, expect) != 0) return -EPERM;
  const auto root_len = static_cast<std::size_t>(tail - instance);
  if (root[0] != '\0' && (std::strlen(root) != root_len || std::strncmp(root, instance, root_len) != 0))
    return -EPERM;
  struct stat st{};
  if (::lstat(instance, &st) == 0) {
    if (!S_ISDIR(st.st_mode) || !on_tracefs(instance)) return -EPERM;
    if (::rmdir(instance) != 0 && errno != ENOENT) return -errno;
  }
  // Lazily: right after the rmdir the instance's files may still be busy for a moment,
  // which makes a plain umount fail with EBUSY; the mount leaves the tree now either way.
  // A root that is no longer tracefs was unmounted already: nothing to do.
  if (root[0] != '\0' && on_tracefs(root) && ::umount2(root, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 &&
      errno != EINVAL)
    return -errno;
  return 0;
}

}  // namespace

int ensure_record_dir() noexcept {
  if (::mkdir(record_dir, 0755) == 0 || errno == EEXIST) return 0;
  return -errno;
}

void cpu_record_name(unsigned cpu, char* buf) noexcept {
  (void)append_uint(buf, append(buf, 0, 16, "cpu"), 16, cpu);
}

int write_record(const char* name, const proc_id& owner, const char* line1,
                 const char* line2) noexcept {
  char path[256], tmp[256], text[1024];
  record_path(name, "", path, sizeof path);
  record_path(name, ".tmp", tmp, sizeof tmp);
  unsigned p = append_owner(text, 0, sizeof text, owner);
  p = append(text, p, sizeof text, "\n");
  p = append(text, p, sizeof text, line1 ? line1 : "");
  p = append(text, p, sizeof text, "\n");
  p = append(text, p, sizeof text, line2 ? line2 : "");
  p = append(text, p, sizeof text, "\n");
  const int fd = create_tmp(tmp);
  if (fd < 0) return fd;
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

int read_record(const char* name, proc_id& owner, char* line1, char* line2,
                unsigned size) noexcept {
  char path[256], text[1024];
  record_path(name, "", path, sizeof path);
  const int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  const int n = read_fd(fd, text, sizeof text);
  ::close(fd);
  if (n < 0) return n;
  if (!parse_owner(text, owner)) return -EINVAL;
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
  const int fd = ::open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  // A holder whose process is gone (or a zombie) is its guardian, finishing the repair
  // after it: wait for that (milliseconds), up to 2 s. A live holder: -EBUSY right away.
  for (int waited_ms = 0; ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++waited_ms) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      char text[80] = {};
      proc_id holder;
      const bool dead = read_fd(fd, text, sizeof text) > 0 && parse_owner(text, holder) &&
                        !owner_alive(holder);
      if (dead && waited_ms < 2000) {
        ::usleep(1000);
        continue;
      }
      err = EBUSY;
    }
    ::close(fd);
    return -err;
  }
  // The holder's identity, for the error message of the one that finds it taken.
  char text[80];
  proc_id self;
  if (read_proc_id(0, self) < 0) self = {.pid = static_cast<unsigned long>(::getpid())};
  const unsigned len = append_owner(text, 0, sizeof text, self);
  if (::ftruncate(fd, 0) == 0) (void)write_all(fd, text, len);
  return fd;
}

bool cpu_lock_free(unsigned cpu) noexcept {
  char name[16], path[256];
  cpu_record_name(cpu, name);
  record_path(name, ".lock", path, sizeof path);
  const int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

record_type record_kind(const char* name, unsigned long& number) noexcept {
  if (std::strncmp(name, "cpu", 3) == 0 && parse_uint(name + 3, number)) return record_type::cpu;
  if (std::strncmp(name, "tracefs-", 8) == 0 && parse_uint(name + 8, number) && number != 0 &&
      number <= max_pid)
    return record_type::tracefs;
  return record_type::other;
}

int repair_record(const char* name, cpu_online_writer write) noexcept {
  proc_id owner;
  char line1[256], line2[256];
  if (const int ret = read_record(name, owner, line1, line2, sizeof line1); ret < 0) return ret;
  unsigned long number = 0;
  switch (record_kind(name, number)) {
    case record_type::cpu:
      if (number >= CPU_SETSIZE) return -EINVAL;
      if (const int ret = write(static_cast<unsigned>(number), std::strcmp(line1, found_offline) != 0);
          ret < 0)
        return ret;
      break;
    case record_type::tracefs:
      if (number != owner.pid) return -EPERM;
      if (const int ret = repair_tracefs(owner, line1, line2); ret < 0) return ret;
      break;
    case record_type::other:
      return -EINVAL;
  }
  remove_record(name);
  return 0;
}

}  // namespace hotcore::detail
