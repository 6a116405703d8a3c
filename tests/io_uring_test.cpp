// SPDX-License-Identifier: MIT
// tests/io_uring_test.cpp — the io_uring subsystem's state "io/uring:online": one ring per
// online core made and closed on the core's hotplug thread, operations completing once as
// tasks, and fault injection at the state (on each core, and in add_instance on core N)
// and for real (RLIMIT_NOFILE) leaving no ring and no fd behind.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <set>
#include <vector>

#include "io_test_support.h"

using namespace hotcore_test;

namespace {

// ring_fds() counts the fds of this process that are io_uring rings.
int ring_fds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().find("io_uring") != std::string::npos) ++n;
  }
  return n;
}

// read_on_core() reads one byte from a pipe with a read submitted by a task on `core` (so
// on that core's ring) and tells whether it completed once with that byte.
bool read_on_core(io_setup& s, io_context& ctx, unsigned core, char byte) {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  char b = 0;
  std::atomic<int> got{0};
  REQUIRE(s.rt->submit_on(core, [&] {
    REQUIRE(ctx.read(p[0], &b, 1, 0, [&](int r) { got += r; }) == 0);
  }) == 0);
  REQUIRE(::write(p[1], &byte, 1) == 1);
  const bool done = wait_until([&] { return got.load() == 1; });
  ::close(p[0]);
  ::close(p[1]);
  return done && b == byte;
}

// warm() makes each worker's own wake eventfd exist (attach_poller creates it on the first
// attach and keeps it for the runtime's life), so fd counts compare like with like.
void warm(io_setup& s) { (void)s.context(); }

}  // namespace

TEST_CASE("io_uring_state registers \"io/uring:online\" with setup_state_multi in the "
          "ONLINE dynamic range, and reports the probed kernel features") {
  io_setup s;
  const int st = s.io->state();
  CHECK(st >= ONLINE_DYN);
  CHECK(st < ONLINE_DYN_END);
  CHECK(state_named(*s.rt, "io/uring:online") == st);
  const io_features& f = s.io->features();
  // Linux 6.18: all of them are there; the ones used are in setup_flags.
  CHECK(f.coop_taskrun);
  CHECK(f.submit_all);
  CHECK(f.single_issuer);
  CHECK(f.defer_taskrun);
  CHECK(f.registered_ring_fd);
  CHECK(f.r_disabled);
  // So the rings are single-issuer (enabled on the core's worker) with deferred task work.
  CHECK((f.setup_flags & IORING_SETUP_R_DISABLED) != 0);
  CHECK((f.setup_flags & IORING_SETUP_SINGLE_ISSUER) != 0);
  CHECK((f.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0);
  CHECK((f.setup_flags & IORING_SETUP_TASKRUN_FLAG) != 0);
  CHECK((f.setup_flags & IORING_SETUP_COOP_TASKRUN) == 0);
  s.io.reset();
  CHECK(state_named(*s.rt, "io/uring:online") == -1);
}

TEST_CASE("an io_context has one ring per online core, made on that core's hotplug thread, "
          "and closing it leaves no ring and no fd") {
  io_setup s;
  warm(s);
  const int fds = fd_count();
  const int rings = ring_fds();
  const auto n = static_cast<int>(s.rt->cores().size());
  s.rt->set_trace(true);
  auto ctx = s.context();
  CHECK(ctx->rings() == s.rt->cores().size());
  CHECK(ring_fds() == rings + n);
  CHECK(fd_count() == fds + 2 * n);  // a ring and its eventfd per core
  std::set<unsigned> cores_up;
  for (const trace_event& ev : s.rt->take_trace())
    if (ev.state == s.io->state()) {
      CHECK(ev.on_hotplug_thread);
      CHECK(ev.ran_on_cpu == static_cast<int>(ev.core));
      CHECK(ev.result == 0);
      cores_up.insert(ev.core);
    }
  CHECK(cores_up.size() == s.rt->cores().size());
  ctx.reset();
  CHECK(ring_fds() == rings);
  CHECK(fd_count() == fds);
}

TEST_CASE("a core going down keeps its ring, idle, and coming up hands the same ring back: "
          "no fd comes or goes, the ring serves reads again, the io_context closes it") {
  NEEDS_TWO_CPUS();
  io_setup s;
  REQUIRE(s.rt->cores().size() >= 2);
  const unsigned core = s.rt->cores().back();
  warm(s);
  const int fds_before = fd_count();
  const int rings_before = ring_fds();
  auto ctx = s.context();
  const int fds = fd_count();
  for (int cycle = 0; cycle < 3; ++cycle) {
    CAPTURE(cycle);
    REQUIRE(s.rt->core_down(core) == 0);
    CHECK(ctx->rings() == s.rt->cores().size() - 1);
    CHECK(fd_count() == fds);
    REQUIRE(s.rt->core_up(core) == 0);
    CHECK(ctx->rings() == s.rt->cores().size());
    CHECK(fd_count() == fds);
    // The ring handed back takes a read from a task on that core and completes it.
    CHECK(read_on_core(s, *ctx, core, 'r'));
  }
  // Closed with the io_context, also while its core is offline.
  REQUIRE(s.rt->core_down(core) == 0);
  ctx.reset();
  CHECK(ring_fds() == rings_before);
  CHECK(fd_count() == fds_before);
  REQUIRE(s.rt->core_up(core) == 0);
}

TEST_CASE("a read submitted from a task completes once, and its continuation runs as a task") {
  io_setup s;
  for (const unsigned core : s.rt->cores()) {
    CAPTURE(core);
    auto ctx = s.context();
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    char buf[8] = {};
    read_record rec;
    read_from_task_on(*s.rt, *ctx, core, p[0], buf, sizeof buf, rec);
    REQUIRE(::write(p[1], "hello", 5) == 5);
    REQUIRE(wait_until([&] { return rec.calls.load() == 1; }));
    REQUIRE(wait_until([&] { return ctx->stats().completed == 1; }));
    CHECK(ctx->stats().submitted == 1);
    ctx.reset();  // returns after every continuation ran: a second one would have by now
    CHECK(rec.calls.load() == 1);
    CHECK(rec.result.load() == 5);
    CHECK(std::string(buf, 5) == "hello");
    CHECK(rec.ran_on.load() >= 0);  // on a worker: `core`, unless an idle core stole the task
    ::close(p[0]);
    ::close(p[1]);
  }
}

TEST_CASE("an operation submitted from a task on core C waits on C's ring: when C goes down "
          "it is cancelled there, re-issued on another core's ring, and completes once") {
  NEEDS_TWO_CPUS();
  io_setup s;
  REQUIRE(s.rt->cores().size() >= 2);
  for (const unsigned core : s.rt->cores()) {
    CAPTURE(core);
    auto ctx = s.context();
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    char byte = 0;
    read_record rec;
    read_from_task_on(*s.rt, *ctx, core, p[0], &byte, 1, rec);
    const std::uint64_t before = ctx->stats().reissued;
    REQUIRE(s.rt->core_down(core) == 0);
    CHECK(ctx->stats().reissued == before + 1);  // it was on this core's ring, and only there
    CHECK(rec.calls.load() == 0);
    REQUIRE(::write(p[1], "z", 1) == 1);
    CHECK(wait_until([&] { return rec.calls.load() == 1; }));
    REQUIRE(s.rt->core_up(core) == 0);
    ctx.reset();  // returns after every continuation ran: a second one would have by now
    CHECK(rec.calls.load() == 1);
    CHECK(rec.result.load() == 1);
    CHECK(byte == 'z');
    ::close(p[0]);
    ::close(p[1]);
  }
}

TEST_CASE("operations from a thread outside the pool go to some core's ring: write, read, "
          "send, recv, accept and poll each complete once") {
  io_setup s;
  auto ctx = s.context();
  std::atomic<int> calls{0};
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  char out[4] = {'a', 'b', 'c', 'd'};
  char in[4] = {};
  std::atomic<int> sent{0}, got{0}, polled{0};
  REQUIRE(ctx->poll(sv[1], POLLIN, [&](int r) { polled = r; calls++; }) == 0);
  REQUIRE(ctx->send(sv[0], out, 4, 0, [&](int r) { sent = r; calls++; }) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 2; }));
  REQUIRE(ctx->recv(sv[1], in, 4, 0, [&](int r) { got = r; calls++; }) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 3; }));
  CHECK(sent.load() == 4);
  CHECK(got.load() == 4);
  CHECK((polled.load() & POLLIN) != 0);
  CHECK(std::string(in, 4) == "abcd");

  const int efd = eventfd(0, EFD_CLOEXEC);
  std::uint64_t one = 1, val = 0;
  std::atomic<int> wrote{0}, read{0};
  REQUIRE(ctx->write(efd, &one, sizeof one, 0, [&](int r) { wrote = r; calls++; }) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 4; }));
  REQUIRE(ctx->read(efd, &val, sizeof val, 0, [&](int r) { read = r; calls++; }) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 5; }));
  CHECK(wrote.load() == 8);
  CHECK(read.load() == 8);
  CHECK(val == 1);

  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(lfd, 8) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::atomic<int> accepted{-1};
  REQUIRE(ctx->accept(lfd, [&](int r) { accepted = r; calls++; }) == 0);
  const int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(wait_until([&] { return calls.load() == 6; }));
  CHECK(accepted.load() >= 0);
  ctx.reset();  // returns after every continuation ran: a second one would have by now
  CHECK(calls.load() == 6);
  for (int fd : {sv[0], sv[1], efd, lfd, cfd, accepted.load()}) ::close(fd);
}

TEST_CASE("bad arguments are refused with -EINVAL and the continuation does not run") {
  io_setup s;
  auto ctx = s.context();
  int calls = 0;
  char b[1];
  CHECK(ctx->read(-1, b, 1, 0, [&](int) { calls++; }) == -EINVAL);
  CHECK(ctx->recv(0, b, 1, 0, nullptr) == -EINVAL);
  CHECK(ctx->poll(0, 0, [&](int) { calls++; }) == -EINVAL);
  std::error_code ec;
  CHECK(io_context::create(*s.io, ec, 0) == nullptr);
  CHECK(ec == std::errc::invalid_argument);
  CHECK(calls == 0);
  CHECK(ctx->stats().submitted == 0);
}

TEST_CASE("destroying an io_context with reads in flight cancels them: each continuation "
          "runs once with -ECANCELED before the destructor returns, and no fd is left") {
  io_setup s;
  warm(s);
  const int fds = fd_count();
  constexpr int n = 64;
  std::vector<int> pipes(2 * n);
  for (int i = 0; i < n; ++i) REQUIRE(pipe2(&pipes[2 * i], O_CLOEXEC) == 0);
  std::vector<std::atomic<int>> calls(n);
  std::vector<int> results(n, 0);
  char buf[n];
  {
    auto ctx = s.context();
    for (int i = 0; i < n; ++i)
      REQUIRE(ctx->read(pipes[2 * i], &buf[i], 1, 0, [&, i](int r) {
        results[static_cast<std::size_t>(i)] = r;
        calls[static_cast<std::size_t>(i)]++;
      }) == 0);
  }
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(calls[static_cast<std::size_t>(i)].load() == 1);
    CHECK(results[static_cast<std::size_t>(i)] == -ECANCELED);
  }
  for (int fd : pipes) ::close(fd);
  CHECK(fd_count() == fds);
}

TEST_CASE("fault injection at io/uring:online on each core, both ways: the core rolls back, "
          "keeps its idle ring and makes no other fd, and the context keeps working") {
  io_setup s;
  warm(s);
  auto ctx = s.context();
  const int st = s.io->state();
  for (const unsigned core : s.rt->cores()) {
    CAPTURE(core);
    if (s.rt->cores().size() < 2) break;
    const int fds = fd_count();
    // Up: the ring's startup fails (injected) and the core rolls back to OFFLINE.
    REQUIRE(s.rt->core_down(core) == 0);
    const int fds_down = fd_count();
    CHECK(fds_down == fds);  // the ring stays, idle, while the core is offline
    REQUIRE(s.rt->set_fail(core, st) == 0);
    CHECK(s.rt->core_up(core) == -EAGAIN);
    CHECK(s.rt->state(core) == OFFLINE);
    CHECK(fd_count() == fds_down);
    CHECK(ctx->rings() == s.rt->cores().size() - 1);
    REQUIRE(s.rt->core_up(core) == 0);
    CHECK(fd_count() == fds);
    // Down: the teardown fails (injected, so it did not run): the core rolls back up with
    // its ring still there.
    REQUIRE(s.rt->set_fail(core, st) == 0);
    CHECK(s.rt->core_down(core) == -EAGAIN);
    CHECK(s.rt->state(core) == ONLINE);
    CHECK(ctx->rings() == s.rt->cores().size());
    CHECK(fd_count() == fds);
    // And a read on that core still completes.
    CHECK(read_on_core(s, *ctx, core, 'x'));
  }
}

TEST_CASE("fault injection in add_instance on core N: io_context::create fails with EAGAIN, "
          "the rings made on the cores before N are torn down, no fd is left") {
  io_setup s;
  warm(s);
  const int fds = fd_count();
  const int st = s.io->state();
  for (const unsigned core : s.rt->cores()) {
    CAPTURE(core);
    s.rt->set_trace(true);
    REQUIRE(s.rt->set_fail(core, st) == 0);
    std::error_code ec;
    auto ctx = io_context::create(*s.io, ec);
    CHECK(ctx == nullptr);
    CHECK(ec == std::errc::resource_unavailable_try_again);
    CHECK(fd_count() == fds);
    CHECK(ring_fds() == 0);
    // Each core before N was set up and then torn down (rollback), N failed.
    int ups = 0, downs = 0;
    for (const trace_event& ev : s.rt->take_trace()) {
      if (ev.state != st) continue;
      if (ev.dir == direction::up && !ev.injected) ++ups;
      if (ev.dir == direction::down) {
        ++downs;
        CHECK(ev.rollback);
      }
    }
    CHECK(ups == downs);
    CHECK(ups == static_cast<int>(std::find(s.rt->cores().begin(), s.rt->cores().end(), core) -
                                  s.rt->cores().begin()));
  }
  CHECK(s.context() != nullptr);  // and the state works afterwards
}

TEST_CASE("a ring that cannot get an fd (RLIMIT_NOFILE) fails for real with EMFILE at "
          "every point of the bring-up: nothing is left, and with room it comes up") {
  io_setup s;
  warm(s);
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  // Fill the holes below the highest fd, so the limit decides how many new fds there are.
  std::vector<int> fillers;
  int top = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    top = std::max(top, std::stoi(e.path().filename().string()));
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    fillers.push_back(fd);
    if (fd >= top) break;
  }
  const int base = fd_count();
  // The lowest free fd now lies above every open one: a limit of next + room leaves
  // exactly `room` fds to open.
  const int next = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(next > top);
  ::close(next);
  const auto n = static_cast<int>(s.rt->cores().size());
  int failures = 0;
  bool came_up = false;
  for (int room = 0; room <= 2 * n && !came_up; ++room) {
    CAPTURE(room);
    rlimit lim = saved;
    lim.rlim_cur = static_cast<rlim_t>(next + room);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    std::error_code ec;
    auto ctx = io_context::create(*s.io, ec);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    if (room < 2 * n) {
      CHECK(ctx == nullptr);
      CHECK(ec == std::errc::too_many_files_open);
      CHECK(fd_count() == base);
      ++failures;
    } else {
      CHECK(ctx != nullptr);
      came_up = ctx != nullptr;
      CHECK(fd_count() == base + 2 * n);
    }
  }
  CHECK(failures == 2 * n);
  CHECK(came_up);
  CHECK(fd_count() == base);
  for (int fd : fillers) ::close(fd);
}

TEST_CASE("an io_context made while every core is offline has no ring and refuses operations "
          "with -ENODEV; a core that comes up gets a ring and serves them") {
  auto rt = make_runtime(runtime_options{.cores = {}, .online_at_start = false});
  std::error_code ec;
  auto io = io_uring_state::install(*rt, ec);
  REQUIRE(io != nullptr);
  auto ctx = io_context::create(*io, ec);
  REQUIRE(ctx != nullptr);
  CHECK(ctx->rings() == 0u);
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  char byte = 0;
  std::atomic<int> calls{0};
  CHECK(ctx->read(p[0], &byte, 1, 0, [&](int) { calls++; }) == -ENODEV);
  const unsigned core = rt->cores().front();
  REQUIRE(rt->core_up(core) == 0);
  CHECK(ctx->rings() == 1u);
  REQUIRE(ctx->read(p[0], &byte, 1, 0, [&](int) { calls++; }) == 0);
  REQUIRE(::write(p[1], "k", 1) == 1);
  CHECK(wait_until([&] { return calls.load() == 1; }));
  CHECK(byte == 'k');
  ctx.reset();
  io.reset();
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("a small ring takes more operations than its submission queue holds: from a task "
          "and from outside, 100 reads on a 4-entry ring all complete once") {
  io_setup s;
  std::error_code ec;
  auto ctx = io_context::create(*s.io, ec, 4);
  REQUIRE(ctx != nullptr);
  constexpr int n = 100;
  std::vector<int> fds(4 * n);
  for (int i = 0; i < 2 * n; ++i) REQUIRE(pipe2(&fds[2 * i], O_CLOEXEC) == 0);
  std::vector<std::atomic<int>> calls(2 * n);
  std::vector<char> bytes(2 * n, 0);
  auto read_into = [&](int i) {
    const auto at = static_cast<std::size_t>(i);
    return ctx->read(fds[2 * at], &bytes[at], 1, 0, [&calls, at](int r) {
      if (r == 1) calls[at]++;
    });
  };
  std::atomic<int> refused{0};
  REQUIRE(s.rt->submit_on(s.rt->cores().front(), [&] {
    for (int i = 0; i < n; ++i) refused += read_into(i) != 0;
  }) == 0);
  for (int i = n; i < 2 * n; ++i) REQUIRE(read_into(i) == 0);
  REQUIRE(wait_until([&] { return ctx->stats().submitted == 2u * n; }));
  CHECK(refused.load() == 0);
  for (int i = 0; i < 2 * n; ++i) REQUIRE(::write(fds[2 * static_cast<std::size_t>(i) + 1], "q", 1) == 1);
  CHECK(wait_until([&] { return ctx->stats().completed == 2u * n; }));
  for (int i = 0; i < 2 * n; ++i) {
    CAPTURE(i);
    CHECK(calls[static_cast<std::size_t>(i)].load() == 1);
    CHECK(bytes[static_cast<std::size_t>(i)] == 'q');
  }
  ctx.reset();
  for (int fd : fds) ::close(fd);
}
