// SPDX-License-Identifier: MIT
// examples/http_server.cpp — an HTTP/1.1 keep-alive server on hotcore's io_uring rings
// (examples/http_connections.h): its worker cores follow the cgroup's CPU quota unless
// --no-follow; GET /metrics reports the runtime and the cgroup's throttling; with
// --churn-ms M a core goes down and comes back every M ms while it serves (a leaving
// core's pending operations move to another ring). SIGINT, SIGTERM and SIGHUP stop it.
//   http_server [--port P] [--churn-ms M] [--seconds S] [--header-timeout-ms T]
//               [--idle-timeout-ms T] [--no-follow]                  (P 0: any free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotcore/hotcore.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "core_churn.h"
#include "http_connections.h"
#include "loopback_listener.h"
#include "server_flags.h"

namespace {

// open_listener() listens on 127.0.0.1:port (0: any free port, written back).
int open_listener(long& port) {
  const int fd = http::open_loopback_listener(port, 0, 1024);
  if (fd < 0) std::fprintf(stderr, "http_server: listen: %s\n", std::strerror(-fd));
  return fd;
}

// follow_quota() starts the quota follower. Without a cgroup limit it follows nothing and
// the server runs on every core; when it cannot start, the server runs without it.
std::unique_ptr<hotcore::quota_follower> follow_quota(hotcore::runtime& rt) {
  hotcore::quota_follower_options opts;
  opts.on_error = [](const hotcore::cgroup_error& e) {  // the last good target is kept
    std::fprintf(stderr, "http_server: quota: %s\n", e.message.c_str());
  };
  std::error_code ec;
  auto follower = hotcore::quota_follower::create(rt, opts, ec);
  const int r = follower ? follower->enable() : -ec.value();
  if (r != 0) {
    std::fprintf(stderr, "http_server: not following the CPU quota: %s\n", std::strerror(-r));
    return nullptr;
  }
  return follower;
}

// serve() sweeps the deadlines every 100 ms until a stop signal or `seconds` (0: none).
void serve(const sigset_t& stop_signals, long seconds) {
  using server::steady;
  const auto until = steady::now() + std::chrono::seconds(seconds);
  constexpr auto tick = std::chrono::milliseconds(100);
  for (;;) {
    const auto now = steady::now();
    if (seconds > 0 && now >= until) return;
    server::sweep(now);
    const auto wait = seconds > 0 ? std::min<steady::duration>(until - now, tick) : tick;
    const timespec ts{0, static_cast<long>(std::chrono::nanoseconds(wait).count())};
    if (sigtimedwait(&stop_signals, nullptr, &ts) >= 0) return;
    // EAGAIN: the tick passed; EINTR: io_uring task work; go on either way.
  }
}

}  // namespace

int main(int argc, char** argv) {
  server::flags flags;
  if (!server::parse_flags(argc, argv, "http_server", server::flag_set::http, flags)) return 2;
  server::header_timeout = std::chrono::milliseconds(flags.header_timeout_ms);
  server::idle_timeout = std::chrono::milliseconds(flags.idle_timeout_ms);
  // The stop signals are taken by sigtimedwait() in serve(); every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, s);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  const auto failed = [&ec](const char* what) {
    std::fprintf(stderr, "http_server: %s: %s\n", what, ec.message().c_str());
    return 1;
  };
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return failed("runtime::create");
  http::metrics_runtime = rt.get();  // GET /metrics reports on it
  auto follower = flags.follow ? follow_quota(*rt) : nullptr;
  auto state = hotcore::io_uring_state::install(*rt, ec);
  if (!state) return failed("io_uring_state::install");
  auto ctx = hotcore::io_context::create(*state, ec);
  if (!ctx) return failed("io_context::create");
  if ((server::listener = open_listener(flags.port)) < 0) return 1;
  server::io = ctx.get();
  for (const unsigned core : rt->cores())  // one accept in flight per core, from that core
    (void)rt->submit_on(core, [] { server::do_accept(); });
  std::printf("http_server: listening on 127.0.0.1:%ld, %zu cores (%zu up), churn every %ld ms, "
              "%s the CPU quota\n",
              flags.port, rt->cores().size(), rt->online_cores().size(), flags.churn_ms,
              follower ? "following" : "not following");
  std::fflush(stdout);

  core_churn churner(*rt, flags.churn_ms);
  serve(stop_signals, flags.seconds);
  churner.stop();
  const long cycles = churner.cycles();
  const hotcore::io_stats st = ctx->stats();
  ctx.reset();  // cancels the pending accepts and recvs; their continuations close up
  ::close(server::listener);
  follower.reset();  // before the runtime
  const int first = server::first_error.load();
  std::printf("http_server: %ld requests, %ld connections, %ld core down+up cycles, "
              "%llu operations re-issued on another core, %ld recv/send failed, %ld "
              "connections closed at the fd limit, %ld at their deadline%s%s\n",
              server::requests.load(), server::connections.load(), cycles,
              static_cast<unsigned long long>(st.reissued), server::errors.load(),
              server::shed.load(), server::timed_out.load(), first != 0 ? ", first: " : "",
              first != 0 ? std::strerror(first) : "");
  return 0;
}
