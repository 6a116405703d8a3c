// SPDX-License-Identifier: MIT
// tests/io_test_support.h — helpers for the io_uring tests: an io_uring state plus context
// on a runtime, and a read submitted from a task on a given core.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "test_support.h"

namespace hotcore_test {

// io_setup is a runtime with the io_uring state installed.
struct io_setup {
  std::unique_ptr<runtime> rt = make_runtime();
  std::unique_ptr<io_uring_state> io;

  io_setup() {
    std::error_code ec;
    io = io_uring_state::install(*rt, ec);
    REQUIRE_MESSAGE(io != nullptr, "install: " << ec.message());
  }
  ~io_setup() { io.reset(); }

  std::unique_ptr<io_context> context() {
    std::error_code ec;
    auto ctx = io_context::create(*io, ec);
    REQUIRE_MESSAGE(ctx != nullptr, "io_context::create: " << ec.message());
    return ctx;
  }
};

// read_record keeps what one read's completion callback saw: how often it ran, the
// result, and the core it ran on.
struct read_record {
  std::atomic<int> calls{0};
  std::atomic<int> result{0};
  std::atomic<int> ran_on{-1};
};

// read_from_task_on() submits ctx.read(fd, buf, len) from a task on `core`, so it goes to
// that core's ring, waits until the task has submitted it and requires that to succeed.
// Its completion is recorded in rec.
inline void read_from_task_on(runtime& rt, io_context& ctx, unsigned core, int fd, void* buf,
                              unsigned len, read_record& rec) {
  std::atomic<int> submit_ret{1};
  REQUIRE(rt.submit_on(core, [&] {
    submit_ret = ctx.read(fd, buf, len, 0, [&rec](int r) {
      rec.result = r;
      rec.ran_on = hotcore::this_core();
      rec.calls++;
    });
  }) == 0);
  REQUIRE(wait_until([&] { return submit_ret.load() != 1; }));
  REQUIRE(submit_ret.load() == 0);
}

}  // namespace hotcore_test
