// SPDX-License-Identifier: MIT
// runtime/quota/cgroup_parse.cpp — the contents of the files that state a CPU limit:
// cpu.max (v2), cpu.cfs_quota_us/cpu.cfs_period_us (v1), cpu lists, cpu.stat's throttling
// counters, with the kernel's own bounds, and the error category that names what was wrong
// with them.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "hotcore/cgroup.h"

namespace hotcore {
namespace {

// The kernel's bounds (kernel/sched/core.c): a period of 1 ms to 1 s, a quota of at least
// 1 ms and at most MAX_BW microseconds.
constexpr std::int64_t min_period_us = 1000;
constexpr std::int64_t max_period_us = 1000000;
constexpr std::int64_t min_quota_us = 1000;
constexpr std::int64_t max_quota_us = (std::int64_t{1} << 44) - 1;
// Above any CPU number a kernel has (NR_CPUS is at most 8192 today).
constexpr unsigned max_cpu = 1u << 16;

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "hotcore.cgroup"; }
  std::string message(int code) const override {
    switch (static_cast<cgroup_errc>(code)) {
      case cgroup_errc::malformed: return "malformed cgroup file";
      case cgroup_errc::extra_field: return "extra field in cgroup file";
      case cgroup_errc::out_of_range: return "cgroup value out of the kernel's range";
      case cgroup_errc::no_hierarchy: return "no cgroup hierarchy for the controller";
      case cgroup_errc::not_under_mount_root: return "cgroup outside its mounted hierarchy";
    }
    return "unknown cgroup error";
  }
};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  s = trim(s);
  while (!s.empty()) {
    std::size_t n = 0;
    while (n < s.size() && !blank(s[n])) ++n;
    out.push_back(s.substr(0, n));
    s.remove_prefix(n);
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  }
  return out;
}

// quoted() shows file contents in a message: in quotes, newlines as \n, at most 60 bytes.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > 60) out += "...";
  return out + "\"";
}

void fail(cgroup_error& err, cgroup_errc code, std::string message) {
  err.code = make_error_code(code);
  err.message = std::move(message);
}

template <class T>
bool to_number(std::string_view s, T& value) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

// bounded() reads a period or quota field (`what`) and checks it against the kernel's
// bounds [lo, hi]; `bounds` says them in words for the error.
bool bounded(std::string_view field, std::string_view whole, std::int64_t& out,
             cgroup_error& err, const char* what, std::int64_t lo, std::int64_t hi,
             const char* bounds) {
  if (!to_number(field, out)) {
    fail(err, cgroup_errc::malformed, quoted(whole) + ": the " + what + " is not a number");
    return false;
  }
  if (out < lo || out > hi) {
    fail(err, cgroup_errc::out_of_range,
         quoted(whole) + ": a " + what + " of " + std::to_string(out) + " us " + bounds);
    return false;
  }
  return true;
}

// period() checks a period field against the kernel's bounds.
bool period(std::string_view field, std::string_view whole, std::int64_t& out,
            cgroup_error& err) {
  return bounded(field, whole, out, err, "period", min_period_us, max_period_us,
                 "is outside the kernel's 1000..1000000");
}

// quota() checks a quota field (not "max"/-1) against the kernel's bounds.
bool quota(std::string_view field, std::string_view whole, std::int64_t& out,
           cgroup_error& err) {
  return bounded(field, whole, out, err, "quota", min_quota_us, max_quota_us,
                 "is below the kernel's 1 ms minimum or above its maximum");
}

// limit_of() checks the period field and, unless the quota field is the word for "no
// limit" ("max" in cgroup v2, "-1" in v1), the quota field.
cpu_limit limit_of(std::string_view q, std::string_view q_whole, std::string_view unlimited,
                   std::string_view p, std::string_view p_whole, cgroup_error& err) {
  cpu_limit lim;
  if (!period(p, p_whole, lim.period_us, err)) return {};
  if (q == unlimited) return lim;
  if (!quota(q, q_whole, lim.quota_us, err)) return {};
  return lim;
}

}  // namespace

const std::error_category& cgroup_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(cgroup_errc e) noexcept {
  return {static_cast<int>(e), cgroup_category()};
}

bool tighter(const cpu_limit& a, const cpu_limit& b) noexcept {
  if (a.unlimited()) return false;
  if (b.unlimited()) return true;
  // quota <= 2^44 and period <= 10^6: the products need more than 64 bits.
  __extension__ using wide = __int128;
  return static_cast<wide>(a.quota_us) * b.period_us < static_cast<wide>(b.quota_us) * a.period_us;
}

std::string limit_text(const cpu_limit& limit) {
  if (limit.unlimited()) return "max";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.2f CPUs (%lld/%lld)", limit.cpus(),
                static_cast<long long>(limit.quota_us), static_cast<long long>(limit.period_us));
  return buf;
}

cpu_limit parse_cpu_max(std::string_view text, cgroup_error& err) {
  err.clear();
  const std::vector<std::string_view> f = fields(text);
  if (f.size() < 2) {
    fail(err, cgroup_errc::malformed,
         quoted(text) + (f.empty() ? ": empty" : ": one field") +
             " (cpu.max is \"$MAX $PERIOD\")");
    return {};
  }
  if (f.size() > 2) {
    fail(err, cgroup_errc::extra_field,
         quoted(text) + ": a third field (cpu.max is \"$MAX $PERIOD\")");
    return {};
  }
  return limit_of(f[0], text, "max", f[1], text, err);
}

cpu_limit parse_cfs(std::string_view quota_text, std::string_view period_text,
                    cgroup_error& err) {
  err.clear();
  const std::vector<std::string_view> q = fields(quota_text);
  const std::vector<std::string_view> p = fields(period_text);
  if (q.size() != 1 || p.size() != 1) {
    const bool extra = q.size() > 1 || p.size() > 1;
    fail(err, extra ? cgroup_errc::extra_field : cgroup_errc::malformed,
         "quota " + quoted(quota_text) + ", period " + quoted(period_text) +
             (extra ? ": more than one number" : ": empty"));
    return {};
  }
  return limit_of(q[0], quota_text, "-1", p[0], period_text, err);
}

cpu_throttling parse_cpu_stat(std::string_view text, cgroup_error& err) {
  err.clear();
  cpu_throttling out;
  unsigned seen = 0;  // bits: nr_periods, nr_throttled, throttled time
  for (std::string_view rest = text; !rest.empty();) {
    const std::size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    const std::vector<std::string_view> f = fields(line);
    if (f.empty()) continue;
    std::uint64_t value = 0;
    if (f.size() != 2 || !to_number(f[1], value)) {
      fail(err, cgroup_errc::malformed, "cpu.stat line " + quoted(line) + ": not KEY NUMBER");
      return {};
    }
    if (f[0] == "nr_periods") out.periods = value, seen |= 1;
    else if (f[0] == "nr_throttled") out.throttled_periods = value, seen |= 2;
    else if (f[0] == "throttled_time") out.throttled_ns = value, seen |= 4;
    else if (f[0] == "throttled_usec") out.throttled_ns = value * 1000, seen |= 4;
  }
  if (seen != 0 && seen != 7) {
    fail(err, cgroup_errc::malformed,
         "cpu.stat " + quoted(text) + ": some of nr_periods, nr_throttled and the throttled "
         "time are missing");
    return {};
  }
  out.bandwidth = seen == 7;
  return out;
}

std::vector<unsigned> parse_cpu_list(std::string_view text, cgroup_error& err) {
  err.clear();
  const std::string_view t = trim(text);
  std::vector<unsigned> cpus;
  if (t.empty()) {
    fail(err, cgroup_errc::malformed, quoted(text) + ": an empty cpu list");
    return {};
  }
  std::size_t start = 0;
  while (start <= t.size()) {
    std::size_t comma = t.find(',', start);
    if (comma == std::string_view::npos) comma = t.size();
    const std::string_view item = t.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    unsigned lo = 0, hi = 0;
    const bool ok = dash == std::string_view::npos
                        ? to_number(item, lo) && (hi = lo, true)
                        : to_number(item.substr(0, dash), lo) &&
                              to_number(item.substr(dash + 1), hi);
    if (!ok || lo > hi || hi >= max_cpu) {
      fail(err, cgroup_errc::malformed,
           quoted(text) + ": \"" + std::string(item) + "\" is not a cpu or a range a-b");
      return {};
    }
    for (unsigned c = lo; c <= hi; ++c) cpus.push_back(c);
    start = comma + 1;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

}  // namespace hotcore
