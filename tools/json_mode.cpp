// SPDX-License-Identifier: MIT
// tools/json_mode.cpp — stdout held in an open_memstream() buffer, stderr passed through a
// cookie stream that keeps its last line, and the document written at the end
// (tools/json_mode.h).
#include "json_mode.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cli.h"
#include "json_writer.h"

namespace hotcore::tools::json_mode {
namespace {

struct held {
  const char* command = nullptr;
  std::FILE* real_stdout = nullptr;
  std::FILE* real_stderr = nullptr;
  char* buffer = nullptr;  // open_memstream()'s
  std::size_t size = 0;
  bool lines = false;
  std::string partial;    // stderr since its last newline
  std::string last_line;  // the last complete line on stderr
};
held state;

// Every write to stderr goes to fd 2 at once; the lines are remembered.
ssize_t stderr_write(void*, const char* data, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(STDERR_FILENO, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != '\n') {
      state.partial.push_back(data[i]);
    } else if (!state.partial.empty()) {
      state.last_line = std::move(state.partial);
      state.partial.clear();
    }
  }
  return static_cast<ssize_t>(size);
}

// errno_in() is the errno whose strerror() text the line holds (the longest such), or 0.
int errno_in(std::string_view line) {
  int best = 0;
  std::size_t best_len = 0;
  for (int e = 1; e < 134; ++e) {
    const std::string_view text = std::strerror(e);
    if (text.size() > best_len && line.find(text) != std::string_view::npos &&
        text.rfind("Unknown error", 0) != 0) {
      best = e;
      best_len = text.size();
    }
  }
  return best;
}

void write_error(std::FILE* out, int status, std::string_view output) {
  const std::string message = state.last_line.empty() ? state.partial : state.last_line;
  int err = errno_in(message);
  if (err == 0) err = status == cli::exit_usage ? EINVAL : EIO;
  const char* name = strerrorname_np(err);
  json_writer j(out);
  j.begin_object();
  j.key("error");
  j.begin_object();
  j.field("command", state.command);
  j.field("errno", err);
  j.field("name", name != nullptr ? name : "");
  j.field("message", message);
  j.field("exit_status", status);
  j.end_object();
  if (!output.empty()) j.field("output", output);
  j.end_object();
}

void write_lines(std::FILE* out, std::string_view text) {
  json_writer j(out);
  j.begin_object();
  j.field("command", state.command);
  j.key("lines");
  j.begin_array();
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    j.value(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  j.end_array();
  j.end_object();
}

}  // namespace

bool begin(const char* command) {
  if (active()) return true;
  std::FILE* mem = open_memstream(&state.buffer, &state.size);
  if (mem == nullptr) return false;
  std::FILE* err = fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, stderr_write, nullptr, nullptr});
  if (err == nullptr) {
    std::fclose(mem);
    std::free(state.buffer);
    state.buffer = nullptr;
    return false;
  }
  std::fflush(stdout);
  setvbuf(err, nullptr, _IONBF, 0);
  state.command = command;
  state.real_stdout = stdout;
  state.real_stderr = stderr;
  // glibc's stdout and stderr are variables a program may set (the GNU C Library manual,
  // "Standard Streams"): every printf and perror of the command now goes through these.
  stdout = mem;
  stderr = err;
  return true;
}

void wrap_lines() { state.lines = true; }

bool active() { return state.real_stdout != nullptr; }

int end(int status) {
  if (!active()) return status;
  std::fclose(stdout);  // sets state.buffer and state.size
  std::fclose(stderr);
  stdout = state.real_stdout;
  stderr = state.real_stderr;
  state.real_stdout = nullptr;
  const std::string_view output(state.buffer != nullptr ? state.buffer : "", state.size);
  if (status != cli::exit_ok) write_error(stdout, status, output);
  else if (state.lines) write_lines(stdout, output);
  else std::fwrite(output.data(), 1, output.size(), stdout);
  std::free(state.buffer);
  state.buffer = nullptr;
  return status;
}

}  // namespace hotcore::tools::json_mode
