// SPDX-License-Identifier: MIT
// runtime/quota/cgroup_reader.h — the files that state the process's CPU limit, kept open:
// the quota files of the group and every ancestor, and the cpuset file, read with one pread
// each per check, with inotify watches on them (writes through write(2) wake the follower
// at once).
#pragma once

#include <string>
#include <vector>

#include "hotcore/cgroup.h"

namespace hotcore::detail {

// cgroup_reader opens a group's files once and re-reads them cheaply. Not thread-safe:
// one thread (the follower's) uses it.
class cgroup_reader {
 public:
  cgroup_reader() = default;
  ~cgroup_reader() { close(); }
  cgroup_reader(const cgroup_reader&) = delete;
  cgroup_reader& operator=(const cgroup_reader&) = delete;

  // open_cpu() opens the quota files of every level of `where`; open_cpuset() the cpuset
  // file of the nearest level that has one. With watch, each file gets an inotify watch
  // (IN_MODIFY) and each directory one for its removal. false and err on failure.
  bool open_cpu(const cgroup_location& where, bool watch, cgroup_error& err);
  bool open_cpuset(const cgroup_location& where, bool watch, cgroup_error& err);
  // close() closes every file and the inotify fd.
  void close() noexcept;

  // read_limit() re-reads every level and returns the tightest limit (`from` is the level
  // that set it, empty for no limit). false and err on any bad level: the caller keeps
  // what it had.
  bool read_limit(cpu_limit& limit, std::string& from, cgroup_error& err);
  // read_cpuset() re-reads the cpuset file; found is false when no level has one.
  bool read_cpuset(std::vector<unsigned>& cpus, bool& found, cgroup_error& err);

  // event_fd() is the inotify fd (readable after a watched write), or -1.
  [[nodiscard]] int event_fd() const noexcept { return _inotify; }
  // drain_events() empties the inotify queue and says whether anything was in it.
  bool drain_events() noexcept;

 private:
  struct level {
    std::string dir;
    int dir_fd = -1;
    int quota_fd = -1;       // v2 cpu.max, v1 cpu.cfs_quota_us
    int period_fd = -1;      // v1 cpu.cfs_period_us
    int controllers_fd = -1; // v2 without cpu.max: cgroup.controllers, to see cpu enabled
  };
  bool open_level(level& lv, bool hierarchy_root, cgroup_error& err);
  bool read_level(level& lv, cpu_limit& limit, cgroup_error& err);
  bool watch(const std::string& path, unsigned mask);

  cgroup_version _version = cgroup_version::v2;
  bool _watch = false;
  int _inotify = -1;
  std::vector<level> _levels;
  std::string _cpuset_path;
  int _cpuset_fd = -1;
};

}  // namespace hotcore::detail
