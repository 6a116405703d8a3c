// SPDX-License-Identifier: MIT
// tests/io_churn_test.cpp — io_uring operations complete exactly once across core down/up:
// reads on pipes, recvs on socket pairs and reads on eventfds stay in flight while cores
// leave and come back; every operation's completions are counted, and every stream's
// bytes arrive in order, none lost, none twice.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "io_test_support.h"

using namespace hotcore_test;

namespace {

enum class kind { pipe, socket, eventfd };

// stream is one channel: the writer puts bytes 0, 1, 2, ... (mod 256) into it, one at a
// time; a chain of one-byte reads (each re-armed by the previous one's continuation, on
// whatever core runs it) takes them out.
struct stream {
  kind k = kind::pipe;
  int rfd = -1;
  int wfd = -1;
  char byte = 0;
  std::uint64_t count = 0;
  std::atomic<int> consumed{0};
  int written = 0;  // writer thread only
};

struct churn_test {
  static constexpr int per_stream = 600;
  io_setup s;
  std::unique_ptr<io_context> ctx = s.context();
  std::deque<stream> streams;
  std::vector<std::atomic<int>> completions = std::vector<std::atomic<int>>(1 << 16);
  std::atomic<int> next_id{0};
  std::atomic<int> done_streams{0};
  std::mutex mu;
  std::vector<std::string> errors;

  void error(std::string e) {
    std::lock_guard lk(mu);
    if (errors.size() < 20) errors.push_back(std::move(e));
  }

  void open_streams(int each) {
    for (int i = 0; i < each; ++i) {
      stream& p = streams.emplace_back();
      int fds[2];
      REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
      p.rfd = fds[0];
      p.wfd = fds[1];
      stream& q = streams.emplace_back();
      q.k = kind::socket;
      REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
      q.rfd = fds[0];
      q.wfd = fds[1];
      stream& e = streams.emplace_back();
      e.k = kind::eventfd;
      e.rfd = e.wfd = eventfd(0, EFD_CLOEXEC);
      REQUIRE(e.rfd >= 0);
    }
  }

  // arm() issues the stream's next read; its continuation checks it and arms the next.
  void arm(stream& st) {
    const int id = next_id.fetch_add(1);
    if (id >= static_cast<int>(completions.size())) {
      error("too many operations");
      return;
    }
    auto done = [this, &st, id](int res) { completed(st, id, res); };
    int ret = 0;
    switch (st.k) {
      case kind::pipe: ret = ctx->read(st.rfd, &st.byte, 1, 0, done); break;
      case kind::socket: ret = ctx->recv(st.rfd, &st.byte, 1, 0, done); break;
      case kind::eventfd: ret = ctx->read(st.rfd, &st.count, 8, 0, done); break;
    }
    if (ret != 0) error("submit: " + std::to_string(ret));
  }

  void completed(stream& st, int id, int res) {
    if (completions[static_cast<std::size_t>(id)].fetch_add(1) != 0)
      error("operation " + std::to_string(id) + " completed twice");
    const int have = st.consumed.load();
    if (st.k == kind::eventfd) {
      if (res != 8 || st.count == 0) return error("eventfd read: " + std::to_string(res));
      st.consumed.store(have + static_cast<int>(st.count));
    } else {
      if (res != 1) return error("read/recv: " + std::to_string(res));
      if (st.byte != static_cast<char>(have % 256))
        error("byte " + std::to_string(have) + " out of order");
      st.consumed.store(have + 1);
    }
    if (st.consumed.load() < per_stream) arm(st);
    else done_streams++;
  }

  // write_step() writes one more byte (or eventfd count) to every stream that has fewer
  // than 3 unread; true when everything is written.
  bool write_step() {
    bool all = true;
    for (stream& st : streams) {
      if (st.written == per_stream) continue;
      all = false;
      if (st.written - st.consumed.load() >= 3) continue;
      ssize_t r;
      if (st.k == kind::eventfd) {
        const std::uint64_t one = 1;
        r = ::write(st.wfd, &one, sizeof one) == 8 ? 1 : -1;
      } else {
        const char b = static_cast<char>(st.written % 256);
        r = ::write(st.wfd, &b, 1);
      }
      if (r == 1) ++st.written;
      else error("write failed");
    }
    return all;
  }

  void close_streams() {
    for (stream& st : streams) {
      ::close(st.rfd);
      if (st.wfd != st.rfd) ::close(st.wfd);
    }
  }
};

}  // namespace

TEST_CASE("io_uring operations complete exactly once across core down/up: reads on pipes, "
          "recvs on sockets and eventfd reads in flight while cores leave and come back") {
  NEEDS_TWO_CPUS();
  churn_test t;
  const std::vector<unsigned> cores = t.s.rt->cores();
  REQUIRE(cores.size() >= 2);
  const int fds = fd_count();
  t.open_streams(12);
  // Half the chains start from outside (a core's queue), half from tasks (a ring directly).
  for (std::size_t i = 0; i < t.streams.size(); ++i) {
    stream& st = t.streams[i];
    if (i % 2 == 0) t.arm(st);
    else REQUIRE(t.s.rt->submit_on(cores[i % cores.size()], [&t, &st] { t.arm(st); }) == 0);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> cycles{0};
  std::thread churn([&] {
    for (unsigned i = 0; !stop.load(); ++i) {
      const unsigned core = cores[i % cores.size()];
      if (t.s.rt->core_down(core) != 0) continue;
      // Not a wait: the core stays down a while, so operations are issued meanwhile.
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      REQUIRE(t.s.rt->core_up(core) == 0);
      cycles++;
    }
  });
  const int total = static_cast<int>(t.streams.size());
  const bool finished = wait_until([&] {
    (void)t.write_step();
    // Not a wait: the pace of the data, so that reads sit in the rings while cores move.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return t.done_streams.load() == total;
  });
  stop = true;
  churn.join();
  CHECK(finished);
  CHECK(t.errors == std::vector<std::string>{});
  const int issued = t.next_id.load();
  int once = 0;
  for (int i = 0; i < issued; ++i) once += t.completions[static_cast<std::size_t>(i)].load() == 1;
  CHECK(once == issued);
  const io_stats st = t.ctx->stats();
  CHECK(st.submitted == static_cast<std::uint64_t>(issued));
  CHECK(st.completed == static_cast<std::uint64_t>(issued));
  MESSAGE(issued << " operations, " << st.reissued << " re-issued on another core, "
                 << cycles.load() << " core down+up cycles");
  CHECK(st.reissued > 0);  // cores really left with operations in flight
  CHECK(cycles.load() > 10);
  t.ctx.reset();
  t.close_streams();
  CHECK(fd_count() == fds - 2 * static_cast<int>(cores.size()));  // the rings went too
}

TEST_CASE("a read whose data arrives while its core's cancel runs completes exactly once: "
          "with the data (it completed first) or re-issued elsewhere (the cancel won)") {
  NEEDS_TWO_CPUS();
  io_setup s;
  const std::vector<unsigned> cores = s.rt->cores();
  REQUIRE(cores.size() >= 2);
  auto ctx = s.context();
  const unsigned core = cores.back();
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  constexpr int rounds = 200;
  int delivered_first = 0, reissued = 0;
  for (int i = 0; i < rounds; ++i) {
    CAPTURE(i);
    char byte = 0;
    read_record rec;
    read_from_task_on(*s.rt, *ctx, core, p[0], &byte, 1, rec);
    const std::uint64_t before = ctx->stats().reissued;
    const char want = static_cast<char>('a' + i % 26);
    std::thread writer([&] { REQUIRE(::write(p[1], &want, 1) == 1); });
    REQUIRE(s.rt->core_down(core) == 0);
    writer.join();
    REQUIRE(wait_until([&] { return rec.calls.load() >= 1; }));
    REQUIRE(s.rt->core_up(core) == 0);
    CHECK(rec.calls.load() == 1);
    CHECK(rec.result.load() == 1);
    CHECK(byte == want);
    if (ctx->stats().reissued == before) ++delivered_first;
    else ++reissued;
  }
  // The count follows the last continuation's return.
  CHECK(wait_until([&] { return ctx->stats().completed == static_cast<std::uint64_t>(rounds); }));
  MESSAGE(delivered_first << " completed before the cancel, " << reissued
                          << " cancelled and re-issued");
  ::close(p[0]);
  ::close(p[1]);
}
