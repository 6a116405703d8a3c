// SPDX-License-Identifier: MIT
// runtime/quota/cgroup_reader.cpp — reading the CPU limit's cgroup files through fds
// kept open (pread at offset 0 makes cgroupfs regenerate the contents), the tightest quota
// over the ancestors, and the public one-shot read_cpu_limit()/read_cpuset()/read_cpu_stat().
#include "quota/cgroup_reader.h"

#include "platform/file_read.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace hotcore::detail {
namespace {

constexpr std::size_t read_buffer = 8192;

// sys_fail() makes an errno error that names the path; a group that disappeared says so.
void sys_fail(cgroup_error& err, int code, const std::string& path) {
  err.code = std::error_code(code, std::generic_category());
  err.message = path + ": " + std::strerror(code);
  if (code == ENODEV || code == ENOENT) err.message += " (the cgroup was removed?)";
  if (code == EACCES || code == EPERM) err.message += " (no permission)";
}

// read_at() reads the whole file behind fd from offset 0 into text.
bool read_at(int fd, const std::string& path, std::string& text, cgroup_error& err) {
  char buf[read_buffer + 1];  // + the NUL of read_fd()
  const int n = read_fd(fd, buf, sizeof buf);
  if (n < 0) {
    sys_fail(err, -n, path);
    return false;
  }
  if (static_cast<std::size_t>(n) == read_buffer) {
    err.code = make_error_code(cgroup_errc::malformed);
    err.message = path + ": longer than " + std::to_string(read_buffer) + " bytes";
    return false;
  }
  text.assign(buf, static_cast<std::size_t>(n));
  return true;
}

// removed() says whether the file or directory behind fd was unlinked since it was opened
// (a removed cgroupfs file also fails its reads with ENODEV; a plain file does not).
bool removed(int fd) {
  struct stat st;
  return fd >= 0 && ::fstat(fd, &st) == 0 && st.st_nlink == 0;
}

int open_in(int dir_fd, const char* name) {
  int fd;
  do {
    fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// lists_cpu() is whether a cgroup.controllers text names the cpu controller.
bool lists_cpu(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(" \n", start);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(start, end - start) == "cpu") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool cgroup_reader::watch(const std::string& path, unsigned mask) {
  if (!_watch) return true;
  if (_inotify < 0) _inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  // A watch that cannot be added (inotify limits) only costs speed: polling still works.
  return _inotify >= 0 && ::inotify_add_watch(_inotify, path.c_str(), mask) >= 0;
}

bool cgroup_reader::drain_events() noexcept {
  if (_inotify < 0) return false;
  bool any = false;
  alignas(inotify_event) char buf[4096];
  while (::read(_inotify, buf, sizeof buf) > 0) any = true;
  return any;
}

void cgroup_reader::close() noexcept {
  for (level& lv : _levels) {
    close_fd(lv.quota_fd);
    close_fd(lv.period_fd);
    close_fd(lv.controllers_fd);
    close_fd(lv.dir_fd);
  }
  _levels.clear();
  close_fd(_cpuset_fd);
  _cpuset_path.clear();
  close_fd(_inotify);
}

bool cgroup_reader::open_level(level& lv, bool hierarchy_root, cgroup_error& err) {
  lv.dir_fd = ::open(lv.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lv.dir_fd < 0) {
    sys_fail(err, errno, lv.dir);
    return false;
  }
  watch(lv.dir, IN_DELETE_SELF | IN_MOVE_SELF);
  const char* quota_name = _version == cgroup_version::v2 ? "cpu.max" : "cpu.cfs_quota_us";
  lv.quota_fd = open_in(lv.dir_fd, quota_name);
  if (lv.quota_fd < 0) {
    const int e = errno;
    if (_version == cgroup_version::v2 && e == ENOENT) {
      // The root group has no cpu.max; a group whose parent did not enable the cpu
      // controller neither (cgroup.controllers tells): no limit at this level.
      if (hierarchy_root) return true;
      lv.controllers_fd = open_in(lv.dir_fd, "cgroup.controllers");
      std::string text;
      if (lv.controllers_fd >= 0 && read_at(lv.controllers_fd, lv.dir + "/cgroup.controllers", text, err) &&
          !lists_cpu(text))
        return true;
      if (err) return false;
    }
    sys_fail(err, e, lv.dir + "/" + quota_name);
    return false;
  }
  watch(lv.dir + "/" + quota_name, IN_MODIFY);
  if (_version == cgroup_version::v1) {
    lv.period_fd = open_in(lv.dir_fd, "cpu.cfs_period_us");
    if (lv.period_fd < 0) {
      sys_fail(err, errno, lv.dir + "/cpu.cfs_period_us");
      return false;
    }
    watch(lv.dir + "/cpu.cfs_period_us", IN_MODIFY);
  }
  return true;
}

bool cgroup_reader::open_cpu(const cgroup_location& where, bool watch_files, cgroup_error& err) {
  err.clear();
  _version = where.version;
  _watch = watch_files;
  const std::vector<std::string> dirs = where.levels();
  if (dirs.empty()) {
    err.code = make_error_code(cgroup_errc::not_under_mount_root);
    err.message = where.path + " lies outside the mount at " + where.mount_point;
    return false;
  }
  for (const std::string& d : dirs) {
    _levels.push_back(level{d});
    const bool root = where.mount_root == "/" && d == where.mount_point;
    if (!open_level(_levels.back(), root, err)) return false;
  }
  return true;
}

bool cgroup_reader::open_cpuset(const cgroup_location& where, bool watch_files,
                                cgroup_error& err) {
  err.clear();
  _watch = watch_files;
  const char* name =
      where.version == cgroup_version::v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus";
  for (const std::string& d : where.levels()) {
    const std::string path = d + "/" + name;
    _cpuset_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (_cpuset_fd >= 0) {
      _cpuset_path = path;
      watch(path, IN_MODIFY);
      return true;
    }
    if (errno != ENOENT) {
      sys_fail(err, errno, path);
      return false;
    }
  }
  return true;  // no level has it: no cpuset restriction
}

bool cgroup_reader::read_level(level& lv, cpu_limit& limit, cgroup_error& err) {
  std::string text;
  if (removed(lv.dir_fd)) {
    sys_fail(err, ENOENT, lv.dir);
    return false;
  }
  if (lv.quota_fd < 0 && lv.controllers_fd >= 0) {
    // cpu.max was absent because the cpu controller was not enabled; it may be now.
    if (!read_at(lv.controllers_fd, lv.dir + "/cgroup.controllers", text, err)) return false;
    if (!lists_cpu(text)) return true;
    lv.quota_fd = open_in(lv.dir_fd, "cpu.max");
    if (lv.quota_fd < 0) {
      sys_fail(err, errno, lv.dir + "/cpu.max");
      return false;
    }
    watch(lv.dir + "/cpu.max", IN_MODIFY);
  }
  if (lv.quota_fd < 0) return true;  // the hierarchy's root: no limit
  if (removed(lv.quota_fd) || removed(lv.period_fd)) {
    sys_fail(err, ENOENT, lv.dir + (_version == cgroup_version::v2 ? "/cpu.max" : "/cpu.cfs_*_us"));
    return false;
  }
  if (_version == cgroup_version::v2) {
    const std::string path = lv.dir + "/cpu.max";
    if (!read_at(lv.quota_fd, path, text, err)) return false;
    limit = parse_cpu_max(text, err);
    if (err) err.message = path + ": " + err.message;
    return !err;
  }
  std::string period;
  if (!read_at(lv.quota_fd, lv.dir + "/cpu.cfs_quota_us", text, err) ||
      !read_at(lv.period_fd, lv.dir + "/cpu.cfs_period_us", period, err))
    return false;
  limit = parse_cfs(text, period, err);
  if (err) err.message = lv.dir + "/cpu.cfs_{quota,period}_us: " + err.message;
  return !err;
}

bool cgroup_reader::read_limit(cpu_limit& limit, std::string& from, cgroup_error& err) {
  err.clear();
  cpu_limit tightest;
  std::string where;
  for (level& lv : _levels) {
    cpu_limit here;
    if (!read_level(lv, here, err)) return false;
    if (tighter(here, tightest)) {
      tightest = here;
      where = lv.dir;
    }
  }
  limit = tightest;
  from = where;
  return true;
}

bool cgroup_reader::read_cpuset(std::vector<unsigned>& cpus, bool& found, cgroup_error& err) {
  err.clear();
  found = _cpuset_fd >= 0;
  if (!found) return true;
  std::string text;
  if (removed(_cpuset_fd)) {
    sys_fail(err, ENOENT, _cpuset_path);
    return false;
  }
  if (!read_at(_cpuset_fd, _cpuset_path, text, err)) return false;
  std::vector<unsigned> list = parse_cpu_list(text, err);
  if (err) {
    err.message = _cpuset_path + ": " + err.message;
    return false;
  }
  cpus = std::move(list);
  return true;
}

}  // namespace hotcore::detail

namespace hotcore {

cpu_limit read_cpu_limit(const cgroup_location& where, cgroup_error& err) {
  detail::cgroup_reader reader;
  cpu_limit limit;
  std::string from;
  if (!reader.open_cpu(where, false, err) || !reader.read_limit(limit, from, err)) return {};
  return limit;
}

std::vector<unsigned> read_cpuset(const cgroup_location& where, bool& found, cgroup_error& err) {
  detail::cgroup_reader reader;
  std::vector<unsigned> cpus;
  found = false;
  if (!reader.open_cpuset(where, false, err) || !reader.read_cpuset(cpus, found, err)) return {};
  return cpus;
}

cpu_throttling read_cpu_stat(const cgroup_location& where, cgroup_error& err) {
  err.clear();
  const std::string path = where.dir() + "/cpu.stat";
  int fd = detail::open_in(AT_FDCWD, path.c_str());
  if (fd < 0) {
    detail::sys_fail(err, errno, path);
    return {};
  }
  std::string text;
  const bool read = detail::read_at(fd, path, text, err);
  detail::close_fd(fd);
  if (!read) return {};
  cpu_throttling out = parse_cpu_stat(text, err);
  if (err) err.message = path + ": " + err.message;
  return out;
}

}  // namespace hotcore
