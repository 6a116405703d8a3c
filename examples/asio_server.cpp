// SPDX-License-Identifier: MIT
// examples/asio_server.cpp — an Asio HTTP/1.1 keep-alive server: its sockets live in an
// asio::io_context (one thread runs it), its handler coroutines run on hotcore's worker
// cores through hotcore::asio_context's executor, and the cores follow the CPU quota.
//   asio_server [--port P] [--churn-ms M] [--seconds S]    (P 0: any free port)
#include <hotcore/asio.h>
#include <hotcore/hotcore.h>

#include <asio.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "core_churn.h"
#include "server_flags.h"

using asio::ip::tcp;
namespace {

std::atomic<long> requests{0}, connections{0}, off_core{0};

// session() answers each request of one connection; it runs on the worker cores, and its
// socket's operations complete in the io_context. `work` keeps io.run() going meanwhile.
asio::awaitable<void> session(tcp::socket socket, hotcore::runtime& rt,
                              asio::executor_work_guard<asio::any_io_executor> work) {
  static const std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n";
  std::string in;
  std::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  for (;;) {
    const std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(in),
                                                          "\r\n\r\n", token);
    if (ec) break;  // the client closed the connection (or reset it)
    if (rt.this_core() < 0) off_core.fetch_add(1, std::memory_order_relaxed);  // never expected
    in.erase(0, n);
    co_await asio::async_write(socket, asio::buffer(reply), token);
    if (ec) break;
    requests.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  }
  (void)work;
}

// accept() hands each connection to a session coroutine on the hotcore executor.
asio::awaitable<void> accept(tcp::acceptor& acceptor, hotcore::asio_context& cores) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // closed: the server stops
    connections.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(cores.get_executor(),
                   session(std::move(socket), cores.get_runtime(),
                           asio::make_work_guard(acceptor.get_executor())),
                   asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  server::flags args;
  if (!server::parse_flags(argc, argv, "asio_server", server::flag_set::common, args)) return 2;
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return std::fprintf(stderr, "asio_server: runtime: %s\n", ec.message().c_str()), 1;
  auto follower = hotcore::quota_follower::create(*rt, {}, ec);  // cores follow the quota
  if (!follower) return std::fprintf(stderr, "asio_server: quota: %s\n", ec.message().c_str()), 1;
  if (int r = follower->enable(); r < 0)
    return std::fprintf(stderr, "asio_server: quota: %s\n", std::strerror(-r)), 1;

  asio::io_context io(1);           // the sockets; declared first, so it is destroyed last
  hotcore::asio_context cores(*rt);  // its destructor waits for the sessions' last functions
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"),
                              static_cast<unsigned short>(args.port)});
  std::printf("asio_server: listening on 127.0.0.1:%u, %zu cores, churn every %ld ms\n",
              acceptor.local_endpoint().port(), rt->cores().size(), args.churn_ms);
  std::fflush(stdout);
  asio::co_spawn(io, accept(acceptor, cores), asio::detached);

  // SIGINT, SIGTERM or --seconds close the acceptor; io.run() returns once every session
  // has ended (its client closed the connection).
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer deadline(io, std::chrono::seconds(args.seconds));
  auto stop = [&](std::error_code e, auto...) {
    if (e == asio::error::operation_aborted) return;
    acceptor.close();
    signals.cancel();
    deadline.cancel();
  };
  signals.async_wait(stop);
  if (args.seconds > 0) deadline.async_wait(stop);
  core_churn churn(*rt, args.churn_ms);
  io.run();
  churn.stop();
  std::printf("asio_server: %ld requests, %ld connections, %ld core down+up cycles, %ld "
              "handlers off the worker cores\n",
              requests.load(), connections.load(), churn.cycles(), off_core.load());
  return off_core.load() == 0 ? 0 : 1;
}
