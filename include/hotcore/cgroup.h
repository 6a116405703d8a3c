// SPDX-License-Identifier: MIT
/// @file
/// hotcore/cgroup.h — where the process's cgroups are (from /proc/self/cgroup and
/// /proc/self/mountinfo; cgroup v1 and v2, mounted anywhere, nested) and what CPU limit they
/// set: the quota of the group and of every ancestor up to the mount root (the tightest
/// wins) and the cpuset. Pure functions over file contents and directory paths, so a test
/// can feed them a tree of its own.
///
/// Example:
///   hotcore::cgroup_error err;
///   const auto cpu = hotcore::find_cgroup("cpu", read_file("/proc/self/cgroup"),
///                                         read_file("/proc/self/mountinfo"), err);
///   if (err) std::fprintf(stderr, "%s\n", err.message.c_str());
///   const hotcore::cpu_limit lim = hotcore::read_cpu_limit(cpu, err);
///   if (!err && !lim.unlimited()) std::printf("%.2f CPUs\n", lim.cpus());
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace hotcore {

/// cgroup_errc names what was wrong with a cgroup file's contents or with discovery. Errors
/// of the file system itself (a missing file, no permission, the group removed) are
/// errno values in std::generic_category(): ENOENT, EACCES, ENODEV.
enum class cgroup_errc {
  malformed = 1,         // not the kernel's format (empty, not a number, a missing field)
  extra_field,           // more fields than the format has (a third field in cpu.max)
  out_of_range,          // a number the kernel would refuse (quota < 1 ms, period > 1 s)
  no_hierarchy,          // /proc/self/cgroup has no line, or mountinfo no mount, for it
  not_under_mount_root,  // the group lies outside the mounted part of its hierarchy
};
/// cgroup_category() is the std::error_category of cgroup_errc codes (name "hotcore.cgroup").
[[nodiscard]] const std::error_category& cgroup_category() noexcept;
/// make_error_code() makes a std::error_code of cgroup_category() from e.
[[nodiscard]] std::error_code make_error_code(cgroup_errc e) noexcept;

/// cgroup_error is an error code and a message for people that names the file and quotes
/// what it held. Empty (false) when there was no error.
struct cgroup_error {
  std::error_code code;  ///< what went wrong: an errno (generic category) or a cgroup_errc
  std::string message;  ///< the file and what it held, for people
  /// true when there was an error.
  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  /// clear() empties code and message.
  void clear() noexcept {
    code.clear();
    message.clear();
  }
};

// ---- discovery

/// proc_cgroup_line is one line of /proc/self/cgroup: "4:cpu,cpuacct:/docker/abc"
/// (v1: controllers listed) or "0::/user.slice" (v2: hierarchy 0, no controllers).
struct proc_cgroup_line {
  unsigned hierarchy = 0;  ///< hierarchy ID (0 on v2)
  std::vector<std::string> controllers;  ///< controllers bound to the hierarchy (empty on v2)
  std::string path;  ///< the group, relative to the hierarchy's root
};
/// parse_proc_cgroup() splits /proc/self/cgroup; a malformed line is an error (malformed).
[[nodiscard]] std::vector<proc_cgroup_line> parse_proc_cgroup(std::string_view text,
                                                              cgroup_error& err);

/// mount_line is what discovery needs of one /proc/self/mountinfo line:
/// "32 31 0:29 /root /mount/point rw,relatime shared:1 - cgroup cgroup rw,cpu,cpuacct".
struct mount_line {
  std::string root;         ///< the part of the file system mounted (field 4), unescaped
  std::string mount_point;  ///< field 5, unescaped (\040 is a space)
  std::string fstype;       ///< after the " - " separator
  std::vector<std::string> super_options;  ///< the last field, split at commas
};
/// parse_mountinfo() splits /proc/self/mountinfo; a malformed line is an error.
[[nodiscard]] std::vector<mount_line> parse_mountinfo(std::string_view text, cgroup_error& err);

/// cgroup_version is the cgroup hierarchy kind: v1 (one per controller) or v2 (unified).
enum class cgroup_version { v1 = 1, v2 = 2 };

/// cgroup_location is where one controller's group of the process lives.
struct cgroup_location {
  cgroup_version version = cgroup_version::v2;  ///< the hierarchy kind
  std::string mount_point;  ///< where the hierarchy (or the part of it in mount_root) is
  std::string mount_root;   ///< which group of the hierarchy is mounted there ("/" usually)
  std::string path;         ///< the process's group in the hierarchy (/proc/self/cgroup)
  /// dir() is the group's directory: mount_point joined with path less mount_root.
  [[nodiscard]] std::string dir() const;
  /// levels() lists dir() and each ancestor up to mount_point, innermost first.
  [[nodiscard]] std::vector<std::string> levels() const;
};

/// find_cgroup() locates the process's group for `controller` ("cpu" or "cpuset"): a v1
/// hierarchy that lists the controller if there is one, otherwise the v2 unified hierarchy
/// (whether the controller is enabled there is read from the group's files, not known
/// here). Among several mounts of the hierarchy it takes one whose root contains the path.
[[nodiscard]] cgroup_location find_cgroup(std::string_view controller,
                                          std::string_view proc_cgroup,
                                          std::string_view mountinfo, cgroup_error& err);

// ---- contents

/// cpu_limit is a CFS bandwidth limit: quota_us of CPU time per period_us (so
/// quota_us / period_us CPUs), or no limit (quota_us < 0).
struct cpu_limit {
  std::int64_t quota_us = -1;  ///< CPU time per period in microseconds; < 0: no limit
  std::int64_t period_us = 100000;  ///< the period in microseconds
  /// unlimited() is true when there is no limit (quota_us < 0).
  [[nodiscard]] bool unlimited() const noexcept { return quota_us < 0; }
  /// cpus() is quota/period, or 0 for no limit.
  [[nodiscard]] double cpus() const noexcept {
    return unlimited() ? 0.0 : static_cast<double>(quota_us) / static_cast<double>(period_us);
  }
  /// Two limits are equal when quota and period are.
  friend bool operator==(const cpu_limit&, const cpu_limit&) = default;
};
/// tighter() is true when a allows less CPU than b (any limit is tighter than none).
[[nodiscard]] bool tighter(const cpu_limit& a, const cpu_limit& b) noexcept;
/// limit_text() formats a limit for people: "1.50 CPUs (150000/100000)" or "max".
[[nodiscard]] std::string limit_text(const cpu_limit& limit);

/// parse_cpu_max() reads v2 cpu.max: "max 100000" or "50000 100000" (a trailing newline or
/// blanks are fine). Errors: malformed, extra_field, out_of_range (the kernel's bounds:
/// quota >= 1000 us, 1000 us <= period <= 1 s).
[[nodiscard]] cpu_limit parse_cpu_max(std::string_view text, cgroup_error& err);
/// parse_cfs() reads v1 cpu.cfs_quota_us ("-1" or a number) and cpu.cfs_period_us.
[[nodiscard]] cpu_limit parse_cfs(std::string_view quota, std::string_view period,
                                  cgroup_error& err);
/// parse_cpu_list() reads a kernel cpu list, "0-3,5" (ascending, no duplicates in the
/// result). An empty list is malformed.
[[nodiscard]] std::vector<unsigned> parse_cpu_list(std::string_view text, cgroup_error& err);

/// cpu_throttling is what CFS bandwidth control counted for a group in its cpu.stat: the
/// enforcement periods with runnable threads, those that ended throttled, and the time the
/// group's threads were held back. Counters: they only grow while the group exists.
struct cpu_throttling {
  /// bandwidth is false when the file has no bandwidth fields (a v2 group whose cpu
  /// controller is not enabled has only usage_usec, user_usec and system_usec).
  bool bandwidth = false;
  std::uint64_t periods = 0;            ///< nr_periods
  std::uint64_t throttled_periods = 0;  ///< nr_throttled
  std::uint64_t throttled_ns = 0;       ///< v1 throttled_time (ns), v2 throttled_usec * 1000
};
/// parse_cpu_stat() reads cpu.stat, "KEY VALUE" lines (v1: nr_periods, nr_throttled,
/// throttled_time; v2: the same with throttled_usec; other keys are skipped). A line that
/// is not a key and a whole number is malformed; so are bandwidth fields present in part.
[[nodiscard]] cpu_throttling parse_cpu_stat(std::string_view text, cgroup_error& err);

// ---- reading a group

/// read_cpu_limit() reads the quota of the group at `where` and of every ancestor up to its
/// mount point, and returns the tightest. A v2 level without cpu.max whose
/// cgroup.controllers does not list "cpu" sets no limit; any other missing file is an
/// error (ENOENT), as is a group removed (ENOENT/ENODEV) or unreadable (EACCES).
[[nodiscard]] cpu_limit read_cpu_limit(const cgroup_location& where, cgroup_error& err);
/// read_cpuset() reads the effective cpus of the group at `where`: v2
/// cpuset.cpus.effective (of the nearest level that has it), v1 cpuset.effective_cpus.
/// `found` is false (and the result empty, no error) when no level has the file.
[[nodiscard]] std::vector<unsigned> read_cpuset(const cgroup_location& where, bool& found,
                                                cgroup_error& err);

/// read_cpu_stat() reads the cpu.stat of the group at `where` itself (the kernel counts the
/// throttling of a group's own limit there). Errors: those of parse_cpu_stat(), or the
/// errno of the file (ENOENT, EACCES, ENODEV for a removed group).
[[nodiscard]] cpu_throttling read_cpu_stat(const cgroup_location& where, cgroup_error& err);

}  // namespace hotcore

// A standard trait (cgroup_errc converts to std::error_code), left out of the reference.
/// @cond
template <>
struct std::is_error_code_enum<hotcore::cgroup_errc> : std::true_type {};
/// @endcond
