// SPDX-License-Identifier: MIT
// tests/hotplug_lock_test.cpp — the lock behind cpus_read_lock() on its own: readers and
// writers exclude each other, a writer waits for a reader that sleeps inside, reads nest,
// trylock fails while a writer is in, and threads that come and go leave the lock correct.
// Every case runs on both read sides: the membarrier one (where the kernel offers it) and
// the seq_cst one that TSan builds and kernels without membarrier use.
#include <doctest/doctest.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hotplug/hotplug_lock.h"
#include "sanitizers.h"
#include "test_support.h"

using hotcore::detail::hotplug_lock;
using hotcore_test::thread_asleep;
using hotcore_test::wait_until;
using namespace std::chrono_literals;

namespace {

// make_lock() is a lock with the asked-for read side. SUBCASEs call it so each case runs
// with both read sides; the asymmetric one may fall back (lock.asymmetric() says).
std::unique_ptr<hotplug_lock> make_lock(hotplug_lock::read_side side) {
  return std::make_unique<hotplug_lock>(side);
}

#define FOR_EACH_READ_SIDE(side)                                                    \
  hotplug_lock::read_side side = hotplug_lock::read_side::symmetric;               \
  SUBCASE("read side: membarrier") { side = hotplug_lock::read_side::asymmetric; } \
  SUBCASE("read side: seq_cst") { side = hotplug_lock::read_side::symmetric; }

// LOCK_OF_EACH_READ_SIDE(lock) declares `lock`, made by make_lock() with each read side in
// turn (FOR_EACH_READ_SIDE).
#define LOCK_OF_EACH_READ_SIDE(lock) \
  FOR_EACH_READ_SIDE(lock##_side);   \
  auto lock = make_lock(lock##_side)

// writer_pending() is true once a writer has raised its flag on lock (it waits or is in):
// a read_trylock() from a thread that holds nothing then fails.
bool writer_pending(hotplug_lock& lock) {
  bool got = true;
  std::thread t([&] {
    got = lock.read_trylock();
    if (got) lock.read_unlock();
  });
  t.join();
  return !got;
}

}  // namespace

TEST_CASE("a lock asked for the membarrier read side gets it exactly where the kernel offers "
          "private expedited membarriers (never under TSan); one asked for seq_cst keeps it") {
  const hotplug_lock asym(hotplug_lock::read_side::asymmetric);
  const hotplug_lock sym(hotplug_lock::read_side::symmetric);
  CHECK_FALSE(sym.asymmetric());
  const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0U, 0);
  const bool offered = cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
  MESSAGE("membarrier offered: " << offered
          << ", read side of a default lock: "
          << std::string(asym.asymmetric() ? "membarrier" : "seq_cst"));
  if constexpr (hotcore_test::under_tsan) {
    CHECK_FALSE(asym.asymmetric());
  } else {
    CHECK(asym.asymmetric() == offered);
  }
}

TEST_CASE("cpus_read_lock() inhibits CPU hotplug operations: readers never see a writer's "
          "half-done update, under many readers and a writer") {
  LOCK_OF_EACH_READ_SIDE(lock);
  // Plain (non-atomic) data: without mutual exclusion TSan reports the race, and readers
  // see first != second.
  long first = 0;
  long second = 0;
  std::atomic<int> readers_inside{0};
  std::atomic<long> torn{0};
  std::atomic<long> writer_saw_reader{0};
  std::atomic<bool> stop{false};
  constexpr int reader_count = 4;
  constexpr int writes = 100;

  std::vector<std::thread> readers;
  std::atomic<long> reads{0};
  for (int r = 0; r < reader_count; ++r)
    readers.emplace_back([&] {
      // relaxed: stop is only a loop bound; the lock orders the data.
      while (!stop.load(std::memory_order_relaxed)) {
        lock->read_lock();
        // relaxed: a counter the writer checks inside its own exclusive section.
        readers_inside.fetch_add(1, std::memory_order_relaxed);
        if (first != second) torn.fetch_add(1, std::memory_order_relaxed);
        readers_inside.fetch_sub(1, std::memory_order_relaxed);
        lock->read_unlock();
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  for (int w = 0; w < writes; ++w) {
    lock->write_lock();
    // relaxed: the lock orders it; a reader inside now is the bug this test looks for.
    if (readers_inside.load(std::memory_order_relaxed) != 0)
      writer_saw_reader.fetch_add(1, std::memory_order_relaxed);
    ++first;
    std::this_thread::yield();  // give a reader that wrongly got in time to see first != second
    ++second;
    lock->write_unlock();
    // Let the readers in between writes (a writer that relocks at once would starve them).
    const long before = reads.load();
    if (!wait_until([&] { return reads.load() > before; }, 30s)) {
      FAIL_CHECK("no reader got in between two writes for 30 s");
      break;
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  CHECK(torn.load() == 0);
  CHECK(writer_saw_reader.load() == 0);
  CHECK(first == second);
  CHECK(reads.load() > 0);
}

TEST_CASE("a writer waits for a reader that sleeps inside cpus_read_lock(): it gets in only "
          "after the reader has left, whether the read_lock() was the thread's first (its "
          "record registered then) or a later one (the inline fast path)") {
  FOR_EACH_READ_SIDE(side);
  bool warm = false;
  SUBCASE("the reader thread's first read_lock()") { warm = false; }
  SUBCASE("a later read_lock() of the reader thread") { warm = true; }
  auto lock = make_lock(side);
  std::atomic<bool> reader_in{false};
  std::atomic<bool> release_reader{false};
  std::atomic<bool> reader_left{false};
  std::atomic<bool> writer_in{false};
  std::atomic<bool> writer_saw_reader_left{false};

  std::thread reader([&] {
    if (warm) {
      lock->read_lock();
      lock->read_unlock();
    }
    lock->read_lock();
    reader_in = true;
    // The reader stays inside until the test has seen the writer wait.
    release_reader.wait(false);
    reader_left = true;  // seq_cst: set before the unlock, seen by the writer after it gets in
    lock->read_unlock();
  });
  REQUIRE(wait_until([&] { return reader_in.load(); }));
  std::thread writer([&] {
    pthread_setname_np(pthread_self(), "test-writer");
    lock->write_lock();
    writer_saw_reader_left = reader_left.load();
    writer_in = true;
    lock->write_unlock();
  });
  // The writer has raised its flag and waits for the sleeping reader: it must still be out
  // (the reader does not leave until the test says so).
  REQUIRE(wait_until([&] { return writer_pending(*lock); }));
  // It blocks (sleeps) in write_lock(), unless it was wrongly admitted.
  REQUIRE(wait_until([&] { return writer_in.load() || thread_asleep("test-writer"); }));
  CHECK_FALSE(writer_in.load());
  release_reader = true;
  release_reader.notify_all();
  reader.join();
  writer.join();
  CHECK(writer_in.load());
  CHECK(writer_saw_reader_left.load());
}

TEST_CASE("reads nest within a thread: an inner read_lock() does not wait behind a writer "
          "that waits for the outer one") {
  LOCK_OF_EACH_READ_SIDE(lock);
  lock->read_lock();
  CHECK(lock->read_held());
  std::atomic<bool> writer_in{false};
  std::thread writer([&] {
    lock->write_lock();
    writer_in = true;
    lock->write_unlock();
  });
  REQUIRE(wait_until([&] { return writer_pending(*lock); }));  // it waits for our read
  lock->read_lock();            // nested: must not block
  CHECK(lock->read_trylock());  // nested trylock succeeds too
  lock->read_unlock();
  lock->read_unlock();
  CHECK(lock->read_held());  // still held by the outer read
  CHECK_FALSE(writer_in.load());
  lock->read_unlock();
  CHECK_FALSE(lock->read_held());
  writer.join();
  CHECK(writer_in.load());
}

TEST_CASE("cpus_read_trylock() fails while a writer holds the lock, and succeeds after it "
          "leaves") {
  LOCK_OF_EACH_READ_SIDE(lock);
  lock->write_lock();
  CHECK(writer_pending(*lock));  // a read_trylock() on another thread fails
  CHECK_FALSE(lock->read_held());
  lock->write_unlock();
  CHECK_FALSE(writer_pending(*lock));  // and succeeds once the writer has left
  CHECK(lock->read_trylock());
  CHECK(lock->read_held());
  lock->read_unlock();
}

TEST_CASE("a reader that arrives while a writer is in parks until the writer leaves, then "
          "gets in") {
  LOCK_OF_EACH_READ_SIDE(lock);
  lock->write_lock();
  std::atomic<bool> reader_started{false};
  std::atomic<bool> reader_in{false};
  std::thread reader([&] {
    pthread_setname_np(pthread_self(), "test-reader");
    reader_started = true;
    lock->read_lock();
    reader_in = true;
    lock->read_unlock();
  });
  REQUIRE(wait_until([&] { return reader_started.load(); }));
  // It blocks (sleeps) in read_lock(), unless it was wrongly admitted.
  REQUIRE(wait_until([&] { return reader_in.load() || thread_asleep("test-reader"); }));
  CHECK_FALSE(reader_in.load());
  lock->write_unlock();
  reader.join();
  CHECK(reader_in.load());
}

TEST_CASE("threads that read the lock and exit leave it correct: writers neither wait for "
          "them nor miss the threads still reading") {
  LOCK_OF_EACH_READ_SIDE(lock);
  long shared_value = 0;  // plain: the lock orders it
  std::atomic<bool> stop{false};
  std::atomic<long> torn{0};
  // Long-lived readers that keep reading while short-lived threads come and go.
  std::vector<std::thread> steady;
  for (int r = 0; r < 2; ++r)
    steady.emplace_back([&] {
      // relaxed: a loop bound only.
      while (!stop.load(std::memory_order_relaxed)) {
        lock->read_lock();
        const long a = shared_value;
        std::this_thread::yield();
        // relaxed: a failure count read after join.
        if (shared_value != a) torn.fetch_add(1, std::memory_order_relaxed);
        lock->read_unlock();
      }
    });
  std::thread writer([&] {
    for (int w = 0; w < 200; ++w) {
      lock->write_lock();
      ++shared_value;
      lock->write_unlock();
    }
  });
  for (int round = 0; round < 50; ++round) {
    std::vector<std::thread> brief;
    for (int b = 0; b < 4; ++b)
      brief.emplace_back([&] {
        for (int i = 0; i < 20; ++i) {
          lock->read_lock();
          const long a = shared_value;
          // relaxed: a failure count read after join.
          if (shared_value != a) torn.fetch_add(1, std::memory_order_relaxed);
          lock->read_unlock();
        }
      });
    for (auto& t : brief) t.join();
  }
  writer.join();
  stop = true;
  for (auto& t : steady) t.join();
  CHECK(torn.load() == 0);
  CHECK(shared_value == 200);
  // Every exited thread is gone from the lock: a writer gets in at once.
  lock->write_lock();
  lock->write_unlock();
}

TEST_CASE("one thread may read more locks at once than its record has entries: the extra "
          "ones still keep writers out") {
  FOR_EACH_READ_SIDE(side);
  std::vector<std::unique_ptr<hotplug_lock>> locks;
  for (int i = 0; i < 12; ++i) locks.push_back(make_lock(side));
  for (auto& l : locks) l->read_lock();
  std::atomic<int> writers_in{0};
  std::vector<std::thread> writers;
  for (auto& l : locks)
    writers.emplace_back([&writers_in, lk = l.get()] {
      lk->write_lock();
      writers_in.fetch_add(1);
      lk->write_unlock();
    });
  for (auto& l : locks) REQUIRE(wait_until([&] { return writer_pending(*l); }));
  CHECK(writers_in.load() == 0);
  for (auto& l : locks) l->read_unlock();
  for (auto& t : writers) t.join();
  CHECK(writers_in.load() == 12);
}

TEST_CASE("a burst of writers forces one membarrier, as the kernel's rcu_sync: readers fence "
          "for themselves until a quiet period after the last writer, and still keep writers "
          "out meanwhile; then the next writer forces one again") {
  FOR_EACH_READ_SIDE(side);
  // A quiet period no test outlasts: the gate stays fenced through the whole case.
  hotplug_lock lock(side, std::chrono::hours(1));
  for (int w = 0; w < 5; ++w) {
    lock.write_lock();
    lock.write_unlock();
  }
  if (!lock.asymmetric()) {
    CHECK(lock.barriers() == 0);  // seq_cst readers: no writer ever needs one
    CHECK_FALSE(lock.fenced());
    return;
  }
  CHECK(lock.barriers() == 1);
  CHECK(lock.fenced());
  // A reader that came in on the fenced way keeps a writer out until it leaves.
  lock.read_lock();
  std::atomic<bool> writer_in{false};
  std::thread writer([&] {
    lock.write_lock();
    writer_in = true;
    lock.write_unlock();
  });
  REQUIRE(wait_until([&] { return writer_pending(lock); }));
  CHECK_FALSE(writer_in.load());
  lock.read_unlock();
  writer.join();
  CHECK(writer_in.load());
  CHECK(lock.barriers() == 1);  // the writers after the first forced none
  CHECK(lock.fenced());

  // With no quiet period, the first reader after a writer puts readers back on the inline
  // way, and the writer after that forces a barrier again.
  hotplug_lock brief(side, std::chrono::microseconds(0));
  brief.write_lock();
  brief.write_unlock();
  CHECK(brief.fenced());
  brief.read_lock();
  brief.read_unlock();
  CHECK_FALSE(brief.fenced());
  brief.write_lock();
  brief.write_unlock();
  CHECK(brief.barriers() == 2);
}
