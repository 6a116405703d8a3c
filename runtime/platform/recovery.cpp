// SPDX-License-Identifier: MIT
// runtime/platform/recovery.cpp — the public side of the records under /run/hotcore/:
// a tool's tracefs instance, and restore_machine(), the repair after a dead process.
#include "hotcore/recovery.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <set>

#include "platform/records.h"
#include "platform/sysfs_cpu.h"

namespace hotcore {
namespace {

std::string tracefs_record_name() { return "tracefs-" + std::to_string(::getpid()); }

// process_alive() tells whether pid names a live process (EPERM: alive, not ours).
bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// cpu_of() reads N from a record name "cpuN" (and nothing after it).
bool cpu_of(const std::string& name, unsigned& cpu) {
  if (!name.starts_with("cpu")) return false;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data() + 3, end, cpu);
  return ec == std::errc{} && ptr == end && ptr != name.data() + 3;
}

}  // namespace

int record_tracefs_instance(std::string_view instance, std::string_view mounted_root) {
  if (const int ret = detail::ensure_record_dir(); ret < 0) return ret;
  const std::string inst(instance), root(mounted_root);
  return detail::write_record(tracefs_record_name().c_str(), ::getpid(), inst.c_str(), root.c_str());
}

void forget_tracefs_instance() { detail::remove_record(tracefs_record_name().c_str()); }

restore_report restore_machine() {
  restore_report out;
  std::set<unsigned> recorded;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(detail::record_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".lock") && !name.ends_with(".tmp")) names.push_back(name);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    out.lines.push_back(std::string("cannot read ") + detail::record_dir + ": " + ec.message());
    ++out.errors;
    return out;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    pid_t pid = 0;
    char line1[256], line2[256];
    if (const int ret = detail::read_record(name.c_str(), pid, line1, line2, sizeof line1); ret < 0) {
      out.lines.push_back(name + ": unreadable record: " + std::strerror(-ret));
      ++out.errors;
      continue;
    }
    const std::string who = "pid " + std::to_string(pid);
    unsigned cpu = 0;
    const bool is_cpu = cpu_of(name, cpu);
    if (is_cpu) recorded.insert(cpu);
    if (process_alive(pid) || (is_cpu && !detail::cpu_lock_free(cpu))) {
      out.lines.push_back(name + ": left alone: " + who + " still runs");
      continue;
    }
    const int ret = detail::repair_record(name.c_str());
    if (ret < 0) {
      out.lines.push_back(name + ": cannot repair what " + who + " left: " + std::strerror(-ret));
      ++out.errors;
    } else if (is_cpu) {
      out.lines.push_back(name + ": online again (" + who + " took it offline and died)");
    } else {
      out.lines.push_back(name + ": removed tracefs instance " + line1 +
                          (line2[0] != '\0' ? std::string(" and unmounted ") + line2 : "") +
                          " (" + who + " made it and died)");
    }
  }
  // CPUs offline without a record: an operator's (or another tool's); not ours to touch.
  for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!detail::has_online_file(cpu)) {
      if (cpu > 0 && !std::filesystem::exists("/sys/devices/system/cpu/cpu" + std::to_string(cpu)))
        break;
      continue;
    }
    if (recorded.count(cpu) == 0 && detail::read_cpu_online(cpu) == 0)
      out.lines.push_back("cpu" + std::to_string(cpu) +
                          ": offline without a record (not taken by hotcore): left alone");
  }
  return out;
}

}  // namespace hotcore
