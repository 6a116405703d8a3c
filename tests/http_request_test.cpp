// SPDX-License-Identifier: MIT
// tests/http_request_test.cpp — the request parsing of examples/http_server.cpp: complete,
// incomplete and bad requests, pipelining, keep-alive rules and the fixed responses.
#include <string>
#include <string_view>
#include <utility>

#include "../examples/http_request.h"
#include "test_support.h"

using http::parse;
using http::parse_result;

TEST_CASE("a GET request is complete once its header ends, and takes exactly its bytes") {
  const std::string r = "GET /index HTTP/1.1\r\nHost: x\r\n\r\n";
  http::request req;
  for (std::size_t n = 0; n < r.size(); ++n) {
    CAPTURE(n);
    CHECK(parse(std::string_view(r).substr(0, n), req) == parse_result::incomplete);
  }
  REQUIRE(parse(r, req) == parse_result::complete);
  CHECK(req.method == "GET");
  CHECK(req.target == "/index");
  CHECK(req.keep_alive);
  CHECK(req.size == r.size());
}

TEST_CASE("pipelined requests are parsed one after another off the buffer") {
  const std::string one = "GET /a HTTP/1.1\r\n\r\n";
  const std::string two = "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string buf = one + two + "GET /c";
  http::request req;
  REQUIRE(parse(buf, req) == parse_result::complete);
  CHECK(req.target == "/a");
  std::string_view rest = std::string_view(buf).substr(req.size);
  REQUIRE(parse(rest, req) == parse_result::complete);
  CHECK(req.target == "/b");
  CHECK_FALSE(req.keep_alive);
  rest.remove_prefix(req.size);
  CHECK(parse(rest, req) == parse_result::incomplete);
}

TEST_CASE("keep-alive follows the version and the Connection header, in any case") {
  http::request req;
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", req) == parse_result::complete);
  CHECK_FALSE(req.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", req) == parse_result::complete);
  CHECK(req.keep_alive);
  REQUIRE(parse("GET / HTTP/1.1\r\nCONNECTION:   close \r\n\r\n", req) == parse_result::complete);
  CHECK_FALSE(req.keep_alive);
}

TEST_CASE("a body announced by Content-Length belongs to its request") {
  http::request req;
  const std::string r = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  CHECK(parse(r.substr(0, r.size() - 1), req) == parse_result::incomplete);
  REQUIRE(parse(r, req) == parse_result::complete);
  CHECK(req.size == r.size());
}

TEST_CASE("bad requests are refused: no version, unknown version, header without colon, "
          "bad Content-Length, chunked body, an empty request line") {
  http::request req;
  CHECK(parse("GET /\r\n\r\n", req) == parse_result::bad);
  CHECK(parse("GET / HTTP/2.0\r\n\r\n", req) == parse_result::bad);
  CHECK(parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", req) == parse_result::bad);
  CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", req) == parse_result::bad);
  CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", req) == parse_result::bad);
  CHECK(parse("\r\n\r\n" + std::string(10000, '\n'), req) == parse_result::bad);
}

TEST_CASE("a body that does not fit the buffer with its head is too large (413), also when "
          "it alone is under the buffer's size") {
  http::request req;
  const std::string head = "POST / HTTP/1.1\r\nContent-Length: ";
  CHECK(parse(head + "8192\r\n\r\n", req) == parse_result::too_large);
  CHECK(parse(head + "100000\r\n\r\n", req) == parse_result::too_large);
  CHECK(parse(head + "8170\r\n\r\n", req) == parse_result::too_large);  // head + body > 8 KiB
  CHECK(parse(head + "100\r\n\r\n", req) == parse_result::incomplete);
  std::string out;
  http::respond_refused(parse_result::too_large, out);
  CHECK(out.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(out.find("Connection: close") != std::string::npos);
}

TEST_CASE("a head over 8 KiB is 413 once its request line has ended, 414 while the request "
          "line alone fills the buffer; each answer closes the connection") {
  http::request req;
  const std::string line = "GET / HTTP/1.1\r\n";
  const std::string big_header = line + "X-Pad: " + std::string(http::max_request, 'p');
  CHECK(parse(big_header.substr(0, http::max_request - 1), req) == parse_result::incomplete);
  CHECK(parse(big_header.substr(0, http::max_request), req) == parse_result::too_large);
  const std::string long_target = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n";
  CHECK(parse(long_target.substr(0, http::max_request), req) == parse_result::uri_too_long);
  for (const auto& [r, status] : {std::pair{parse_result::too_large, "413 "},
                                 std::pair{parse_result::uri_too_long, "414 "},
                                 std::pair{parse_result::bad, "400 "}}) {
    std::string out;
    http::respond_refused(r, out);
    CHECK(out.rfind(std::string("HTTP/1.1 ") + status, 0) == 0);
    CHECK(out.find("\r\nConnection: close\r\n\r\n") != std::string::npos);
  }
}

TEST_CASE("the Accept header is kept for content negotiation (/metrics)") {
  http::request req;
  REQUIRE(parse("GET /metrics HTTP/1.1\r\nACCEPT:  application/openmetrics-text \r\n\r\n", req) ==
          parse_result::complete);
  CHECK(req.accept == "application/openmetrics-text");
  REQUIRE(parse("GET /metrics HTTP/1.1\r\n\r\n", req) == parse_result::complete);
  CHECK(req.accept.empty());
}

TEST_CASE("responses: 200 with the fixed body for GET, 405 for other methods, 400 and close "
          "for a bad request; Connection: close when the connection ends") {
  http::request req;
  REQUIRE(parse("GET / HTTP/1.1\r\n\r\n", req) == parse_result::complete);
  std::string out;
  http::respond(&req, out);
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("Content-Length: 19\r\n\r\nHello from hotcore\n") != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  out.clear();
  REQUIRE(parse("DELETE / HTTP/1.0\r\n\r\n", req) == parse_result::complete);
  http::respond(&req, out);
  CHECK(out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
  out.clear();
  http::respond(nullptr, out);
  CHECK(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
}
