// SPDX-License-Identifier: MIT
// tools/cli.cpp — the `hotcore` program's argument parser (getopt_long over a command's
// option table), its --help text, CPU lists, safe echoes and the output check.
#include "cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "json_mode.h"

namespace hotcore::tools::cli {
namespace {

constexpr std::size_t echo_limit = 200;  // bytes of user input an error line shows
constexpr int first_row = 256;           // getopt_long's value for row i is first_row + i

// whole_number() reads all of text as a decimal number within [lo, hi].
std::optional<long long> whole_number(const char* text, long long lo, long long hi) {
  const std::string_view s = text;
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

// quoted() is printable(text) in single quotes. (Built by appending: GCC 12 at -O3 warns
// falsely, -Wrestrict, about prepending to a temporary string.)
std::string quoted(std::string_view text) {
  std::string out(1, '\'');
  out += printable(text);
  out += '\'';
  return out;
}

template <class Int>
option number_row(const char* name, const char* value, Int& target, Int lo, Int hi,
                  const char* help) {
  return {name, value, help, [&target, lo, hi](const char* text) -> std::string {
            const auto v = whole_number(text, lo, hi);
            if (!v) return std::to_string(lo) + ".." + std::to_string(hi);
            target = static_cast<Int>(*v);
            return "";
          }};
}

// print_help() prints `hotcore NAME --help`: usage, description, the options, exit status.
void print_help(const command& cmd, std::span<const option> opts) {
  std::printf("usage: hotcore %s%s\n\n%s\n\noptions:\n", cmd.name,
              opts.empty() ? "" : " [options]", cmd.description);
  const auto row = [](const std::string& left, const char* help) {
    std::printf("  %-22s", left.c_str());
    if (left.size() > 22) std::printf("\n  %-22s", "");
    for (const char* line = help; *line;) {
      const char* end = std::strchr(line, '\n');
      const int len = end ? static_cast<int>(end - line) : static_cast<int>(std::strlen(line));
      std::printf(" %.*s\n", len, line);
      if (!end) break;
      line = end + 1;
      std::printf("  %-22s", "");
    }
  };
  for (const option& o : opts)
    row(std::string("--") + o.name + (o.value ? std::string(" ") + o.value : ""), o.help);
  row("-h, --help", "print this help and exit");
  std::printf("\nexit status: 0 success, 1 an operation failed, 2 usage error\n");
}

// asks_json() is whether the command has --json and the command line gives it.
bool asks_json(int argc, char** argv, std::span<const option> opts) {
  if (std::none_of(opts.begin(), opts.end(),
                   [](const option& o) { return std::string_view(o.name) == "json"; }))
    return false;
  for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i)
    if (std::string_view(argv[i]) == "--json") return true;
  return false;
}

}  // namespace

option flag(const char* name, bool& target, const char* help) {
  return {name, nullptr, help, [&target](const char*) -> std::string {
            target = true;
            return "";
          }};
}

option number(const char* name, const char* value, long& target, long lo, long hi,
              const char* help) {
  return number_row(name, value, target, lo, hi, help);
}

option number(const char* name, const char* value, int& target, int lo, int hi,
              const char* help) {
  return number_row(name, value, target, lo, hi, help);
}

option cpus(const char* name, std::vector<unsigned>& target, const char* help) {
  return {name, "CPUS", help, [&target](const char* text) -> std::string {
            std::string why;
            auto list = parse_cpu_list(text, why);
            if (!list) return "a CPU list like 0-3,5: " + why;
            target = std::move(*list);
            return "";
          }};
}

option choice(const char* name, const char* value, std::initializer_list<const char*> words,
              int& target, const char* help) {
  std::vector<std::string> list(words.begin(), words.end());
  return {name, value, help, [&target, list](const char* text) -> std::string {
            for (std::size_t i = 0; i < list.size(); ++i)
              if (list[i] == text) {
                target = static_cast<int>(i);
                return "";
              }
            std::string want = "one of";
            for (const std::string& w : list) want += " " + w;
            return want;
          }};
}

int usage_error(const command& cmd, const std::string& what) {
  std::fprintf(stderr, "hotcore %s: %s (see 'hotcore %s --help')\n", cmd.name, what.c_str(),
               cmd.name);
  return exit_usage;
}

int parse(const command& cmd, int argc, char** argv, std::span<const option> opts) {
  if (asks_json(argc, argv, opts)) (void)json_mode::begin(cmd.name);
  std::vector<::option> longopts;
  for (std::size_t i = 0; i < opts.size(); ++i)
    longopts.push_back({opts[i].name, opts[i].value ? required_argument : no_argument, nullptr,
                        first_row + static_cast<int>(i)});
  longopts.push_back({"help", no_argument, nullptr, 'h'});
  longopts.push_back({nullptr, 0, nullptr, 0});
  // '+': stop at the first non-option (no reordering); ':': report a missing value as ':'.
  opterr = 0;
  optind = 0;  // 0 re-initializes GNU getopt completely
  const auto name_of = [&](int val) -> std::string {
    return val == 'h' ? "--help" : std::string("--") + opts[static_cast<std::size_t>(val - first_row)].name;
  };
  for (;;) {
    const int c = getopt_long(argc, argv, "+:h", longopts.data(), nullptr);
    if (c == -1) break;
    if (c == 'h') {
      print_help(cmd, opts);
      return exit_ok;
    }
    if (c == ':') return usage_error(cmd, name_of(optopt) + " needs a value");
    if (c == '?') {
      if (optopt == 'h' || optopt >= first_row)  // "--flag=value" for a flag
        return usage_error(cmd, name_of(optopt) + " takes no value");
      if (optopt != 0) return usage_error(cmd, "unknown option " + quoted(std::string{'-', static_cast<char>(optopt)}));
      return usage_error(cmd, "unknown or ambiguous option " + quoted(argv[optind - 1]));
    }
    const option& o = opts[static_cast<std::size_t>(c - first_row)];
    if (const std::string want = o.set(optarg); !want.empty())
      return usage_error(cmd, "bad value " + quoted(optarg) + " for --" + o.name +
                                  " (want " + want + ")");
  }
  if (optind < argc)
    return usage_error(cmd, "unexpected argument " + quoted(argv[optind]));
  return -1;
}

std::string printable(std::string_view text) {
  std::size_t keep = std::min(text.size(), echo_limit);
  // Do not cut a UTF-8 sequence in two: back up over continuation bytes.
  while (keep < text.size() && keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80)
    --keep;
  std::string out;
  for (const char ch : text.substr(0, keep)) {
    const auto b = static_cast<unsigned char>(ch);
    switch (b) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case 0x1b: out += "\\e"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (b < 0x20 || b == 0x7f) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\x%02x", b);
          out += hex;
        } else {
          out += ch;
        }
    }
  }
  if (keep < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text, std::string& why) {
  std::vector<unsigned> cpus;
  const auto cpu = [&](std::string_view s) -> std::optional<unsigned> {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v > max_cpu) {
      why = quoted(s) + " is not a CPU number (0.." + std::to_string(max_cpu) + ")";
      return std::nullopt;
    }
    return v;
  };
  if (text.empty()) {
    why = std::string("empty");
    return std::nullopt;
  }
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    const auto lo = cpu(item.substr(0, dash));
    if (!lo) return std::nullopt;
    unsigned hi = *lo;
    if (dash != std::string_view::npos) {
      const auto h = cpu(item.substr(dash + 1));
      if (!h) return std::nullopt;
      if (*h < *lo) {
        why = "range " + quoted(item) + " goes backwards";
        return std::nullopt;
      }
      hi = *h;
    }
    for (unsigned c = *lo; c <= hi; ++c) cpus.push_back(c);
    start = comma + 1;
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string cpu_list_text(const std::vector<unsigned>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

int check_output_path(const command& cmd, const char* flag, const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    std::fprintf(stderr, "hotcore %s: --%s %s: %s\n", cmd.name, flag, quoted(path).c_str(),
                 std::strerror(err));
    return exit_failed;
  }
  struct stat file{}, out{};
  const bool same = ::fstat(fd, &file) == 0 && ::fstat(STDOUT_FILENO, &out) == 0 &&
                    file.st_dev == out.st_dev && file.st_ino == out.st_ino;
  ::close(fd);
  if (same && json_mode::active())
    return usage_error(cmd, "--" + std::string(flag) + " " + quoted(path) +
                                " is the standard output, which --json writes: name another file");
  return -1;
}

int finish_output(int status) {
  status = json_mode::end(status);
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (flushed && !std::ferror(stdout)) return status;
  std::fprintf(stderr, "hotcore: cannot write the output: %s\n",
               err != 0 ? std::strerror(err) : "write error");
  return status == exit_ok ? exit_failed : status;
}

}  // namespace hotcore::tools::cli
