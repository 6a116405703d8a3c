// SPDX-License-Identifier: MIT
// tools/soak.cpp — `hotcore soak`: several threads submit tasks every way the API allows
// (submit, submit_on, nested task groups, parallel_for, and the same from inside tasks)
// while a churn thread takes random cores down and up every M ms. Each task has an id and
// counts its runs; at the end every accepted id must have run exactly once.
#include "soak.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "flag_limits.h"
#include "hotcore/parallel.h"
#include "hotcore/runtime.h"
#include "hotcore/task_group.h"
#include "json_writer.h"

namespace {

using hotcore::runtime;
using clock_type = std::chrono::steady_clock;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;

// id_table holds one byte per task id: bit 7 = accepted (the API took it), bits 0..6 = how
// many times it ran (saturating is not needed: 2 already fails the run). Storage grows in
// blocks allocated on first use, so the table needs no bound on the number of ids.
class id_table {
 public:
  static constexpr std::uint8_t accepted_bit = 0x80;
  static constexpr std::size_t block_ids = std::size_t{1} << 20;
  static constexpr std::size_t max_blocks = 4096;

  id_table() : _blocks(max_blocks) {}
  ~id_table() {
    for (auto& b : _blocks) delete[] b.load(std::memory_order_relaxed);
  }

  // reserve() hands out `n` consecutive fresh ids.
  std::uint64_t reserve(std::uint64_t n) {
    // relaxed: only uniqueness matters.
    const std::uint64_t first = _next.fetch_add(n, std::memory_order_relaxed);
    if ((first + n) / block_ids >= max_blocks) {
      std::fprintf(stderr, "hotcore soak: more than %zu task ids\n", max_blocks * block_ids);
      std::exit(exit_failed);
    }
    return first;
  }
  // reset() forgets every id (no task may still be running).
  void reset() {
    const std::uint64_t n = _next.load(std::memory_order_relaxed);
    for (std::uint64_t b = 0; b * block_ids < n; ++b)
      if (auto* block = _blocks[b].load(std::memory_order_relaxed))
        for (std::size_t i = 0; i < block_ids; ++i) block[i].store(0, std::memory_order_relaxed);
    _next.store(0, std::memory_order_relaxed);
  }
  void accept(std::uint64_t id) { byte(id).fetch_or(accepted_bit, std::memory_order_release); }
  void ran(std::uint64_t id) { byte(id).fetch_add(1, std::memory_order_release); }

  struct tally {
    std::uint64_t submitted = 0, ran = 0, lost = 0, duplicated = 0, phantom = 0, refused = 0;
    void add(const tally& t) {
      submitted += t.submitted;
      ran += t.ran;
      lost += t.lost;
      duplicated += t.duplicated;
      phantom += t.phantom;
      refused += t.refused;
    }
  };
  // count() is called after every task finished (shutdown() returned).
  tally count() const {
    tally t;
    const std::uint64_t n = _next.load(std::memory_order_relaxed);
    for (std::uint64_t id = 0; id < n; ++id) {
      std::atomic<std::uint8_t>* block = _blocks[id / block_ids].load(std::memory_order_acquire);
      const std::uint8_t v = block ? block[id % block_ids].load(std::memory_order_acquire) : 0;
      const unsigned runs = v & 0x7f;
      if (v & accepted_bit) {
        ++t.submitted;
        if (runs >= 1) ++t.ran;
        if (runs == 0) ++t.lost;
        if (runs > 1) ++t.duplicated;
      } else {
        ++t.refused;
        if (runs > 0) ++t.phantom;  // refused, yet it ran
      }
    }
    return t;
  }

 private:
  std::atomic<std::uint8_t>& byte(std::uint64_t id) {
    auto& slot = _blocks[id / block_ids];
    // acquire: pairs with the release CAS that installed the block.
    std::atomic<std::uint8_t>* block = slot.load(std::memory_order_acquire);
    if (block == nullptr) {
      auto* fresh = new std::atomic<std::uint8_t>[block_ids]();
      // acq_rel: install it once; a loser frees its copy and uses the winner's.
      if (slot.compare_exchange_strong(block, fresh, std::memory_order_acq_rel))
        block = fresh;
      else
        delete[] fresh;
    }
    return block[id % block_ids];
  }

  std::atomic<std::uint64_t> _next{0};
  std::vector<std::atomic<std::atomic<std::uint8_t>*>> _blocks;
};

// soak is one run: the runtime, the table and the workloads.
class soak {
 public:
  soak(runtime& rt, const soak_options& opts) : _rt(rt), _opts(opts) {}

  // run() soaks in rounds of at most round_seconds; after each round it waits for every
  // accepted task to run (a task still missing 30 s later counts as lost), adds the round
  // to the totals and reuses the id table, so a long soak needs no more memory than one
  // round (a byte per task id).
  int run() {
    const auto end = clock_type::now() + std::chrono::seconds(_opts.seconds);
    id_table::tally total;
    for (bool last = false; !last;) {
      auto deadline = clock_type::now() + std::chrono::seconds(round_seconds);
      if (deadline >= end) {
        deadline = end;
        last = true;
      }
      run_round(deadline);
      if (!last) {
        total.add(settle_round());
      } else if (finish()) {
        total.add(_ids.count());
      } else {
        return exit_failed;
      }
    }
    report(total);
    const bool bad = total.lost != 0 || total.duplicated != 0 || total.phantom != 0 ||
                     _wrong.load() != 0 || total.ran != total.submitted || _failed.load();
    return bad ? exit_failed : exit_ok;
  }

 private:
  // settle_round() waits (30 s at most) until every accepted task of the round has run,
  // counts the round and empties the id table for the next one.
  id_table::tally settle_round() {
    const auto limit = clock_type::now() + std::chrono::seconds(30);
    id_table::tally t;
    while ((t = _ids.count()).lost != 0 && clock_type::now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    _ids.reset();
    return t;
  }

  // finish() brings every core back, then lets shutdown() run whatever is still queued; a
  // core whose CPU is not available (--follow: offline in the kernel) cannot come up.
  // false when shutdown() failed.
  bool finish() {
    for (unsigned core : _rt.cores())
      if (_rt.state(core) != hotcore::ONLINE && _rt.core_available(core))
        if (const int ret = _rt.core_up(core); ret != 0 && ret != -EHOSTDOWN) {
          std::fprintf(stderr, "hotcore soak: core_up(%u) failed at the end: %s\n", core,
                       std::strerror(-ret));
          _failed = true;
        }
    if (const int ret = _rt.shutdown(); ret != 0) {
      std::fprintf(stderr, "hotcore soak: shutdown: %s\n", std::strerror(-ret));
      return false;
    }
    return true;
  }

  // report() prints the totals (stdout: a line, or JSON with --json) and what the
  // runtime and the kernel did meanwhile (stderr).
  void report(const id_table::tally& total) const {
    if (_opts.json) {
      hotcore::tools::json_writer j(stdout);
      j.begin_object();
      j.field("seconds", _opts.seconds);
      j.field("submitted", static_cast<std::int64_t>(total.submitted));
      j.field("ran", static_cast<std::int64_t>(total.ran));
      j.field("lost", static_cast<std::int64_t>(total.lost));
      j.field("duplicated", static_cast<std::int64_t>(total.duplicated));
      j.field("refused", static_cast<std::int64_t>(total.refused));
      j.field("refused_ran", static_cast<std::int64_t>(total.phantom));
      j.field("wrong", static_cast<std::int64_t>(_wrong.load()));
      j.field("core_cycles", static_cast<std::int64_t>(_cycles.load()));
      j.end_object();
    } else {
      std::printf("submitted %llu ran %llu lost %llu duplicated %llu\n",
                  static_cast<unsigned long long>(total.submitted),
                  static_cast<unsigned long long>(total.ran),
                  static_cast<unsigned long long>(total.lost),
                  static_cast<unsigned long long>(total.duplicated));
    }
    std::fflush(stdout);
    std::fprintf(stderr,
                 "hotcore soak: %lld core down+up cycles, %llu submissions refused (core not "
                 "active), %llu refused tasks that ran anyway, %llu wrong results\n",
                 static_cast<long long>(_cycles.load()),
                 static_cast<unsigned long long>(total.refused),
                 static_cast<unsigned long long>(total.phantom),
                 static_cast<unsigned long long>(_wrong.load()));
    unsigned long taken = 0;
    for (unsigned core : _rt.cores()) taken += _rt.kernel_offlines(core);
    std::fprintf(stderr,
                 "hotcore soak: the kernel took a CPU away %lu times%s; core_up() found its "
                 "CPU offline (-EHOSTDOWN) %lld times\n",
                 taken, _opts.follow ? "" : " (counted with --follow only)",
                 static_cast<long long>(_cpu_offline.load()));
  }

  static constexpr long round_seconds = 20;

  void run_round(clock_type::time_point deadline) {
    std::thread churner;
    if (_opts.churn_ms > 0) churner = std::thread([&] { churn(deadline); });
    std::vector<std::thread> submitters;
    for (long t = 0; t < _opts.threads; ++t)
      submitters.emplace_back([&, t] { submit_loop(deadline, static_cast<unsigned>(t + _round * 131)); });
    for (auto& t : submitters) t.join();
    if (churner.joinable()) churner.join();
    ++_round;
  }

  // counted() makes a task body that records its id once it runs.
  auto counted(std::uint64_t id) {
    return [this, id] { _ids.ran(id); };
  }

  // submit_one() submits one counted task (to any core, or to `core`); refused ones stay
  // unaccepted (and must never run).
  void submit_one(int core) {
    const std::uint64_t id = _ids.reserve(1);
    const int ret = core < 0 ? _rt.submit(counted(id))
                             : _rt.submit_on(static_cast<unsigned>(core), counted(id));
    if (ret == 0) {
      _ids.accept(id);
    } else if (ret != -ENODEV && ret != -ESHUTDOWN) {  // core not active / final shutdown
      std::fprintf(stderr, "hotcore soak: submit: %s\n", std::strerror(-ret));
      _failed = true;
    }
  }

  // nested() runs a two-level fork-join: `fan` tasks, each running `fan` tasks.
  void nested(unsigned fan) {
    hotcore::task_group outer(_rt);
    for (unsigned i = 0; i < fan; ++i) {
      const std::uint64_t id = _ids.reserve(1);
      _ids.accept(id);
      outer.run([this, id, fan] {
        hotcore::task_group inner(_rt);
        const std::uint64_t base = _ids.reserve(fan);
        for (unsigned j = 0; j < fan; ++j) {
          _ids.accept(base + j);
          inner.run(counted(base + j));
        }
        inner.wait();
        _ids.ran(id);
      });
    }
    outer.wait();
  }

  // pfor() runs a parallel_for whose every index is a counted task id, and checks a sum.
  void pfor(std::size_t n, std::size_t grain) {
    const std::uint64_t base = _ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) _ids.accept(base + i);
    std::atomic<std::uint64_t> sum{0};
    hotcore::parallel_for(_rt, std::size_t{0}, n, grain, [&](std::size_t i) {
      _ids.ran(base + i);
      sum.fetch_add(i, std::memory_order_relaxed);
    });
    if (sum.load() != n * (n - 1) / 2) _wrong++;
  }

  void submit_loop(clock_type::time_point deadline, unsigned seed) {
    std::mt19937 rng(seed * 7919 + 1);
    const auto& cores = _rt.cores();
    while (clock_type::now() < deadline) {
      switch (rng() % 6) {
        case 0:
          for (int i = 0; i < 64; ++i) submit_one(-1);
          break;
        case 1:
          for (int i = 0; i < 32; ++i) submit_one(static_cast<int>(cores[rng() % cores.size()]));
          break;
        case 2:
          nested(8);
          break;
        case 3:
          pfor(64 + rng() % 256, 2 + rng() % 16);
          break;
        case 4: {
          // The same from inside a task: a worker submits, forks and joins.
          const std::uint64_t id = _ids.reserve(1);
          const int ret = _rt.submit([this, id] {
            nested(4);
            pfor(1024, 32);
            for (int i = 0; i < 8; ++i) submit_one(-1);
            _ids.ran(id);
          });
          if (ret == 0) _ids.accept(id);
          break;
        }
        default:
          break;
      }
      // A breather: about 5 million task ids a second on 2 cores (100 MB per round).
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
    }
  }

  // churn() takes a random core down or up every churn_ms; core_down of the last active
  // core is refused (-EBUSY) by the runtime, which is fine.
  void churn(clock_type::time_point deadline) {
    std::mt19937 rng(12345);
    const auto& cores = _rt.cores();
    while (clock_type::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(_opts.churn_ms));
      const unsigned core = cores[rng() % cores.size()];
      if (_rt.state(core) == hotcore::ONLINE) {
        const int ret = _rt.core_down(core);
        if (ret != 0 && ret != -EBUSY) {
          std::fprintf(stderr, "hotcore soak: core_down(%u): %s\n", core, std::strerror(-ret));
          _failed = true;
        }
      } else {
        const int ret = _rt.core_up(core);
        if (ret == -EHOSTDOWN) {
          _cpu_offline++;  // the kernel has the CPU offline: the machine's state, not a failure
        } else if (ret != 0) {
          std::fprintf(stderr, "hotcore soak: core_up(%u): %s\n", core, std::strerror(-ret));
          _failed = true;
        } else {
          _cycles++;
        }
      }
    }
  }

  runtime& _rt;
  const soak_options _opts;
  unsigned _round = 0;
  id_table _ids;
  std::atomic<long long> _cycles{0};
  std::atomic<long long> _cpu_offline{0};  // core_up() answered -EHOSTDOWN
  std::atomic<unsigned long long> _wrong{0};
  std::atomic<bool> _failed{false};
};

}  // namespace

int run_soak(const soak_options& opts) {
  std::error_code ec;
  hotcore::runtime_options ropts;
  ropts.follow_cpu_hotplug = opts.follow;
  auto rt = runtime::create(ropts, ec);
  if (!rt) {
    std::fprintf(stderr, "hotcore soak: cannot create the runtime: %s\n", ec.message().c_str());
    return exit_failed;
  }
  // A deadlock must fail the run, not hang it.
  std::atomic<bool> finished{false};
  std::thread watchdog([&, limit = opts.seconds + 120] {
    const auto end = clock_type::now() + std::chrono::seconds(limit);
    while (!finished.load()) {
      if (clock_type::now() > end) {
        std::fprintf(stderr, "hotcore soak: still running %ld s after the deadline: hung\n",
                     limit - opts.seconds);
        std::_Exit(exit_failed);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const int ret = soak(*rt, opts).run();
  rt.reset();
  finished = true;
  watchdog.join();
  return ret;
}
