// SPDX-License-Identifier: MIT
// examples/http_request.h — the HTTP/1.1 request parsing and the fixed responses of
// examples/http_server.cpp: one request at a time off the front of a connection's buffer
// (pipelined requests follow), keep-alive per HTTP/1.0 and 1.1 rules.
#pragma once

#include <cctype>
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace http {

inline constexpr std::size_t max_request = 8192;  // request line + headers

// too_large: a request whose head, or head and body, do not fit the connection's buffer
// (max_request bytes): answer 413 and close. uri_too_long: no request line ends within the
// buffer: answer 414 and close.
enum class parse_result { complete, incomplete, bad, too_large, uri_too_long };

struct request {
  std::string_view method;
  std::string_view target;
  std::string_view accept;  // the Accept header, empty when none
  bool keep_alive = true;
  std::size_t size = 0;  // bytes of the buffer this request took (head and body)
};

namespace detail {
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace detail

// parse() reads the request at the front of buf: complete (out filled), incomplete (wait
// for more bytes), bad (answer 400 and close), too_large (the head, or the announced body
// with its head, does not fit the buffer: answer 413 and close) or uri_too_long (the
// request line does not: 414).
inline parse_result parse(std::string_view buf, request& out) {
  out = request{};
  const std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() < max_request) return parse_result::incomplete;
    return buf.find("\r\n") == std::string_view::npos ? parse_result::uri_too_long
                                                      : parse_result::too_large;
  }
  std::string_view head = buf.substr(0, end + 2);
  const std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return parse_result::bad;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (out.method.empty() || out.target.empty()) return parse_result::bad;
  if (version == "HTTP/1.1") out.keep_alive = true;
  else if (version == "HTTP/1.0") out.keep_alive = false;
  else return parse_result::bad;
  std::size_t body = 0;
  while (!head.empty()) {
    const std::size_t e = head.find("\r\n");
    const std::string_view h = head.substr(0, e);
    head.remove_prefix(e + 2);
    const std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return parse_result::bad;
    const std::string_view name = h.substr(0, colon);
    const std::string_view value = detail::trim(h.substr(colon + 1));
    if (detail::iequals(name, "connection")) {
      if (detail::iequals(value, "close")) out.keep_alive = false;
      else if (detail::iequals(value, "keep-alive")) out.keep_alive = true;
    } else if (detail::iequals(name, "content-length")) {
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), body);
      if (ec != std::errc() || p != value.data() + value.size()) return parse_result::bad;
    } else if (detail::iequals(name, "accept")) {
      out.accept = value;
    } else if (detail::iequals(name, "transfer-encoding")) {
      return parse_result::bad;  // no chunked bodies here
    }
  }
  if (body > max_request || end + 4 + body > max_request) return parse_result::too_large;
  out.size = end + 4 + body;
  return out.size <= buf.size() ? parse_result::complete : parse_result::incomplete;
}

// respond_closing() appends an empty answer after which the server closes the connection:
// status is "413 Content Too Large", "414 URI Too Long", "408 Request Timeout"...
inline void respond_closing(std::string& out, std::string_view status) {
  out.append("HTTP/1.1 ").append(status);
  out += "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

// respond_refused() appends the answer to a request parse() refused (bad, too_large,
// uri_too_long): 400, 413 or 414, each closing the connection.
inline void respond_refused(parse_result r, std::string& out) {
  respond_closing(out, r == parse_result::too_large      ? "413 Content Too Large"
                       : r == parse_result::uri_too_long ? "414 URI Too Long"
                                                         : "400 Bad Request");
}

// respond() appends the answer to a request (or to a bad one, req == nullptr).
inline void respond(const request* req, std::string& out) {
  static constexpr std::string_view body = "Hello from hotcore\n";
  if (req == nullptr) return respond_closing(out, "400 Bad Request");
  const bool get = req->method == "GET";
  out += get ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n";
  out += "Content-Type: text/plain\r\nContent-Length: ";
  out += get ? std::to_string(body.size()) : "0";
  out += req->keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  if (get) out += body;
}

}  // namespace http
