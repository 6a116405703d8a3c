// SPDX-License-Identifier: MIT
// runtime/platform/cgroup_paths.cpp — cgroup discovery: parse /proc/self/cgroup and
// /proc/self/mountinfo, and find the directory of the process's group for a controller
// (v1 or v2, mounted anywhere, possibly only a subtree of the hierarchy mounted).
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "hotcore/cgroup.h"

namespace hotcore {
namespace {

// split() cuts text at every `sep` (empty pieces kept).
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// lines() splits text into its non-empty lines.
std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::string_view line : split(text, '\n'))
    if (!line.empty()) out.push_back(line);
  return out;
}

// unescape() undoes mountinfo's octal escapes ("\040" is a space).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view oct = s.substr(i + 1, 3);
      if (std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

void fail(cgroup_error& err, cgroup_errc code, std::string message) {
  err.code = make_error_code(code);
  err.message = std::move(message);
}

bool has(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// relative_to() is path less the prefix root ("" when equal), or false when root does
// not contain path (prefix on a component boundary: "/a" does not contain "/ab").
bool relative_to(std::string_view path, std::string_view root, std::string& rel) {
  if (root == "/") root = "";
  if (path.substr(0, root.size()) != root) return false;
  std::string_view rest = path.substr(root.size());
  if (!rest.empty() && rest.front() != '/') return false;
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  rel = std::string(rest);
  return true;
}

std::string trim_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::vector<proc_cgroup_line> parse_proc_cgroup(std::string_view text, cgroup_error& err) {
  err.clear();
  std::vector<proc_cgroup_line> out;
  for (std::string_view line : lines(text)) {
    // hierarchy-ID:controller-list:cgroup-path; the path itself may hold ':'.
    const std::size_t c1 = line.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    proc_cgroup_line row;
    const char* end = line.data() + (c1 == std::string_view::npos ? 0 : c1);
    const auto [ptr, ec] = std::from_chars(line.data(), end, row.hierarchy);
    if (c2 == std::string_view::npos || c1 == 0 || ec != std::errc() || ptr != end ||
        line.substr(c2 + 1).empty() || line[c2 + 1] != '/') {
      fail(err, cgroup_errc::malformed,
           "/proc/self/cgroup: line \"" + std::string(line) +
               "\" is not \"hierarchy:controllers:/path\"");
      return {};
    }
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    if (!controllers.empty())
      for (std::string_view c : split(controllers, ',')) row.controllers.emplace_back(c);
    row.path = std::string(line.substr(c2 + 1));
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<mount_line> parse_mountinfo(std::string_view text, cgroup_error& err) {
  err.clear();
  std::vector<mount_line> out;
  for (std::string_view line : lines(text)) {
    std::vector<std::string_view> f;
    for (std::string_view field : split(line, ' '))
      if (!field.empty()) f.push_back(field);
    // id parent major:minor root mount-point options [optional...] - fstype source super
    const auto dash = std::find(f.begin() + std::min<std::ptrdiff_t>(6, static_cast<std::ptrdiff_t>(f.size())), f.end(), "-");
    if (f.size() < 10 || dash == f.end() || f.end() - dash < 4) {
      fail(err, cgroup_errc::malformed,
           "/proc/self/mountinfo: line \"" + std::string(line) + "\" has too few fields");
      return {};
    }
    mount_line m;
    m.root = unescape(f[3]);
    m.mount_point = trim_trailing_slashes(unescape(f[4]));
    m.fstype = std::string(dash[1]);
    for (std::string_view opt : split(dash[3], ',')) m.super_options.emplace_back(opt);
    out.push_back(std::move(m));
  }
  return out;
}

std::string cgroup_location::dir() const {
  std::string rel;
  if (!relative_to(path, mount_root, rel)) return {};
  if (rel.empty()) return mount_point;
  return (mount_point == "/" ? "" : mount_point) + "/" + rel;
}

std::vector<std::string> cgroup_location::levels() const {
  std::vector<std::string> out;
  std::string d = dir();
  if (d.empty()) return out;
  out.push_back(d);
  while (d != mount_point) {
    const std::size_t slash = d.rfind('/');
    if (slash == std::string::npos) break;
    d = slash == 0 ? "/" : d.substr(0, slash);
    out.push_back(d);
  }
  return out;
}

cgroup_location find_cgroup(std::string_view controller, std::string_view proc_cgroup,
                            std::string_view mountinfo, cgroup_error& err) {
  const std::vector<proc_cgroup_line> groups = parse_proc_cgroup(proc_cgroup, err);
  if (err) return {};
  const std::vector<mount_line> mounts = parse_mountinfo(mountinfo, err);
  if (err) return {};
  const std::string name(controller);

  // A v1 hierarchy with the controller takes precedence (hybrid mode: the unified
  // hierarchy is mounted too, but the controller is bound to v1).
  const proc_cgroup_line* line = nullptr;
  for (const proc_cgroup_line& g : groups)
    if (g.hierarchy != 0 && has(g.controllers, name)) line = &g;
  const cgroup_version version = line != nullptr ? cgroup_version::v1 : cgroup_version::v2;
  if (line == nullptr)
    for (const proc_cgroup_line& g : groups)
      if (g.hierarchy == 0 && g.controllers.empty()) line = &g;
  if (line == nullptr) {
    fail(err, cgroup_errc::no_hierarchy,
         "/proc/self/cgroup: no v1 hierarchy with the " + name +
             " controller and no v2 (\"0::\") line");
    return {};
  }
  bool mounted = false;
  for (const mount_line& m : mounts) {
    const bool match = version == cgroup_version::v1
                           ? m.fstype == "cgroup" && has(m.super_options, name)
                           : m.fstype == "cgroup2";
    if (!match) continue;
    mounted = true;
    std::string rel;
    if (relative_to(line->path, m.root, rel)) {
      err.clear();
      return cgroup_location{version, m.mount_point, m.root, line->path};
    }
  }
  if (!mounted) {
    fail(err, cgroup_errc::no_hierarchy,
         std::string("/proc/self/mountinfo: the ") +
             (version == cgroup_version::v1 ? "v1 " + name + " hierarchy" : "cgroup2 hierarchy") +
             " is not mounted");
  } else {
    fail(err, cgroup_errc::not_under_mount_root,
         "/proc/self/mountinfo: the process's group " + line->path + " (" + name +
             ") lies outside every mount of its hierarchy");
  }
  return {};
}

}  // namespace hotcore
