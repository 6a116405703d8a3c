// SPDX-License-Identifier: MIT
// runtime/platform/recovery.cpp — the public side of the records under /run/hotcore/:
// a tool's tracefs instance, and restore_machine(), the repair after a dead process.
#include "hotcore/recovery.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "platform/records.h"
#include "platform/sysfs_cpu.h"

namespace hotcore {
namespace {

using detail::record_type;

std::string tracefs_record_name() { return "tracefs-" + std::to_string(::getpid()); }

// escaped() is a name as it may be printed: bytes outside printable ASCII as \xNN.
std::string escaped(const std::string& name) {
  std::string out;
  for (const unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    out += hex;
  }
  return out;
}

// remove_stale_tmp() removes <record>.tmp when its writer is gone: for a CPU, nobody holds
// the CPU's lock; for a tracefs instance, its pid is dead.
void remove_stale_tmp(const std::string& tmp, restore_report& out) {
  const std::string name = tmp.substr(0, tmp.size() - 4);
  unsigned long number = 0;
  const record_type kind = detail::record_kind(name.c_str(), number);
  const bool stale = (kind == record_type::cpu && number < CPU_SETSIZE &&
                      detail::cpu_lock_free(static_cast<unsigned>(number))) ||
                     (kind == record_type::tracefs && detail::pid_dead(static_cast<pid_t>(number)));
  if (!stale) return;
  if (::unlink((std::string(detail::record_dir) + "/" + tmp).c_str()) == 0)
    out.lines.push_back(escaped(tmp) + ": removed a half-written record (its writer died)");
}

// restore_record() looks at one record and repairs it if its process is gone.
void restore_record(const std::string& name, std::set<unsigned>& recorded, restore_report& out) {
  unsigned long number = 0;
  const record_type kind = detail::record_kind(name.c_str(), number);
  if (kind == record_type::other || (kind == record_type::cpu && number >= CPU_SETSIZE)) {
    out.lines.push_back(escaped(name) + ": not a hotcore record: left alone");
    return;
  }
  detail::proc_id owner;
  char line1[256], line2[256];
  if (const int ret = detail::read_record(name.c_str(), owner, line1, line2, sizeof line1); ret < 0) {
    out.lines.push_back(name + ": unreadable record: " + std::strerror(-ret));
    ++out.errors;
    return;
  }
  const auto cpu = static_cast<unsigned>(number);
  const bool is_cpu = kind == record_type::cpu;
  const bool found_offline = is_cpu && std::strcmp(line1, detail::found_offline) == 0;
  if (is_cpu) recorded.insert(cpu);
  const std::string who = "pid " + std::to_string(owner.pid);
  if (detail::owner_alive(owner) || (is_cpu && !detail::cpu_lock_free(cpu))) {
    out.lines.push_back(name + ": left alone: " + who + " still runs");
    out.still_held += is_cpu && !found_offline && detail::read_cpu_online(cpu) == 0;
    return;
  }
  if (const int ret = detail::repair_record(name.c_str(), detail::write_cpu_online); ret < 0) {
    out.lines.push_back(name + ": cannot repair what " + who + " left: " + std::strerror(-ret));
    ++out.errors;
  } else if (is_cpu) {
    out.lines.push_back(name + (found_offline ? ": offline again, as " + who + " found it (it died)"
                                              : ": online again (" + who + " took it offline and died)"));
  } else {
    out.lines.push_back(name + ": removed tracefs instance " + escaped(line1) +
                        (line2[0] != '\0' ? " and unmounted " + escaped(line2) : std::string()) +
                        " (" + who + " made it and died)");
  }
}

// report_unrecorded() names each CPU offline without a record: an operator's (or another
// tool's); not ours to touch.
void report_unrecorded(const std::set<unsigned>& recorded, restore_report& out) {
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
}

}  // namespace

int record_tracefs_instance(std::string_view instance, std::string_view mounted_root) {
  if (const int ret = detail::ensure_record_dir(); ret < 0) return ret;
  detail::proc_id self;
  if (const int ret = detail::read_proc_id(0, self); ret < 0) return ret;
  const std::string inst(instance), root(mounted_root);
  return detail::write_record(tracefs_record_name().c_str(), self, inst.c_str(), root.c_str());
}

void forget_tracefs_instance() { detail::remove_record(tracefs_record_name().c_str()); }

restore_report restore_machine() {
  restore_report out;
  std::vector<std::string> names, tmps;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(detail::record_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".tmp")) tmps.push_back(name);
    else if (!name.ends_with(".lock") && name != "guard.sock") names.push_back(name);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    out.lines.push_back(std::string("cannot read ") + detail::record_dir + ": " + ec.message());
    ++out.errors;
    return out;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& tmp : tmps) remove_stale_tmp(tmp, out);
  std::set<unsigned> recorded;
  for (const std::string& name : names) restore_record(name, recorded, out);
  report_unrecorded(recorded, out);
  return out;
}

}  // namespace hotcore
