// SPDX-License-Identifier: MIT
// bench/server_pools.h — the two pools bench/pool_server runs a request's work on: a
// hotcore runtime (following the CPU quota, polling it, or fixed at N cores) and a oneTBB
// task_arena of N threads. Each runs the same job: a task that calls a `ways`-way
// parallel_for (one index per piece) of calibrated spin(), then a completion callback.
#pragma once

#include <hotcore/hotcore.h>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "busy_work.h"

namespace bench {

struct job {
  unsigned ways = 4;
  std::uint64_t iterations = 0;  // spin() iterations per piece
};

inline std::atomic<std::uint64_t> spin_sink{0};

// run_piece() is one index of the parallel_for: the same for both pools.
inline void run_piece(const job& j) {
  spin_sink.fetch_xor(spin(j.iterations), std::memory_order_relaxed);  // relaxed: a sink
}

class work_pool {
 public:
  virtual ~work_pool() = default;
  // run() queues the job; done() runs on a pool thread once every piece has finished.
  // Returns false when the pool refused it (done() never runs then).
  [[nodiscard]] virtual bool run(const job& j, std::function<void()> done) = 0;
  [[nodiscard]] virtual unsigned cores() const = 0;
  [[nodiscard]] virtual std::string limit() const { return "-"; }
};

// follow_mode: how the hotcore pool sizes itself.
struct hotcore_pool_options {
  unsigned fixed_cores = 0;  // > 0: set_core_limit(n), no follower
  unsigned poll_ms = 0;      // > 0: follower without inotify, re-reading every poll_ms
  hotcore::quota_rounding rounding = hotcore::quota_rounding::ceil;
  bool pace = false;         // quota_follower_options::pace
};

class hotcore_pool final : public work_pool {
 public:
  static std::unique_ptr<hotcore_pool> create(const hotcore_pool_options& o, std::string& error) {
    auto p = std::unique_ptr<hotcore_pool>(new hotcore_pool);
    std::error_code ec;
    p->_rt = hotcore::runtime::create({}, ec);
    if (!p->_rt) return error = "runtime::create: " + ec.message(), nullptr;
    if (o.fixed_cores > 0) {
      if (const int r = p->_rt->set_core_limit(o.fixed_cores); r < 0)
        return error = "set_core_limit: " + std::error_code(-r, std::generic_category()).message(), nullptr;
      return p;
    }
    hotcore::quota_follower_options fo;
    fo.policy.rounding = o.rounding;
    fo.pace = o.pace;
    if (o.poll_ms > 0) {
      fo.use_inotify = false;
      fo.poll_interval = std::chrono::milliseconds(o.poll_ms);
    }
    fo.on_change = [](const hotcore::quota_change& c) {
      std::printf("pool_server: quota %s: %u -> %u cores (target %u%s%s)\n",
                  hotcore::limit_text(c.new_limit).c_str(), c.old_cores, c.new_cores, c.target,
                  c.result < 0 ? ", set_core_limit: " : "", c.result < 0 ? std::strerror(-c.result) : "");
      std::fflush(stdout);
    };
    fo.on_error = [](const hotcore::cgroup_error& e) {
      std::fprintf(stderr, "pool_server: quota: %s\n", e.message.c_str());
    };
    p->_follower = hotcore::quota_follower::create(*p->_rt, fo, ec);
    if (!p->_follower) return error = "quota_follower::create: " + ec.message(), nullptr;
    if (const int r = p->_follower->enable(); r < 0)
      return error = "quota_follower::enable: " + std::error_code(-r, std::generic_category()).message(), nullptr;
    return p;
  }
  ~hotcore_pool() override { _follower.reset(); }  // before the runtime

  bool run(const job& j, std::function<void()> done) override {
    hotcore::runtime& rt = *_rt;
    const int r = rt.submit([&rt, j, done = std::move(done)] {
      hotcore::parallel_for(rt, 0u, j.ways, 1, [&j](unsigned) { run_piece(j); });
      done();
    });
    if (r < 0) std::fprintf(stderr, "pool_server: submit: %s\n", std::strerror(-r));
    return r == 0;
  }
  [[nodiscard]] unsigned cores() const override {
    return static_cast<unsigned>(_rt->online_cores().size());
  }
  [[nodiscard]] std::string limit() const override {
    return _follower ? hotcore::limit_text(_follower->status().limit) : "fixed";
  }

 private:
  hotcore_pool() = default;
  std::unique_ptr<hotcore::runtime> _rt;
  std::unique_ptr<hotcore::quota_follower> _follower;
};

// tbb_pool: a fixed arena of n threads. global_control lets oneTBB start n workers (its
// default on a 2-CPU machine is one worker besides the main thread, which never joins).
class tbb_pool final : public work_pool {
 public:
  explicit tbb_pool(unsigned n)
      : _threads(n), _control(tbb::global_control::max_allowed_parallelism, n + 1),
        _arena(static_cast<int>(n), 0) {}
  bool run(const job& j, std::function<void()> done) override {
    _arena.enqueue([j, done = std::move(done)] {
      tbb::parallel_for(tbb::blocked_range<unsigned>(0, j.ways, 1),
                        [&j](const tbb::blocked_range<unsigned>& r) {
                          for (unsigned i = r.begin(); i != r.end(); ++i) run_piece(j);
                        },
                        tbb::simple_partitioner());
      done();
    });
    return true;
  }
  [[nodiscard]] unsigned cores() const override { return _threads; }

 private:
  unsigned _threads;
  tbb::global_control _control;
  tbb::task_arena _arena;
};

}  // namespace bench
