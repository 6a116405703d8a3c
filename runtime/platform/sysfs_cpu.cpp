// SPDX-License-Identifier: MIT
// runtime/platform/sysfs_cpu.cpp — reading and writing the kernel's CPU files under
// /sys/devices/system/cpu, and the process's affinity mask.
#include "platform/sysfs_cpu.h"

#include "platform/file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

namespace hotcore::detail {
namespace {

constexpr const char* cpu_dir = "/sys/devices/system/cpu";

std::string cpu_file(unsigned cpu, const char* name) {
  return std::string(cpu_dir) + "/cpu" + std::to_string(cpu) + "/" + name;
}

int read_small(const std::string& path, char* buf, std::size_t size) {
  return read_file(path.c_str(), buf, size);
}

int read_int(const std::string& path) {
  char buf[32];
  const int n = read_small(path, buf, sizeof buf);
  if (n < 0) return n;
  int value = 0;
  const auto [end, ec] = std::from_chars(buf, buf + n, value);
  if (ec != std::errc{} || end == buf) return -EINVAL;
  return value;
}

}  // namespace

int parse_cpu_list(std::string_view text, cpu_set_t& mask) {
  CPU_ZERO(&mask);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end) {
    unsigned first = 0, last = 0;
    auto r = std::from_chars(p, end, first);
    if (r.ec != std::errc{}) return -EINVAL;
    p = r.ptr;
    last = first;
    if (p < end && *p == '-') {
      r = std::from_chars(p + 1, end, last);
      if (r.ec != std::errc{} || last < first) return -EINVAL;
      p = r.ptr;
    }
    if (last >= CPU_SETSIZE) return -EINVAL;
    for (unsigned c = first; c <= last; ++c) CPU_SET(c, &mask);
    if (p < end) {
      if (*p != ',') return -EINVAL;
      ++p;
      if (p == end) return -EINVAL;
    }
  }
  return 0;
}

std::string format_cpu_list(const cpu_set_t& mask) {
  std::string out;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &mask)) continue;
    unsigned last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &mask)) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(c);
    if (last != c) out += '-' + std::to_string(last);
    c = last;
  }
  return out;
}

int read_online_cpus(cpu_set_t& mask) {
  char buf[4096];
  const int n = read_small(std::string(cpu_dir) + "/online", buf, sizeof buf);
  if (n < 0) return n;
  return parse_cpu_list(std::string_view(buf, static_cast<std::size_t>(n)), mask);
}

int read_present_cpus(cpu_set_t& mask) {
  char buf[4096];
  const int n = read_small(std::string(cpu_dir) + "/present", buf, sizeof buf);
  if (n < 0) return n;
  return parse_cpu_list(std::string_view(buf, static_cast<std::size_t>(n)), mask);
}

int read_thread_allowed(cpu_set_t& mask, pid_t tid) {
  char buf[8192];
  const std::string path =
      tid == 0 ? std::string("/proc/thread-self/status") : "/proc/self/task/" + std::to_string(tid) + "/status";
  const int n = read_small(path, buf, sizeof buf);
  if (n < 0) return n;
  const std::string_view text(buf, static_cast<std::size_t>(n));
  constexpr std::string_view key = "\nCpus_allowed_list:";
  const auto at = text.find(key);
  if (at == text.npos) return -ENOENT;
  std::string_view list = text.substr(at + key.size());
  list = list.substr(0, list.find('\n'));
  while (!list.empty() && (list.front() == '\t' || list.front() == ' ')) list.remove_prefix(1);
  return parse_cpu_list(list, mask);
}

bool has_online_file(unsigned cpu) { return ::access(cpu_file(cpu, "online").c_str(), F_OK) == 0; }

int check_online_writable(unsigned cpu) {
  const int fd = ::open(cpu_file(cpu, "online").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ::close(fd);
  return 0;
}

int write_cpu_online(unsigned cpu, bool online) {
  const int fd = ::open(cpu_file(cpu, "online").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  const ssize_t n = ::write(fd, online ? "1" : "0", 1);
  const int err = errno;
  ::close(fd);
  if (n == 1) return 0;
  // The kernel may refuse a write that changes nothing on some versions: what counts is
  // that the file now holds the value.
  if (read_cpu_online(cpu) == (online ? 1 : 0)) return 0;
  return n < 0 ? -err : -EIO;
}

int read_cpu_online(unsigned cpu) {
  const int v = read_int(cpu_file(cpu, "online"));
  if (v != -ENOENT) return v;
  cpu_set_t online;
  if (const int ret = read_online_cpus(online); ret < 0) return ret;
  return cpu < CPU_SETSIZE && CPU_ISSET(cpu, &online) ? 1 : 0;
}

int read_kernel_hotplug_state(unsigned cpu) { return read_int(cpu_file(cpu, "hotplug/state")); }

int read_home_mask(cpu_set_t& mask) {
  CPU_ZERO(&mask);
  if (read_thread_allowed(mask) == 0) return 0;
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return -errno;
  return 0;
}

int read_process_mask(cpu_set_t& mask) {
  CPU_ZERO(&mask);
  if (read_thread_allowed(mask, ::getpid()) == 0) return 0;
  if (sched_getaffinity(::getpid(), sizeof mask, &mask) != 0) return -errno;
  return 0;
}

}  // namespace hotcore::detail
