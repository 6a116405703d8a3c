// SPDX-License-Identifier: MIT
// tools/json_writer.h — a small JSON writer for the CLI's --json outputs: objects, arrays,
// numbers, booleans and escaped strings, written straight to a FILE*, commas placed for
// the caller.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <type_traits>
#include <vector>

namespace hotcore::tools {

// json_writer writes one JSON value. Inside an object, call key() before each value.
//
// Example:
//   json_writer j(stdout);
//   j.begin_object();
//   j.key("core"); j.value(1u);
//   j.key("states"); j.begin_array(); j.value("sched:active"); j.end_array();
//   j.end_object();  // {"core":1,"states":["sched:active"]}
class json_writer {
 public:
  explicit json_writer(std::FILE* out) : _out(out) {}
  ~json_writer() {
    if (_first.empty()) std::fputc('\n', _out);
  }
  json_writer(const json_writer&) = delete;
  json_writer& operator=(const json_writer&) = delete;

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k) {
    separate();
    string(k);
    std::fputc(':', _out);
    _after_key = true;
  }
  void value(std::string_view s) {
    separate();
    string(s);
  }
  void value(const char* s) { value(std::string_view(s)); }
  void value(bool b) {
    separate();
    std::fputs(b ? "true" : "false", _out);
  }
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  void value(T n) {
    separate();
    if constexpr (std::is_signed_v<T>) std::fprintf(_out, "%lld", static_cast<long long>(n));
    else std::fprintf(_out, "%llu", static_cast<unsigned long long>(n));
  }
  void value(double d) {
    separate();
    if (std::isfinite(d)) std::fprintf(_out, "%.17g", d);
    else std::fputs("null", _out);  // JSON has no NaN or infinity
  }
  // field() is key() then value().
  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

 private:
  void open(char c) {
    separate();
    std::fputc(c, _out);
    _first.push_back(true);
  }
  void close(char c) {
    _first.pop_back();
    std::fputc(c, _out);
  }
  // separate() writes the comma before every value but the first of its container.
  void separate() {
    if (_after_key) {
      _after_key = false;
      return;
    }
    if (_first.empty()) return;
    if (!_first.back()) std::fputc(',', _out);
    _first.back() = false;
  }
  void string(std::string_view s) {
    std::fputc('"', _out);
    for (const char ch : s) {
      const auto u = static_cast<unsigned char>(ch);
      if (ch == '"' || ch == '\\') std::fprintf(_out, "\\%c", ch);
      else if (u < 0x20) std::fprintf(_out, "\\u%04x", u);
      else std::fputc(ch, _out);
    }
    std::fputc('"', _out);
  }

  std::FILE* _out;
  std::vector<bool> _first;  // per open container: no value written yet
  bool _after_key = false;
};

}  // namespace hotcore::tools
