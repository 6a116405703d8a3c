// SPDX-License-Identifier: MIT
// examples/http_connections.h — the connections of examples/http_server: each is a chain
// of recv -> parse -> send -> recv operations on hotcore's io_uring rings. Slow clients are
// shed: a request head must arrive within the header deadline and a keep-alive connection
// may wait for its next request only until the idle deadline (sweep() closes the late
// ones, 408 to a late head); at the fd limit the connection that has waited longest in
// recv is closed to make room; the last answer (400, 408, 413, 414, Connection: close)
// is followed by a half-close and a bounded drain, so that the client reads it instead of
// a reset.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotcore/io_context.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <utility>

#include "http_request.h"
#include "metrics_route.h"

namespace server {

using steady = std::chrono::steady_clock;

inline hotcore::io_context* io;  // the rings
inline int listener = -1;
inline steady::duration header_timeout = std::chrono::seconds(10);
inline steady::duration idle_timeout = std::chrono::seconds(60);
// Statistics; relaxed everywhere: counts, read once at exit.
inline std::atomic<long> requests{0}, connections{0}, errors{0};
inline std::atomic<long> shed{0};       // connections closed to make room at the fd limit
inline std::atomic<long> timed_out{0};  // connections closed at their header or idle deadline
inline std::atomic<int> first_error{0};  // the first errno a recv/send failed with

struct connection {
  explicit connection(int socket) : fd(socket), head_started(steady::now()) {}
  int fd;
  std::size_t used = 0;  // bytes in `in`
  char in[http::max_request];
  std::string out;
  std::size_t sent = 0;
  bool close_after = false;  // the answer being sent is the last
  bool lingering = false;    // the last answer is sent: draining until the client's FIN
  bool fresh = true;         // no request answered yet
  steady::time_point head_started;  // when the head being read began (its first byte)
  // Guarded by wait_mutex: in `waiting` (a recv in flight), its place there, its deadline.
  bool waiting = false;
  std::list<connection*>::iterator at;
  steady::time_point deadline;
};

// waiting lists the connections with a recv in flight, longest waiting first: the ones
// sweep() and make_room() may close (by shutdown(): the recv completes, finish() closes).
inline std::mutex wait_mutex;
inline std::list<connection*> waiting;
inline bool accept_paused = false;  // guarded by wait_mutex

void do_accept();
void do_recv(connection* c);

// set_waiting() puts c in the list with its deadline, or takes it out (deadline unused).
inline void set_waiting(connection* c, bool wait, steady::time_point deadline = {}) {
  std::lock_guard lk(wait_mutex);
  if (wait) c->deadline = deadline;
  if (c->waiting == wait) return;
  c->waiting = wait;
  if (wait) c->at = waiting.insert(waiting.end(), c);
  else waiting.erase(c->at);
}

inline void finish(connection* c) {
  set_waiting(c, false);
  ::close(c->fd);
  delete c;
  bool resume;
  {
    std::lock_guard lk(wait_mutex);
    resume = std::exchange(accept_paused, false);
  }
  if (resume) do_accept();  // an fd is free again
}

// drop() takes c out of the list and shuts it down (wait_mutex held): its recv completes.
inline void drop(connection* c) {
  waiting.erase(c->at);
  c->waiting = false;
  ::shutdown(c->fd, SHUT_RDWR);  // still open: finish() takes the lock before it closes
}

// make_room() runs when accept found no free fd: pause accepting and close the connection
// that has waited longest in recv (idle, a slow head, or a drain); finish() resumes.
inline void make_room() {
  std::lock_guard lk(wait_mutex);
  accept_paused = true;
  if (waiting.empty()) return;  // every connection is busy: the next to close resumes
  drop(waiting.front());
  shed.fetch_add(1, std::memory_order_relaxed);
}

// sweep() closes the connections whose deadline has passed; one whose head came too
// slowly gets 408 first (a non-blocking send of a few bytes: it fits the socket buffer).
inline void sweep(steady::time_point now) {
  std::lock_guard lk(wait_mutex);
  for (auto it = waiting.begin(); it != waiting.end();) {
    connection* c = *it++;
    if (c->deadline > now) continue;
    if (!c->lingering && (c->used > 0 || c->fresh)) {
      std::string late;
      http::respond_closing(late, "408 Request Timeout");
      (void)::send(c->fd, late.data(), late.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    drop(c);
    timed_out.fetch_add(1, std::memory_order_relaxed);
  }
}

// failed() counts a recv/send that failed: mostly resets by a client closing with a
// response unread (wrk does when it stops); not a peer's close, nor the shutdown's cancel.
inline void failed(int err) {
  if (err == -ECANCELED) return;
  errors.fetch_add(1, std::memory_order_relaxed);
  int none = 0;
  first_error.compare_exchange_strong(none, -err, std::memory_order_relaxed);  // the first
}

// linger() follows the last answer: a half-close, then reads are discarded until the
// client closes or the header deadline passes, so that closing does not reset the answer.
inline void linger(connection* c) {
  ::shutdown(c->fd, SHUT_WR);
  c->lingering = true;
  c->used = 0;
  c->head_started = steady::now();  // the drain's deadline counts from here
  do_recv(c);
}

inline void on_sent(connection* c, int n) {
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
  if (c->close_after) return linger(c);
  if (c->used > 0) c->head_started = steady::now();  // a pipelined request has begun
  do_recv(c);
}

// answer() appends the answers to every complete request in the buffer (pipelining) and
// keeps the bytes of an incomplete one.
inline void answer(connection* c) {
  std::size_t at = 0;
  for (;;) {
    http::request req;
    const auto r = http::parse({c->in + at, c->used - at}, req);
    if (r == http::parse_result::incomplete) break;
    requests.fetch_add(1, std::memory_order_relaxed);
    c->fresh = false;
    if (r != http::parse_result::complete) {  // 400, 413, 414: and close
      http::respond_refused(r, c->out);
      c->close_after = true;
      break;
    }
    if (!http::respond_metrics(&req, c->out)) http::respond(&req, c->out);
    if (!req.keep_alive) {
      c->close_after = true;
      break;
    }
    at += req.size;
  }
  std::memmove(c->in, c->in + at, c->used - at);
  c->used -= at;
}

inline void on_recv(connection* c, int n) {
  set_waiting(c, false);
  if (n < 0) failed(n);
  if (n <= 0) return finish(c);  // closed by the peer, an error, or -ECANCELED at exit
  if (c->lingering) return do_recv(c);  // the drain: the bytes are dropped
  if (c->used == 0) c->head_started = steady::now();
  c->used += static_cast<std::size_t>(n);
  answer(c);
  if (c->out.empty()) return do_recv(c);
  if (io->send(c->fd, c->out.data(), static_cast<unsigned>(c->out.size()), MSG_NOSIGNAL,
               [c](int r) { on_sent(c, r); }) != 0)
    finish(c);
}

// do_recv() waits for bytes: until the idle deadline between requests, the header
// deadline (from the head's first byte, or the accept) within one, or the drain's.
inline void do_recv(connection* c) {
  const bool between = c->used == 0 && !c->fresh && !c->lingering;
  set_waiting(c, true, between ? steady::now() + idle_timeout : c->head_started + header_timeout);
  const std::size_t at = c->lingering ? 0 : c->used;
  if (io->recv(c->fd, c->in + at, static_cast<unsigned>(sizeof c->in - at), 0,
               [c](int n) { on_recv(c, n); }) != 0)
    finish(c);
}

inline void do_accept() {
  (void)io->accept(listener, [](int fd) {
    if (fd == -ECANCELED) return;  // the server is stopping
    if (fd == -EMFILE || fd == -ENFILE) return make_room();  // no spinning: see make_room()
    if (fd >= 0) {
      connections.fetch_add(1, std::memory_order_relaxed);
      const int one = 1;
      (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      do_recv(new connection(fd));
    }
    do_accept();
  });
}

}  // namespace server
