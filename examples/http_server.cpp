// SPDX-License-Identifier: MIT
// examples/http_server.cpp — an HTTP/1.1 keep-alive server on hotcore's io_uring rings: each
// connection is a chain of recv -> parse -> send -> recv operations, each issued by a task
// to the ring of the core running it; with --churn-ms M a core goes down and comes back
// every M ms while it serves (a leaving core's pending operations move to another ring).
//   http_server [--port P] [--churn-ms M] [--seconds S]    (P 0: any free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotcore/hotcore.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "core_churn.h"
#include "http_request.h"
#include "metrics_route.h"
#include "server_args.h"

namespace {

hotcore::io_context* io;                 // the rings
int listener = -1;
std::atomic<long> requests{0}, connections{0}, errors{0};
std::atomic<int> first_error{0};  // the first errno a recv/send failed with

struct connection {
  explicit connection(int socket) : fd(socket) {}
  int fd;
  std::size_t used = 0;  // bytes in `in`
  char in[http::max_request];
  std::string out;
  std::size_t sent = 0;
  bool close_after = false;
  bool idle = false;                     // in `idle_list` (guarded by fd_mutex)
  std::list<connection*>::iterator at;  // its place there
};

// At the fd limit (accept fails with EMFILE) the server stops accepting instead of
// spinning, and makes room: it closes the connection that has waited longest for a
// request (an idle keep-alive client), and accepts again once a connection has closed.
std::mutex fd_mutex;
std::list<connection*> idle_list;  // waiting for a request, oldest first
bool accept_paused = false;
std::atomic<long> shed{0};  // idle connections closed to make room

void do_accept();
void do_recv(connection* c);

// set_idle() puts c in (or takes it out of) the idle list.
void set_idle(connection* c, bool idle) {
  std::lock_guard lk(fd_mutex);
  if (c->idle == idle) return;
  c->idle = idle;
  if (idle) c->at = idle_list.insert(idle_list.end(), c);
  else idle_list.erase(c->at);
}

void finish(connection* c) {
  set_idle(c, false);
  ::close(c->fd);
  delete c;
  bool resume;
  {
    std::lock_guard lk(fd_mutex);
    resume = std::exchange(accept_paused, false);
  }
  if (resume) do_accept();  // an fd is free again
}

// make_room() runs when accept found no free fd: pause accepting and shut the oldest
// idle connection down (its recv completes, finish() closes it and resumes accepting).
void make_room() {
  std::lock_guard lk(fd_mutex);
  accept_paused = true;
  if (idle_list.empty()) return;  // every connection is busy: the next to close resumes
  connection* victim = idle_list.front();
  idle_list.pop_front();
  victim->idle = false;
  ::shutdown(victim->fd, SHUT_RDWR);  // still open: finish() takes it out of the list first
  shed.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
}

// failed() counts a recv/send that failed: mostly resets by a client closing with a
// response unread (wrk does when it stops); not a peer's close, nor the shutdown's cancel.
void failed(int err) {
  if (err == -ECANCELED) return;
  errors.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  int none = 0;
  // relaxed: a statistic; the CAS keeps the first one.
  first_error.compare_exchange_strong(none, -err, std::memory_order_relaxed);
}

void on_sent(connection* c, int n) {
  if (n <= 0) {
    failed(n == 0 ? -EPIPE : n);
    return finish(c);
  }
  c->sent += static_cast<std::size_t>(n);
  if (c->sent < c->out.size()) {  // short send: the rest
    if (io->send(c->fd, c->out.data() + c->sent, static_cast<unsigned>(c->out.size() - c->sent),
                 MSG_NOSIGNAL, [c](int r) { on_sent(c, r); }) != 0)
      finish(c);
    return;
  }
  c->out.clear();
  c->sent = 0;
  if (c->close_after) return finish(c);
  do_recv(c);
}

void on_recv(connection* c, int n) {
  set_idle(c, false);
  if (n < 0) failed(n);
  if (n <= 0) return finish(c);  // closed by the peer, an error, or -ECANCELED at exit
  c->used += static_cast<std::size_t>(n);
  std::size_t at = 0;
  for (;;) {  // every complete request in the buffer (pipelining)
    http::request req;
    const auto r = http::parse({c->in + at, c->used - at}, req);
    if (r == http::parse_result::incomplete) break;
    if (r == http::parse_result::too_large) {  // 413: it cannot fit the buffer
      http::respond_too_large(c->out);
      requests.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
      c->close_after = true;
      break;
    }
    if (!http::respond_metrics(r == http::parse_result::bad ? nullptr : &req, c->out))
      http::respond(r == http::parse_result::bad ? nullptr : &req, c->out);
    requests.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
    if (r == http::parse_result::bad || !req.keep_alive) {
      c->close_after = true;
      break;
    }
    at += req.size;
  }
  std::memmove(c->in, c->in + at, c->used - at);
  c->used -= at;
  if (c->out.empty()) return do_recv(c);
  if (io->send(c->fd, c->out.data(), static_cast<unsigned>(c->out.size()), MSG_NOSIGNAL,
               [c](int r) { on_sent(c, r); }) != 0)
    finish(c);
}

void do_recv(connection* c) {
  if (c->used == 0) set_idle(c, true);  // between requests: may be closed to make room
  if (io->recv(c->fd, c->in + c->used, static_cast<unsigned>(sizeof c->in - c->used), 0,
               [c](int n) { on_recv(c, n); }) != 0)
    finish(c);
}

void do_accept() {
  (void)io->accept(listener, [](int fd) {
    if (fd == -ECANCELED) return;  // the server is stopping
    if (fd == -EMFILE || fd == -ENFILE) return make_room();  // no spinning: see make_room()
    if (fd >= 0) {
      connections.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
      const int one = 1;
      (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      do_recv(new connection(fd));
    }
    do_accept();
  });
}

int open_listener(long& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 1024) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("http_server: listen");
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  server_args args;
  if (!parse_server_args(argc, argv, "http_server", args)) return 2;
  long port = args.port;
  const long churn_ms = args.churn_ms, seconds = args.seconds;
  // SIGINT/SIGTERM are taken by sigtimedwait() below; every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  const auto failed = [&ec](const char* what) {
    std::fprintf(stderr, "http_server: %s: %s\n", what, ec.message().c_str());
    return 1;
  };
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return failed("runtime::create");
  http::metrics_runtime = rt.get();  // GET /metrics reports on it
  auto state = hotcore::io_uring_state::install(*rt, ec);
  if (!state) return failed("io_uring_state::install");
  auto ctx = hotcore::io_context::create(*state, ec);
  if (!ctx) return failed("io_context::create");
  if ((listener = open_listener(port)) < 0) return 1;
  io = ctx.get();
  for (const unsigned core : rt->cores())  // one accept in flight per core, from that core
    (void)rt->submit_on(core, [] { do_accept(); });
  std::printf("http_server: listening on 127.0.0.1:%ld, %zu cores, churn every %ld ms\n", port,
              rt->cores().size(), churn_ms);
  std::fflush(stdout);

  core_churn churn(*rt, churn_ms);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(seconds > 0 ? seconds : 1L << 30);
  for (;;) {  // until a stop signal or the deadline (EINTR: io_uring task work, go on)
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds(0)) break;
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(left);
    const timespec ts{static_cast<time_t>(s.count()),
                      static_cast<long>(std::chrono::nanoseconds(left - s).count())};
    if (sigtimedwait(&stop_signals, nullptr, &ts) >= 0 || errno == EAGAIN) break;
  }
  churn.stop();
  const hotcore::io_stats st = ctx->stats();
  ctx.reset();  // cancels the pending accepts and recvs; their continuations close up
  ::close(listener);
  std::printf("http_server: %ld requests, %ld connections, %ld core down+up cycles, "
              "%llu operations re-issued on another core, %ld recv/send failed, %ld idle "
              "connections closed at the fd limit%s%s\n",
              requests.load(), connections.load(), churn.cycles(),
              static_cast<unsigned long long>(st.reissued), errors.load(), shed.load(),
              first_error.load() != 0 ? ", first: " : "",
              first_error.load() != 0 ? std::strerror(first_error.load()) : "");
  return 0;
}
