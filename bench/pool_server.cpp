// SPDX-License-Identifier: MIT
// bench/pool_server.cpp — the server of the latency benchmark (bench/latency_driver.py): one
// epoll thread accepts, parses (examples/http_request.h) and answers; each GET runs a
// `ways`-way parallel_for of W µs of calibrated CPU work per piece on the chosen pool, and
// its answer is sent from the pool's completion. GET /status answers at once with the
// pool's core count (JSON). Every other answer is the bytes of examples/http_server.
//   pool_server --pool hotcore|tbb [--cores N] [--poll-ms M] [--work-us W] [--ways K]
//               [--iters-per-us X] [--port P] [--seconds S]
//               [--rounding ceil|floor|headroom] [--pace]
//   pool_server --calibrate        prints spin() iterations per µs of CPU and exits
// hotcore follows the CPU quota (inotify) unless --cores N fixes it or --poll-ms M makes
// it re-read the limit every M ms instead (--rounding and --pace set the follower's
// quota_policy::rounding and pace); tbb is a fixed arena of N threads (default 2).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "busy_work.h"
#include "http_request.h"
#include "loopback_listener.h"
#include "server_pools.h"

namespace {

struct server_options {
  std::string pool, rounding = "ceil";
  bool pace = false;
  long cores = 0, poll_ms = 0, ways = 4, port = 0, seconds = 3600;
  double work_us = 300, iters_per_us = 0;
  bool calibrate = false;
};

bool parse_flags(int argc, char** argv, server_options& o, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--calibrate" || flag == "--pace") {
      (flag == "--calibrate" ? o.calibrate : o.pace) = true;
      continue;
    }
    if (i + 1 >= argc) return error = flag + " needs a value", false;
    const char* v = argv[++i];
    char* end = nullptr;
    const double x = std::strtod(v, &end);
    const bool num = end != v && *end == '\0';
    const auto bad = [&](const char* bound) { return error = flag + " must be " + bound + ", got '" + v + "'", false; };
    // whole() takes a whole number in [lo, hi] into out.
    const auto whole = [&](long lo, long hi, long& out) {
      if (!num || x < static_cast<double>(lo) || x > static_cast<double>(hi) || x != std::floor(x))
        return bad(("a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]").c_str());
      out = static_cast<long>(x);
      return true;
    };
    if (flag == "--pool") {
      o.pool = v;
      if (o.pool != "hotcore" && o.pool != "tbb") return bad("hotcore or tbb");
    } else if (flag == "--rounding") {
      o.rounding = v;
      if (o.rounding != "ceil" && o.rounding != "floor" && o.rounding != "headroom")
        return bad("ceil, floor or headroom");
    } else if (flag == "--cores" || flag == "--poll-ms" || flag == "--ways" || flag == "--port" ||
               flag == "--seconds") {
      const bool ok = flag == "--cores" ? whole(1, 1024, o.cores)
                      : flag == "--poll-ms" ? whole(1, 60000, o.poll_ms)
                      : flag == "--ways" ? whole(1, 256, o.ways)
                      : flag == "--port" ? whole(0, 65535, o.port) : whole(1, 86400, o.seconds);
      if (!ok) return false;
    } else if (flag == "--work-us") {
      if (!num || x < 0 || x > 1e6) return bad("in [0, 1e6] us");
      o.work_us = x;
    } else if (flag == "--iters-per-us") {
      if (!num || x <= 0 || x > 1e6) return bad("in (0, 1e6]");
      o.iters_per_us = x;
    } else {
      return error = "unknown flag " + flag, false;
    }
  }
  if (o.calibrate) return true;
  if (o.pool.empty()) return error = "--pool hotcore|tbb is required", false;
  if (o.pool == "tbb" && o.poll_ms > 0) return error = "--poll-ms is for --pool hotcore", false;
  if (o.cores > 0 && o.poll_ms > 0) return error = "--cores fixes the pool: no --poll-ms with it", false;
  return true;
}

struct connection {
  int fd = -1;
  std::string in, out;
  std::size_t sent = 0;
  bool busy = false;         // its request's work is on the pool
  bool close_after = false;  // answer, then close
  bool keep_alive = true;
};

// front_end is the epoll loop: connections by id, completions from the pool by eventfd.
class front_end {
 public:
  front_end(bench::work_pool& pool, bench::job j, int listener)
      : _pool(pool), _job(j), _listener(listener) {}
  ~front_end();
  front_end(const front_end&) = delete;
  front_end& operator=(const front_end&) = delete;
  int run(const sigset_t& stop, long seconds);
  [[nodiscard]] long requests() const { return _requests; }

 private:
  void add(int fd, std::uint64_t id, std::uint32_t events) const;
  void accept_all();
  void on_readable(std::uint64_t id);
  void serve(std::uint64_t id, connection& c);
  void flush(std::uint64_t id, connection& c);
  void close_conn(std::uint64_t id);
  void take_completions();
  void drain_pool();

  bench::work_pool& _pool;
  bench::job _job;
  int _listener, _epoll = -1, _done_fd = -1;
  std::unordered_map<std::uint64_t, connection> _conns;
  std::uint64_t _next_id = 2;  // 0: the listener, 1: the completion eventfd
  std::mutex _done_mutex;
  std::vector<std::uint64_t> _done;  // ids whose work finished (guarded by _done_mutex)
  long _requests = 0, _in_flight = 0;
};

front_end::~front_end() {
  for (auto& [id, c] : _conns) ::close(c.fd);
  std::lock_guard lk(_done_mutex);  // a completion still writing finishes first
  if (_done_fd >= 0) ::close(_done_fd);
  if (_epoll >= 0) ::close(_epoll);
}

void front_end::add(int fd, std::uint64_t id, std::uint32_t events) const {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  ::epoll_ctl(_epoll, EPOLL_CTL_ADD, fd, &ev);
}

void front_end::accept_all() {
  for (;;) {
    const int fd = ::accept4(_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of fds: the next readiness tries again
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::uint64_t id = _next_id++;
    _conns[id].fd = fd;
    add(fd, id, EPOLLIN | EPOLLRDHUP);
  }
}

void front_end::close_conn(std::uint64_t id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  ::close(it->second.fd);
  _conns.erase(it);  // a completion for it later finds nothing
}

// serve() takes the next complete request of c: /status at once, others to the pool.
void front_end::serve(std::uint64_t id, connection& c) {
  if (c.busy || !c.out.empty() || c.close_after) return;
  http::request req;
  const auto r = http::parse(c.in, req);
  if (r == http::parse_result::incomplete) return;
  ++_requests;
  if (r != http::parse_result::complete) {
    http::respond_refused(r, c.out);
    c.close_after = true;
    return flush(id, c);
  }
  c.keep_alive = req.keep_alive;
  const bool status = req.method == "GET" && req.target == "/status";
  const bool get = req.method == "GET";
  if (status || !get) {
    if (status) {
      const std::string body = "{\"cores\":" + std::to_string(_pool.cores()) + ",\"limit\":\"" +
                               _pool.limit() + "\",\"requests\":" + std::to_string(_requests) + "}\n";
      c.out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body;
    } else {
      http::respond(&req, c.out);
    }
    c.in.erase(0, req.size);
    c.close_after = !req.keep_alive;
    return flush(id, c);
  }
  c.in.erase(0, req.size);
  const bool queued = _pool.run(_job, [this, id] {  // under the lock: see ~front_end()
    std::lock_guard lk(_done_mutex);
    _done.push_back(id);
    const std::uint64_t one = 1;
    (void)!::write(_done_fd, &one, sizeof one);
  });
  if (queued) {
    c.busy = true;
    ++_in_flight;
    return;
  }
  c.out = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  c.close_after = true;
  flush(id, c);
}

void front_end::flush(std::uint64_t id, connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return close_conn(id);
    c.sent += static_cast<std::size_t>(n);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (c.sent < c.out.size() ? EPOLLOUT : 0u);
  ev.data.u64 = id;
  ::epoll_ctl(_epoll, EPOLL_CTL_MOD, c.fd, &ev);
  if (c.sent < c.out.size()) return;
  c.out.clear();
  c.sent = 0;
  if (c.close_after) return close_conn(id);
  serve(id, c);  // a pipelined request may wait in the buffer
}

void front_end::on_readable(std::uint64_t id) {
  auto it = _conns.find(id);
  if (it == _conns.end()) return;
  connection& c = it->second;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return close_conn(id);
    c.in.append(buf, static_cast<std::size_t>(n));
    if (c.in.size() > 4 * http::max_request) return close_conn(id);  // a client that only sends
  }
  if (!c.out.empty()) return flush(id, c);
  serve(id, c);
}

void front_end::take_completions() {
  std::uint64_t count;
  (void)!::read(_done_fd, &count, sizeof count);
  std::vector<std::uint64_t> done;
  {
    std::lock_guard lk(_done_mutex);
    done.swap(_done);
  }
  for (const std::uint64_t id : done) {
    --_in_flight;
    auto it = _conns.find(id);
    if (it == _conns.end()) continue;  // the client left meanwhile
    connection& c = it->second;
    c.busy = false;
    http::request get;
    get.method = "GET";
    get.keep_alive = c.keep_alive;
    http::respond(&get, c.out);
    c.close_after = !c.keep_alive;
    flush(id, c);
  }
}

// drain_pool() waits (at most 10 s) for the work still on the pool: its callbacks use
// this object.
void front_end::drain_pool() {
  const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (_in_flight > 0 && std::chrono::steady_clock::now() < by) {
    pollfd p{_done_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) take_completions();
  }
}

int front_end::run(const sigset_t& stop, long seconds) {
  _epoll = ::epoll_create1(EPOLL_CLOEXEC);
  _done_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const int sig_fd = ::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  if (_epoll < 0 || _done_fd < 0 || sig_fd < 0) return -errno;
  add(_listener, 0, EPOLLIN);
  add(_done_fd, 1, EPOLLIN);
  add(sig_fd, ~std::uint64_t{0}, EPOLLIN);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (bool stopping = false; !stopping;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    epoll_event events[128];
    const int n = ::epoll_wait(_epoll, events, 128, static_cast<int>(std::min<long long>(left.count(), 1000)));
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == 0) accept_all();
      else if (id == 1) take_completions();
      else if (id == ~std::uint64_t{0}) stopping = true;
      else if (auto it = _conns.find(id); it != _conns.end() && (events[i].events & EPOLLOUT) && !it->second.out.empty())
        flush(id, it->second);
      else on_readable(id);
    }
  }
  ::close(sig_fd);
  drain_pool();
  return 0;
}

std::unique_ptr<bench::work_pool> make_pool(const server_options& o, std::string& error) {
  if (o.pool == "tbb") return std::make_unique<bench::tbb_pool>(o.cores > 0 ? static_cast<unsigned>(o.cores) : 2u);
  const auto rounding = o.rounding == "floor"      ? hotcore::quota_rounding::floor
                        : o.rounding == "headroom" ? hotcore::quota_rounding::headroom
                                                   : hotcore::quota_rounding::ceil;
  return bench::hotcore_pool::create(
      {static_cast<unsigned>(o.cores), static_cast<unsigned>(o.poll_ms), rounding, o.pace}, error);
}

}  // namespace

int main(int argc, char** argv) {
  server_options o;
  std::string error;
  if (!parse_flags(argc, argv, o, error)) {
    std::fprintf(stderr, "pool_server: %s\n", error.c_str());
    return 2;
  }
  if (o.calibrate || o.iters_per_us == 0) o.iters_per_us = bench::calibrate_spin();
  if (o.calibrate) {
    std::printf("%.3f\n", o.iters_per_us);
    return 0;
  }
  sigset_t stop;  // taken by the loop's signalfd; blocked before any pool thread starts
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  const int listener = http::open_loopback_listener(o.port, SOCK_NONBLOCK, 4096);
  if (listener < 0) {
    std::fprintf(stderr, "pool_server: listen on 127.0.0.1:%ld: %s\n", o.port, std::strerror(-listener));
    return 1;
  }
  auto pool = make_pool(o, error);
  if (!pool) {
    std::fprintf(stderr, "pool_server: %s\n", error.c_str());
    ::close(listener);
    return 1;
  }
  const bench::job j{static_cast<unsigned>(o.ways),
                     static_cast<std::uint64_t>(std::llround(o.work_us * o.iters_per_us))};
  std::printf("pool_server: listening on 127.0.0.1:%ld, pool %s, %u cores, %ld x %.0f us "
              "(%llu iterations at %.3f per us)\n",
              o.port, o.pool.c_str(), pool->cores(), o.ways, o.work_us,
              static_cast<unsigned long long>(j.iterations), o.iters_per_us);
  std::fflush(stdout);
  long requests = 0;
  {
    front_end fe(*pool, j, listener);
    if (const int r = fe.run(stop, o.seconds); r < 0)
      std::fprintf(stderr, "pool_server: epoll: %s\n", std::strerror(-r));
    requests = fe.requests();
  }
  ::close(listener);
  std::printf("pool_server: %ld requests\n", requests);
  return 0;
}
