// SPDX-License-Identifier: MIT
// tools/cli.h — the one argument parser of the `hotcore` program. Each command declares
// its options as a table of rows (name, value name, help, where the value goes); parse()
// reads them with getopt_long, prints `--help` from the same table, and reports a bad
// argument on one line, its echo cut at 200 bytes with control characters escaped. A
// command with a "json" row given --json runs in JSON mode (tools/json_mode.h), errors too.
//
// Example (a command with one number):
//   long count = 10;
//   const cli::option opts[] = {cli::number("count", "K", count, 1, 1000, "cycles to run")};
//   if (const int done = cli::parse(cmd, argc, argv, opts); done >= 0) return done;
//   ... run with count ...
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flag_limits.h"

namespace hotcore::tools::cli {

// The program's exit statuses, the same for every command (hotcore(1), EXIT STATUS).
inline constexpr int exit_ok = 0;      // it did what was asked
inline constexpr int exit_failed = 1;  // an operation failed at run time (or output could not be written)
inline constexpr int exit_usage = 2;   // the command line was wrong; nothing was done

// option is one row of a command's option table.
struct option {
  const char* name;   // the long name, without "--"
  const char* value;  // the value's name in --help ("K", "CPUS"); nullptr for a flag
  const char* help;   // what it does; '\n' starts another help line
  // set() takes the value (nullptr for a flag) and returns "" when it took it, or what it
  // wants instead ("1..1000"), which the error line shows.
  std::function<std::string(const char* value)> set;
};

// flag() is a row for --name without a value: it sets target to true.
option flag(const char* name, bool& target, const char* help);

// number() is a row for --name N with lo <= N <= hi, a whole decimal number.
option number(const char* name, const char* value, long& target, long lo, long hi,
              const char* help);
option number(const char* name, const char* value, int& target, int lo, int hi,
              const char* help);

// cpus() is a row for --name CPUS: a CPU list as taskset and chcpu take it ("0-3,5").
option cpus(const char* name, std::vector<unsigned>& target, const char* help);

// choice() is a row for --name WORD where WORD is one of `words`; target gets its index.
option choice(const char* name, const char* value, std::initializer_list<const char*> words,
              int& target, const char* help);

// command is one row of the program's command table (tools/hotcore.cpp).
struct command {
  const char* name;
  const char* summary;      // one line in `hotcore --help`
  const char* description;  // the paragraph `hotcore NAME --help` prints under its usage
  // main() declares the command's options, calls parse() and runs the command. argv[0] is
  // the command's name. It returns an exit status.
  int (*main)(const command& self, int argc, char** argv);
};

// parse() reads argv[1..argc) against the table. Returns -1 when the command should run;
// otherwise the status the command must exit with: exit_ok after printing --help,
// exit_usage after printing one error line. Values are stored as they are read, so on
// an error some may already be set.
[[nodiscard]] int parse(const command& cmd, int argc, char** argv, std::span<const option> opts);

// usage_error() prints "hotcore NAME: WHAT (see 'hotcore NAME --help')" on one line and
// returns exit_usage. WHAT must already be printable (see printable()).
int usage_error(const command& cmd, const std::string& what);

// printable() is text safe to echo on a terminal in one line: control characters and
// backslashes escaped (\n, \t, \e, \xNN, \\), and text over 200 bytes cut, with its size.
[[nodiscard]] std::string printable(std::string_view text);

// parse_cpu_list() reads "0-3,5" (ranges and single CPUs, comma separated, each at most
// max_cpu) into an ascending list without repeats; nullopt with `why` set when malformed.
inline constexpr unsigned max_cpu = static_cast<unsigned>(limits::core_max);
[[nodiscard]] std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text,
                                                                  std::string& why);

// cpu_list_text() writes a list back in that form: {0,1,2,3,5} -> "0-3,5".
[[nodiscard]] std::string cpu_list_text(const std::vector<unsigned>& cpus);

// check_output_path() runs before a command's work: `path` (the value of --FLAG) must be
// a file it can write (created if missing, not truncated here), and under --json not the
// standard output, which holds the JSON. Returns -1 when it is fine; otherwise the exit
// status after one error line (exit_failed: it cannot be opened; exit_usage: stdout).
[[nodiscard]] int check_output_path(const command& cmd, const char* flag, const std::string& path);

// finish_output() ends --json mode (tools/json_mode.h: the document goes out), then flushes
// stdout. When that fails, or an earlier write did (a full disk,
// `> /dev/full`, a closed pipe), it prints one line to stderr and returns exit_failed if
// status was exit_ok; otherwise it returns status.
int finish_output(int status);

}  // namespace hotcore::tools::cli
