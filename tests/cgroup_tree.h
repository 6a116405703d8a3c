// SPDX-License-Identifier: MIT
// tests/cgroup_tree.h — a cgroup v2 hierarchy made of plain files for the quota tests:
// a directory with its own `cgroup` and `mountinfo` (the follower's proc_self) whose
// mountinfo mounts a tree of group directories holding cpu.max, cgroup.controllers and
// cpuset.cpus.effective. The machine's real v2 hierarchy has no cpu controller, so this
// is how v2 is tested; v1 is tested for real (quota_v1_test.cpp). Also the bad cpu.max
// contents that the parser and the follower both must reject.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hotcore/cgroup.h"

namespace hotcore_test {

using hotcore::cgroup_errc;

// bad_cpu_max is a cpu.max content that is an error, the error's code and a word its
// message must hold.
struct bad_cpu_max {
  const char* text;
  cgroup_errc code;
  const char* says;
};

// bad_cpu_max_rows(): empty, `max` alone, not a number, a third field, a quota below the
// kernel's 1 ms, a period over 1 s or under 1 ms. No two rows in a row expect the same
// error, so a follower fed them in turn shows each one's own.
inline const std::vector<bad_cpu_max>& bad_cpu_max_rows() {
  using enum cgroup_errc;
  static const std::vector<bad_cpu_max> rows = {
      {"", malformed, "empty"}, {"max\n", malformed, "one field"}, {"\n", malformed, "empty"},
      {"abc 100000\n", malformed, "quota is not a number"},
      {"-5 100000\n", out_of_range, "1 ms minimum"}, {"lots 100000\n", malformed, "not a number"},
      {"50000 100000 7\n", extra_field, "third field"}, {"50000 2000000\n", out_of_range, "period"},
      {"500 100000\n", out_of_range, "1 ms minimum"},
      {"50000 1e5\n", malformed, "period is not a number"}, {"50000 999\n", out_of_range, "period"},
      {"200000 100000 7\n", extra_field, "third field"},
  };
  return rows;
}

class cgroup_tree {
 public:
  // The process's group is `group` (e.g. "/kubepods/pod1"); every level down to it exists
  // with the cpu controller enabled and no limit ("max 100000").
  explicit cgroup_tree(const std::string& group = "/kubepods/pod1") {
    char tmpl[] = "/tmp/hotcore-cgtree-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    base = tmpl;
    std::filesystem::permissions(base, std::filesystem::perms(0755));
    proc = base + "/proc";
    mount = base + "/cg";
    std::filesystem::create_directories(proc);
    std::filesystem::create_directories(mount);
    write_file(mount + "/cgroup.controllers", "cpuset cpu io memory pids\n");
    write_file(mount + "/cpuset.cpus.effective", "0-1\n");
    write_file(proc + "/mountinfo",
               "25 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
               "41 31 0:38 / " + mount + " rw,nosuid,nodev shared:9 - cgroup2 cgroup2 rw,nsdelegate\n");
    make_group(group);
    move_to(group);
  }
  ~cgroup_tree() {
    std::error_code ec;
    std::filesystem::permissions(base, std::filesystem::perms::all, ec);
    std::filesystem::remove_all(base, ec);
  }
  cgroup_tree(const cgroup_tree&) = delete;
  cgroup_tree& operator=(const cgroup_tree&) = delete;

  // make_group() creates every missing level of `group`, each with cpu enabled and no
  // limit.
  void make_group(const std::string& group) {
    std::string dir = mount;
    std::size_t at = 1;
    while (at <= group.size()) {
      std::size_t slash = group.find('/', at);
      if (slash == std::string::npos) slash = group.size();
      dir += "/" + group.substr(at, slash - at);
      if (!std::filesystem::exists(dir)) {
        std::filesystem::create_directory(dir);
        write_file(dir + "/cgroup.controllers", "cpuset cpu\n");
        write_file(dir + "/cpu.max", "max 100000\n");
      }
      at = slash + 1;
    }
  }
  // move_to() makes /proc/self/cgroup say the process is in `group`.
  void move_to(const std::string& group) { write_file(proc + "/cgroup", "0::" + group + "\n"); }
  // dir() is the directory of a group ("/kubepods").
  std::string dir(const std::string& group) const { return group == "/" ? mount : mount + group; }
  // set() writes a file of a group, in place (the inode stays, as with cgroupfs).
  void set(const std::string& group, const std::string& file, const std::string& text) const {
    write_file(dir(group) + "/" + file, text);
  }

  static void write_file(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("open " + path);
    const ssize_t n = ::write(fd, text.data(), text.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size())) throw std::runtime_error("write " + path);
  }

  std::string base, proc, mount;
};

}  // namespace hotcore_test
