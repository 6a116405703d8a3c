// SPDX-License-Identifier: MIT
// tests/asio_test.cpp — hotcore/asio.h: the executor satisfies Asio's executor concept and
// properties; post, dispatch, bind_executor, co_spawn and strand<> run work on the worker
// cores, exactly once while a core churns; after shutdown() execute() throws bad_executor.
#include <asio.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "hotcore/asio.h"
#include "test_support.h"
#include "two_cores.h"

using namespace hotcore_test;
using namespace std::chrono_literals;
namespace ex = asio::execution;
using hotcore::asio_executor;

// The concept and every property the standard executor model and any_io_executor ask for.
static_assert(ex::is_executor<asio_executor>::value);
#if defined(ASIO_HAS_CONCEPTS)
static_assert(ex::executor<asio_executor>);
#endif
static_assert(asio::can_require<asio_executor, ex::blocking_t::never_t>::value);
static_assert(asio::can_require<asio_executor, ex::blocking_t::possibly_t>::value);
static_assert(!asio::can_require<asio_executor, ex::blocking_t::always_t>::value);
static_assert(asio::can_require<asio_executor, ex::relationship_t::fork_t>::value);
static_assert(asio::can_require<asio_executor, ex::relationship_t::continuation_t>::value);
static_assert(asio::can_require<asio_executor, ex::outstanding_work_t::tracked_t>::value);
static_assert(asio::can_require<asio_executor, ex::outstanding_work_t::untracked_t>::value);
static_assert(asio::can_query<asio_executor, ex::context_t>::value);
static_assert(asio::can_query<asio_executor, ex::blocking_t>::value);
static_assert(asio::can_query<asio_executor, ex::relationship_t>::value);
static_assert(asio::can_query<asio_executor, ex::outstanding_work_t>::value);
static_assert(std::is_convertible_v<asio_executor, asio::any_io_executor>);
static_assert(std::is_nothrow_copy_constructible_v<asio_executor>);

namespace {

// churner takes cores()[1] down and up again, on its own thread, until stopped. While the
// kernel has the core's CPU offline (another program's doing: core_up() says -EHOSTDOWN)
// it waits for the CPU; any other failure counts as an error.
class churner {
 public:
  explicit churner(runtime& rt)
      : _thread([this, &rt] {
          const unsigned core = rt.cores()[1];
          while (!_stop.load(std::memory_order_acquire)) {
            if (rt.core_down(core) != 0) _errors.fetch_add(1, std::memory_order_relaxed);
            int r;
            while ((r = rt.core_up(core)) == -EHOSTDOWN && !_stop.load(std::memory_order_acquire))
              std::this_thread::sleep_for(1ms);
            if (r == 0)
              _cycles.fetch_add(1, std::memory_order_release);
            else if (r != -EHOSTDOWN)
              _errors.fetch_add(1, std::memory_order_relaxed);
          }
        }) {}
  ~churner() { stop(); }
  void stop() {
    _stop.store(true, std::memory_order_release);
    if (_thread.joinable()) _thread.join();
  }
  long cycles() const { return _cycles.load(std::memory_order_acquire); }
  long errors() const { return _errors.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> _stop{false};
  std::atomic<long> _cycles{0}, _errors{0};
  std::thread _thread;
};

}  // namespace

TEST_CASE("the properties are recorded, reported and compared") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  hotcore::asio_context ctx(*rt);
  const asio_executor e = ctx.get_executor();
  CHECK(&asio::query(e, ex::context) == &ctx);
  CHECK(&ctx.get_runtime() == rt.get());
  CHECK(asio::query(e, ex::blocking) == ex::blocking.possibly);
  CHECK(asio::query(e, ex::relationship) == ex::relationship.fork);
  CHECK(asio::query(e, ex::outstanding_work) == ex::outstanding_work.untracked);
  const auto never = asio::require(e, ex::blocking.never);
  const auto cont = asio::require(e, ex::relationship.continuation);
  const auto tracked = asio::prefer(e, ex::outstanding_work.tracked);
  CHECK(asio::query(never, ex::blocking) == ex::blocking.never);
  CHECK(asio::query(cont, ex::relationship) == ex::relationship.continuation);
  CHECK(asio::query(tracked, ex::outstanding_work) == ex::outstanding_work.tracked);
  CHECK(never != e);
  CHECK(asio::require(never, ex::blocking.possibly) == e);
  CHECK(asio::require(tracked, ex::outstanding_work.untracked) == e);
  hotcore::asio_context other(*rt);
  CHECK(other.get_executor() != e);
}

TEST_CASE("post runs on a worker; dispatch from a worker runs inline; bind_executor") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  hotcore::asio_context ctx(*rt);
  std::atomic<int> core{-2};
  std::atomic<bool> inline_ran{false}, bound_on_worker{false};
  asio::post(ctx.get_executor(), [&] {
    bool ran = false;
    asio::dispatch(ctx.get_executor(), [&] { ran = true; });
    inline_ran.store(ran, std::memory_order_relaxed);  // dispatch returned after it ran
    core.store(rt->this_core(), std::memory_order_release);
  });
  REQUIRE(wait_until([&] { return core.load(std::memory_order_acquire) != -2; }));
  CHECK(core.load() >= 0);
  CHECK(inline_ran.load());

  // A handler bound to the executor, completed by an io_context, runs on a worker.
  asio::io_context io;
  asio::steady_timer timer(io, 1ms);
  timer.async_wait(asio::bind_executor(ctx.get_executor(), [&](std::error_code ec) {
    bound_on_worker.store(!ec && rt->this_core() >= 0, std::memory_order_release);
  }));
  io.run();
  CHECK(wait_until([&] { return bound_on_worker.load(std::memory_order_acquire); }));
}

TEST_CASE("10,000 co_spawned coroutines complete exactly once while a core churns") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  constexpr int n = 10000;
  std::vector<std::atomic<int>> done(n);
  std::atomic<int> finished{0}, off_worker{0};
  {
    hotcore::asio_context ctx(*rt);
    churner churn(*rt);
    const long start_cycles = churn.cycles();
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(ctx.get_executor(), [&, i]() -> asio::awaitable<void> {
        // Hop between cores until the churner finished two more cycles, then twice more.
        for (int hops = 0; hops < 2 || churn.cycles() < start_cycles + 2; ++hops) {
          co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
          if (rt->this_core() < 0) off_worker.fetch_add(1, std::memory_order_relaxed);
        }
        done[i].fetch_add(1, std::memory_order_relaxed);
        finished.fetch_add(1, std::memory_order_release);
      }, asio::detached);
    }
    REQUIRE(wait_until([&] { return finished.load(std::memory_order_acquire) == n; }, 150s));
    churn.stop();
    CHECK(churn.cycles() >= start_cycles + 2);
    CHECK(churn.errors() == 0);
  }  // ~asio_context waits for the coroutines' last functions to be destroyed
  for (int i = 0; i < n; ++i) REQUIRE_MESSAGE(done[i].load() == 1, "coroutine " << i);
  CHECK(finished.load() == n);
  CHECK(off_worker.load() == 0);
}

TEST_CASE("a strand keeps its order and runs one handler at a time across core changes") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  hotcore::asio_context ctx(*rt);
  asio::strand<asio_executor> strand(ctx.get_executor());
  int next = 0;  // only the strand touches it: no atomic, TSan checks the strand's order
  std::atomic<int> out_of_order{0}, overlapped{0}, ran{0};
  std::atomic<bool> inside{false};
  churner churn(*rt);
  // At least 20,000 handlers, and more until the core went down and up twice meanwhile.
  int n = 0;
  for (; n < 20000 || churn.cycles() < 2; ++n) {
    asio::post(strand, [&, i = n] {
      if (inside.exchange(true, std::memory_order_acq_rel)) overlapped++;
      if (next++ != i) out_of_order++;
      inside.store(false, std::memory_order_release);
      ran.fetch_add(1, std::memory_order_release);
    });
  }
  REQUIRE(wait_until([&] { return ran.load(std::memory_order_acquire) == n; }, 150s));
  churn.stop();
  CHECK(churn.errors() == 0);
  CHECK(out_of_order.load() == 0);
  CHECK(overlapped.load() == 0);
  CHECK(next == n);
}

TEST_CASE("after shutdown() execute throws bad_executor and the function does not run") {
  TWO_CPUS(cpu);
  auto rt = two_core_runtime(cpu);
  std::atomic<int> ran{0};
  {
    hotcore::asio_context ctx(*rt);
    for (int i = 0; i < 1000; ++i) asio::post(ctx.get_executor(), [&] { ran++; });
  }  // the destructor waited for all of them
  CHECK(ran.load() == 1000);

  hotcore::asio_context ctx(*rt);
  REQUIRE(rt->shutdown() == 0);
  auto owned = std::make_shared<int>(1);
  CHECK_THROWS_AS(asio::post(ctx.get_executor(), [&ran, owned] { ran++; }),
                  ex::bad_executor);
  CHECK_THROWS_AS(asio::dispatch(ctx.get_executor(), [&ran] { ran++; }), ex::bad_executor);
  CHECK(owned.use_count() == 1);  // the refused function was destroyed
  CHECK(ran.load() == 1000);
}
