// SPDX-License-Identifier: MIT
// runtime/platform/proc_id.cpp — process identities from /proc/PID/stat, /proc/PID/ns/pid
// and /proc/PID/status (NSpid); plain syscalls but for the /proc walk of owner_alive().
#include "platform/proc_id.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "platform/file_read.h"

namespace hotcore::detail {
namespace {

// proc_path() writes "/proc/<pid or self>/<leaf>" into out (64 bytes).
void proc_path(pid_t pid, const char* leaf, char* out) noexcept {
  char digits[24];
  int n = 0;
  for (unsigned long v = static_cast<unsigned long>(pid); v != 0; v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  unsigned p = 0;
  for (const char* s = "/proc/"; *s != '\0';) out[p++] = *s++;
  if (pid == 0)
    for (const char* s = "self"; *s != '\0';) out[p++] = *s++;
  while (n > 0) out[p++] = digits[--n];
  out[p++] = '/';
  while (*leaf != '\0' && p + 1 < 64) out[p++] = *leaf++;
  out[p] = '\0';
}

// stat_fields() reads /proc/PID/stat's state letter and starttime (field 22); the command
// name, which may hold spaces and parentheses, ends at the last ')'. 0 or -errno.
int stat_fields(pid_t pid, char& state, unsigned long long& start) noexcept {
  char path[64], text[1024];
  proc_path(pid, "stat", path);
  if (const int n = read_file(path, text, sizeof text); n < 0) return n == -ENOENT ? -ESRCH : n;
  const char* p = std::strrchr(text, ')');
  if (p == nullptr || p[1] != ' ') return -EINVAL;
  p += 2;
  state = *p;
  for (int field = 3; field < 22 && p != nullptr; ++field) {
    p = std::strchr(p, ' ');
    if (p != nullptr) ++p;
  }
  if (p == nullptr || *p < '0' || *p > '9') return -EINVAL;
  start = 0;
  while (*p >= '0' && *p <= '9') start = start * 10 + static_cast<unsigned>(*p++ - '0');
  return 0;
}

// last_nspid() is the last number of /proc/PID/status's NSpid line: the pid as the
// process's own namespace sees it (0 when absent).
unsigned long last_nspid(pid_t pid) {
  char path[64], text[4096];
  proc_path(pid, "status", path);
  if (read_file(path, text, sizeof text) < 0) return 0;
  const char* line = std::strstr(text, "\nNSpid:");
  if (line == nullptr) return 0;
  unsigned long last = 0;
  for (const char* p = line + 7; *p != '\0' && *p != '\n'; ++p)
    if (*p >= '0' && *p <= '9') {
      last = 0;
      while (*p >= '0' && *p <= '9') last = last * 10 + static_cast<unsigned>(*p++ - '0');
      --p;
    }
  return last;
}

bool is_live(char state) { return state != 'Z' && state != 'X' && state != 'x'; }

}  // namespace

int read_proc_id(pid_t pid, proc_id& out) noexcept {
  char state = 0;
  if (const int ret = stat_fields(pid, state, out.start); ret < 0) return ret;
  char path[64];
  proc_path(pid, "ns/pid", path);
  struct stat st{};
  if (::stat(path, &st) != 0) return errno == ENOENT ? -ESRCH : -errno;
  out.pidns = st.st_ino;
  out.pid = pid == 0 ? static_cast<unsigned long>(::getpid()) : static_cast<unsigned long>(pid);
  return 0;
}

bool pid_dead(pid_t pid) noexcept {
  char state = 0;
  unsigned long long start = 0;
  const int ret = stat_fields(pid, state, start);
  if (ret == -ESRCH) return true;
  return ret == 0 && !is_live(state);
}

bool owner_alive(const proc_id& id) {
  proc_id self;
  if (id.pid == 0 || id.pid > max_pid || read_proc_id(0, self) < 0) return false;
  const auto matches = [&](pid_t pid) {
    char state = 0;
    unsigned long long start = 0;
    return stat_fields(pid, state, start) == 0 && is_live(state) &&
           (id.start == 0 || start == id.start);
  };
  // A record without a namespace (an older one) is read as one of this namespace.
  if (id.pidns == 0 || id.pidns == self.pidns) return matches(static_cast<pid_t>(id.pid));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stoul(name));
    proc_id other;
    if (read_proc_id(pid, other) == 0 && other.pidns == id.pidns && last_nspid(pid) == id.pid &&
        matches(pid))
      return true;
  }
  return false;
}

}  // namespace hotcore::detail
