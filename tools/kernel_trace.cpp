// SPDX-License-Identifier: MIT
// tools/kernel_trace.cpp — recording the kernel's cpuhp tracepoints in a private tracefs
// instance and pairing their enter and exit lines into timed callbacks.
#include "kernel_trace.h"

#include "hotcore/recovery.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace hotcore::tools {
namespace {

// int_after() reads the integer that follows `key` (and any spaces) in line.
std::optional<long long> int_after(std::string_view line, std::string_view key) {
  const auto at = line.find(key);
  if (at == line.npos) return std::nullopt;
  std::string_view rest = line.substr(at + key.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  long long value = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc{} || end == rest.data()) return std::nullopt;
  return value;
}

// seconds_to_ns() reads a trace timestamp, "22741.191507", as nanoseconds.
std::optional<std::int64_t> seconds_to_ns(std::string_view text) {
  const auto dot = text.find('.');
  std::int64_t sec = 0, frac = 0;
  const std::string_view whole = text.substr(0, dot);
  if (std::from_chars(whole.data(), whole.data() + whole.size(), sec).ec != std::errc{})
    return std::nullopt;
  if (dot != text.npos) {
    std::string_view digits = text.substr(dot + 1, 9);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), frac).ec != std::errc{})
      return std::nullopt;
    for (std::size_t i = digits.size(); i < 9; ++i) frac *= 10;
  }
  return sec * 1'000'000'000 + frac;
}

// write_file() writes value to path; 0 or a negative errno.
int write_file(const std::string& path, std::string_view value) {
  std::ofstream f(path);
  if (!f) return -errno;
  f << value;
  f.flush();
  return f ? 0 : -EIO;
}

// tracefs_mount() finds where tracefs is mounted, from /proc/self/mounts.
std::string tracefs_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    if (type == "tracefs") return dir;
  return {};
}

}  // namespace

std::vector<kernel_step> parse_kernel_steps(std::string_view text) {
  struct open_step {
    std::int64_t start_ns;
    bool up;
  };
  std::map<std::pair<long long, long long>, open_step> open;  // (pid, step) -> its enter
  std::vector<kernel_step> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == text.npos ? std::string_view{} : text.substr(nl + 1);
    // "  cpuhp/1-20  [001] ..... 22741.191507: cpuhp_enter: cpu: 0001 target: 144 step: 235 (fn)"
    const auto event = line.find(": cpuhp_");
    const auto cpu_field = line.find(" [");
    if (line.starts_with('#') || event == line.npos || cpu_field == line.npos || cpu_field > event)
      continue;
    const auto stamp_begin = line.rfind(' ', event);
    const auto task_begin = line.find_first_not_of(' ');
    const std::string_view task = line.substr(task_begin, cpu_field - task_begin);
    const auto dash = task.rfind('-');
    const std::optional<std::int64_t> at =
        seconds_to_ns(line.substr(stamp_begin + 1, event - stamp_begin - 1));
    const std::optional<long long> step = int_after(line.substr(event), "step:");
    long long pid = 0;
    if (dash == task.npos || !at || !step ||
        std::from_chars(task.data() + dash + 1, task.data() + task.size(), pid).ec != std::errc{})
      continue;
    const std::string_view name = line.substr(event + 2);
    const std::pair key{pid, *step};
    if (name.starts_with("cpuhp_enter:") || name.starts_with("cpuhp_multi_enter:")) {
      const std::optional<long long> target = int_after(name, "target:");
      if (target) open[key] = {*at, *target > *step};
    } else if (name.starts_with("cpuhp_exit:")) {
      const auto it = open.find(key);
      if (it == open.end()) continue;
      out.push_back({static_cast<int>(*step), it->second.up,
                     std::string(task.substr(0, dash)), *at - it->second.start_ns, *at});
      open.erase(it);
    }
  }
  return out;
}

std::map<int, std::string> kernel_state_names() {
  std::map<int, std::string> names;
  std::ifstream f("/sys/devices/system/cpu/hotplug/states");
  std::string line;
  while (std::getline(f, line)) {
    const auto colon = line.find(':');
    if (colon == line.npos) continue;
    const std::optional<long long> n = int_after(line.substr(0, colon), "");
    if (n) names[static_cast<int>(*n)] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return names;
}

std::unique_ptr<kernel_hotplug_trace> kernel_hotplug_trace::open(std::string& why) {
  std::string root = tracefs_mount();
  const bool mount_it = root.empty();
  if (mount_it) root = "/sys/kernel/tracing";
  const std::string instance = root + "/instances/hotcore-" + std::to_string(::getpid());
  // The record first: if the process dies from here on, the guardian of its physical-mode
  // runtime (or `hotcore restore`) removes the instance and the mount.
  if (const int ret = record_tracefs_instance(instance, mount_it ? root : ""); ret < 0) {
    why = std::string("cannot record the tracefs instance under /run/hotcore: ") + std::strerror(-ret);
    return nullptr;
  }
  if (mount_it && ::mount("nodev", root.c_str(), "tracefs", 0, nullptr) != 0) {
    why = "tracefs is not mounted and mounting it on " + root + " failed: " + std::strerror(errno);
    forget_tracefs_instance();
    return nullptr;
  }
  const bool mounted = mount_it;
  // A pid is unique while the process lives: an instance of that name is a dead process's.
  (void)::rmdir(instance.c_str());
  if (::mkdir(instance.c_str(), 0700) != 0) {
    why = "cannot make the tracefs instance " + instance + ": " + std::strerror(errno);
    if (mounted) (void)::umount(root.c_str());
    forget_tracefs_instance();
    return nullptr;
  }
  std::unique_ptr<kernel_hotplug_trace> t(new kernel_hotplug_trace(root, instance, mounted));
  // "mono": timestamps on CLOCK_MONOTONIC, the clock steady_clock reads, so each callback
  // can be put into the cycle half that ran it. 4 MiB per CPU holds thousands of cycles.
  for (const auto& [file, value] : {std::pair{"/trace_clock", "mono"},
                                    std::pair{"/buffer_size_kb", "4096"},
                                    std::pair{"/events/cpuhp/enable", "1"}}) {
    if (const int ret = write_file(instance + file, value); ret < 0) {
      why = "cannot write '" + std::string(value) + "' to " + instance + file + ": " +
            std::strerror(-ret);
      return nullptr;  // the destructor removes the instance
    }
  }
  return t;
}

kernel_hotplug_trace::~kernel_hotplug_trace() {
  (void)write_file(_instance + "/events/cpuhp/enable", "0");
  (void)::rmdir(_instance.c_str());
  // Lazily (MNT_DETACH): right after the rmdir the instance's files may still be busy.
  if (_mounted) (void)::umount2(_root.c_str(), MNT_DETACH);
  forget_tracefs_instance();
}

std::vector<kernel_step> kernel_hotplug_trace::read() const {
  std::ifstream f(_instance + "/trace");
  std::stringstream text;
  text << f.rdbuf();
  return parse_kernel_steps(text.str());
}

}  // namespace hotcore::tools
