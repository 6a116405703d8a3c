// SPDX-License-Identifier: MIT
// tests/cgroup_tree.h — a cgroup v2 hierarchy made of plain files for the quota tests:
// a directory with its own `cgroup` and `mountinfo` (the follower's proc_self) whose
// mountinfo mounts a tree of group directories holding cpu.max, cgroup.controllers and
// cpuset.cpus.effective. The machine's real v2 hierarchy has no cpu controller, so this
// is how v2 is tested; v1 is tested for real (quota_v1_test.cpp).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace hotcore_test {

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
