// SPDX-License-Identifier: MIT
// bench/loadgen.cpp — an open-loop HTTP/1.1 load generator: one thread, epoll, a pool of
// keep-alive connections to a loopback server. Requests are due at constant or Poisson
// times; one that finds no idle connection waits in a queue and its latency still counts
// from its due time (no coordinated omission). Prints one JSON object: counts, errors,
// p50/p90/p99/p99.9/max and a p99 per second of the measured interval.
//   loadgen --port P --rate R [--host 127.0.0.1|::1] [--path /] [--duration S] [--warmup S]
//           [--drain S] [--connections K] [--arrival constant|poisson] [--seed N]
//           [--max-requests N]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "latency_histogram.h"
#include "loadgen_options.h"

namespace {

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct request {
  std::int64_t due_ns = 0;  // its intended send time
  bool measured = false;    // due in the measured interval (else warm-up)
};

struct connection {
  int fd = -1;
  bool connected = false;
  bool busy = false;          // a request written, its answer not read yet
  request req;
  std::size_t written = 0;    // bytes of the request sent so far
  std::string in;             // bytes of the answer read so far
  std::int64_t retry_ns = 0;  // closed: reconnect from then on
};

struct counts {
  long sent = 0, completed = 0;  // measured requests
  long reset = 0, status = 0, timeout = 0, connect = 0;
  long warmup_completed = 0;
  std::size_t max_queue = 0;
  [[nodiscard]] long errors() const { return reset + status + timeout; }
};

// answer_state is what parse_answer() found at the front of a connection's buffer.
enum class answer_state { incomplete, ok, not_ok, bad };

// parse_answer() reads one HTTP/1.1 response off the front of `in`: its status and, once
// its Content-Length bytes are there, its size; close_after when it says Connection: close.
answer_state parse_answer(const std::string& in, std::size_t& size, bool& close_after) {
  const std::size_t head = in.find("\r\n\r\n");
  if (head == std::string::npos) return in.size() > 65536 ? answer_state::bad : answer_state::incomplete;
  if (in.compare(0, 5, "HTTP/") != 0 || in.size() < 12) return answer_state::bad;
  const bool ok = in.compare(9, 3, "200") == 0;
  std::size_t length = 0;
  close_after = false;
  for (std::size_t at = in.find("\r\n") + 2; at < head;) {
    const std::size_t eol = in.find("\r\n", at);
    std::string line = in.substr(at, eol - at);
    for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (line.rfind("content-length:", 0) == 0) length = std::strtoul(line.c_str() + 15, nullptr, 10);
    if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) close_after = true;
    at = eol + 2;
  }
  size = head + 4 + length;
  if (in.size() < size) return answer_state::incomplete;
  return ok ? answer_state::ok : answer_state::not_ok;
}

class generator {
 public:
  explicit generator(const bench::loadgen_options& o)
      : _o(o), _conns(static_cast<std::size_t>(o.connections)),
        _per_second(static_cast<std::size_t>(o.duration_s) + 1), _random(o.seed) {
    _request = "GET " + o.path + " HTTP/1.1\r\nHost: " +
               (o.host == "::1" ? std::string("[::1]") : o.host) + "\r\n\r\n";
  }
  ~generator() {
    for (auto& c : _conns)
      if (c.fd >= 0) ::close(c.fd);
    if (_epoll >= 0) ::close(_epoll);
  }
  generator(const generator&) = delete;
  generator& operator=(const generator&) = delete;

  int run();
  void report(std::FILE* out) const;

 private:
  void open(connection& c, std::int64_t now);
  void drop(connection& c, std::int64_t now, bool count_reset);
  void on_event(connection& c, std::uint32_t events, std::int64_t now);
  void on_readable(connection& c, std::int64_t now);
  void write_request(connection& c, std::int64_t now);
  void complete(connection& c, answer_state st, std::int64_t now);
  void schedule(std::int64_t now);
  void dispatch(std::int64_t now);
  void wait_events(std::int64_t until);
  [[nodiscard]] double gap_ns();
  [[nodiscard]] std::size_t outstanding() const;

  bench::loadgen_options _o;
  std::string _request;
  std::vector<connection> _conns;
  std::deque<request> _queue;
  int _epoll = -1;
  std::int64_t _start = 0, _warm_end = 0, _end = 0;
  double _next = 0;  // the next due time (ns, fractional to keep the rate exact)
  counts _n;
  bench::latency_histogram _all;
  std::vector<bench::latency_histogram> _per_second;
  std::mt19937_64 _random;
};

double generator::gap_ns() {
  const double mean = 1e9 / _o.rate;
  if (!_o.poisson) return mean;
  return std::exponential_distribution<double>(1.0 / mean)(_random);
}

std::size_t generator::outstanding() const {
  std::size_t n = _queue.size();
  for (const auto& c : _conns) n += c.busy ? 1 : 0;
  return n;
}

void generator::open(connection& c, std::int64_t now) {
  const bool v6 = _o.host == "::1";
  c = connection{};
  c.fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(_o.port));
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(_o.port));
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  const int one = 1;
  if (c.fd < 0 || (::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
                   ::connect(c.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)) {
    ++_n.connect;
    return drop(c, now, false);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = &c;
  ::epoll_ctl(_epoll, EPOLL_CTL_ADD, c.fd, &ev);
}

// drop() closes c; its request (if any) failed. It reconnects 100 ms later.
void generator::drop(connection& c, std::int64_t now, bool count_reset) {
  if (c.busy && c.req.measured && count_reset) ++_n.reset;
  if (c.fd >= 0) ::close(c.fd);
  c = connection{};
  c.retry_ns = now + 100'000'000;
}

void generator::write_request(connection& c, std::int64_t now) {
  while (c.written < _request.size()) {
    const ssize_t n = ::send(c.fd, _request.data() + c.written, _request.size() - c.written, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return drop(c, now, true);
    c.written += static_cast<std::size_t>(n);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (c.written < _request.size() ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}

void generator::complete(connection& c, answer_state st, std::int64_t now) {
  if (c.req.measured) {
    if (st == answer_state::ok) {
      const auto us = static_cast<std::uint64_t>((now - c.req.due_ns) / 1000);
      _all.record(us);
      const auto second = static_cast<std::size_t>((c.req.due_ns - _warm_end) / 1'000'000'000);
      _per_second[std::min(second, _per_second.size() - 1)].record(us);
      ++_n.completed;
    } else {
      ++_n.status;
    }
  } else {
    ++_n.warmup_completed;
  }
  c.busy = false;
}

void generator::on_readable(connection& c, std::int64_t now) {
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return drop(c, now, true);  // reset or closed by the server
    c.in.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t size = 0;
  bool close_after = false;
  const answer_state st = parse_answer(c.in, size, close_after);
  if (st == answer_state::incomplete) return;
  if (st == answer_state::bad || !c.busy) {  // garbage, or bytes nobody asked for
    if (c.busy && c.req.measured) ++_n.status;
    c.busy = false;
    return drop(c, now, false);
  }
  complete(c, st, now);
  c.in.erase(0, size);
  if (close_after) {
    drop(c, now, false);
    open(c, now);
  }
}

void generator::on_event(connection& c, std::uint32_t events, std::int64_t now) {
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      ++_n.connect;
      return drop(c, now, false);
    }
    c.connected = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    ::epoll_ctl(_epoll, EPOLL_CTL_MOD, c.fd, &ev);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, now);
  if (c.fd >= 0 && c.busy && (events & EPOLLOUT)) write_request(c, now);
}

// schedule() queues every request due by now (none after the end, none over the bound).
void generator::schedule(std::int64_t now) {
  while (_next <= static_cast<double>(now) && _next < static_cast<double>(_end)) {
    const request r{static_cast<std::int64_t>(_next), _next >= static_cast<double>(_warm_end)};
    _queue.push_back(r);
    if (r.measured) ++_n.sent;
    _next += gap_ns();
  }
  _n.max_queue = std::max(_n.max_queue, _queue.size());
}

// dispatch() gives queued requests, oldest first, to idle connections.
void generator::dispatch(std::int64_t now) {
  for (auto& c : _conns) {
    if (_queue.empty()) return;
    if (c.fd < 0 && c.retry_ns <= now) open(c, now);
    if (c.fd < 0 || !c.connected || c.busy) continue;
    c.busy = true;
    c.req = _queue.front();
    c.written = 0;
    _queue.pop_front();
    write_request(c, now);
  }
}

void generator::wait_events(std::int64_t until) {
  epoll_event events[256];
  const std::int64_t left = std::max<std::int64_t>(0, until - now_ns());
  const timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
  const int n = ::epoll_pwait2(_epoll, events, 256, &ts, nullptr);
  const std::int64_t now = now_ns();
  for (int i = 0; i < n; ++i) {
    auto& c = *static_cast<connection*>(events[i].data.ptr);
    if (c.fd >= 0) on_event(c, events[i].events, now);
  }
}

int generator::run() {
  _epoll = ::epoll_create1(EPOLL_CLOEXEC);
  if (_epoll < 0) return -errno;
  std::int64_t now = now_ns();
  for (auto& c : _conns) open(c, now);
  const std::int64_t connect_by = now + 2'000'000'000;  // wait for the pool, at most 2 s
  for (bool all = false; !all && now_ns() < connect_by;) {
    wait_events(std::min(connect_by, now_ns() + 10'000'000));
    all = true;
    for (const auto& c : _conns) all = all && c.connected;
  }
  _start = now_ns();
  _warm_end = _start + static_cast<std::int64_t>(_o.warmup_s * 1e9);
  _end = _warm_end + static_cast<std::int64_t>(_o.duration_s * 1e9);
  const std::int64_t drain_end = _end + static_cast<std::int64_t>(_o.drain_s * 1e9);
  _next = static_cast<double>(_start);
  for (;;) {
    now = now_ns();
    schedule(now);
    dispatch(now);
    if (now >= _end && outstanding() == 0) break;
    if (now >= drain_end) break;
    std::int64_t wake = _next < static_cast<double>(_end) ? static_cast<std::int64_t>(_next) : drain_end;
    if (!_queue.empty()) wake = std::min(wake, now + 100'000'000);  // a reconnect may be due
    wait_events(wake);
  }
  for (const auto& r : _queue) _n.timeout += r.measured ? 1 : 0;  // never answered in time
  for (const auto& c : _conns) _n.timeout += c.busy && c.req.measured ? 1 : 0;
  return 0;
}

// quoted() is s as a JSON string.
std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (const char ch : s) {
    char esc[8];
    if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20)
      q.append(esc, static_cast<std::size_t>(std::snprintf(esc, sizeof esc, "\\u%04x", ch)));
    else
      q += ch;
  }
  return q + '"';
}

// number() is d as a JSON number (null where JSON has none: NaN, infinity).
std::string number(double d) {
  char buf[32];
  if (!std::isfinite(d)) return "null";
  return {buf, static_cast<std::size_t>(std::snprintf(buf, sizeof buf, "%.17g", d))};
}

// report() writes the run as one JSON object on one line (bench/latency_driver.py reads it).
void generator::report(std::FILE* out) const {
  std::fprintf(out,
               "{\"host\":%s,\"port\":%ld,\"path\":%s,\"arrival\":\"%s\",\"rate\":%s,"
               "\"connections\":%ld,\"warmup_s\":%s,\"duration_s\":%s,",
               quoted(_o.host).c_str(), _o.port, quoted(_o.path).c_str(),
               _o.poisson ? "poisson" : "constant", number(_o.rate).c_str(), _o.connections,
               number(_o.warmup_s).c_str(), number(_o.duration_s).c_str());
  std::fprintf(out,
               "\"sent\":%ld,\"completed\":%ld,\"errors\":%ld,\"error_kinds\":{\"reset\":%ld,"
               "\"status\":%ld,\"timeout\":%ld},\"connect_errors\":%ld,\"warmup_completed\":%ld,"
               "\"max_queue\":%zu,\"throughput_rps\":%s,",
               _n.sent, _n.completed, _n.errors(), _n.reset, _n.status, _n.timeout, _n.connect,
               _n.warmup_completed, _n.max_queue,
               number(static_cast<double>(_n.completed) / _o.duration_s).c_str());
  std::fprintf(out,
               "\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
               ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%s},\"per_second\":[",
               _all.percentile(0.50), _all.percentile(0.90), _all.percentile(0.99),
               _all.percentile(0.999), _all.max(), number(_all.mean()).c_str());
  // by due time: second i of the measured interval
  for (std::size_t i = 0; i < _per_second.size() && static_cast<double>(i) < _o.duration_s; ++i)
    std::fprintf(out,
                 "%s{\"t\":%zu,\"count\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"max_us\":%" PRIu64 "}",
                 i == 0 ? "" : ",", i, _per_second[i].total(), _per_second[i].percentile(0.99),
                 _per_second[i].max());
  std::fputs("]}\n", out);
}

}  // namespace

int main(int argc, char** argv) {
  bench::loadgen_options o;
  std::string error;
  if (!bench::parse_loadgen_options(argc, argv, o, error)) {
    std::fprintf(stderr, "loadgen: %s\n", error.c_str());
    return 2;
  }
  generator g(o);
  if (const int r = g.run(); r < 0) {
    std::fprintf(stderr, "loadgen: epoll: %s\n", std::strerror(-r));
    return 1;
  }
  g.report(stdout);
  return 0;
}
