// SPDX-License-Identifier: MIT
// tools/cycle_split.h — where a cycle's time goes: each half's wall time split into what
// lies outside the engine's walk (the governor, cpu_add_remove_lock, the write lock with
// its membarrier()) and the walk itself (runtime::stats(): the time under the write lock),
// whose callbacks the traced run times state by state.
#pragma once

#include <hotcore/runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "json_writer.h"
#include "stats.h"

namespace hotcore::tools {

class cycle_split {
 public:
  // run() takes `count` cycles of core, reading the engine's walk time after each half
  // (the read lies between the halves, outside the timed ones). 0 or the first error.
  int run(runtime& rt, unsigned core, long count) {
    using clock = std::chrono::steady_clock;
    for (long i = 0; i < count; ++i)
      for (const bool up : {false, true}) {
        const auto t0 = clock::now();
        const int ret = up ? rt.core_up(core) : rt.core_down(core);
        const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count();
        if (ret < 0) return ret;
        const std::int64_t walk = last_walk_ns(rt, core, up);
        half& h = _half[up ? 1 : 0];
        h.walk.add(walk);
        h.outside.add(wall - walk);
      }
    return 0;
  }

  // set_callbacks() takes the traced run's per-state table: the sum of its medians in each
  // direction is the walk's part spent in callbacks.
  void set_callbacks(const std::vector<state_cost>& rows) {
    _callbacks_ns[0] = _callbacks_ns[1] = 0;
    for (const state_cost& r : rows) _callbacks_ns[r.dir == direction::up ? 1 : 0] += r.ns.median;
  }

  // print() is the table.
  void print(std::FILE* out) const {
    const auto& callbacks_ns = _callbacks_ns;
    const auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1e3; };
    std::fprintf(out, "\nwhere a cycle's time goes (medians over a third run, us):  %8s %8s\n", "down", "up");
    std::fprintf(out, "  outside the walk: governor, locks, write lock's membarrier %8.2f %8.2f\n",
                 us(_half[0].outside.percentile(50)), us(_half[1].outside.percentile(50)));
    std::fprintf(out, "  the walk under the write lock (runtime::stats)             %8.2f %8.2f\n",
                 us(_half[0].walk.percentile(50)), us(_half[1].walk.percentile(50)));
    std::fprintf(out, "    in callbacks (the traced run's state medians, summed)    %8.2f %8.2f\n",
                 us(callbacks_ns[0]), us(callbacks_ns[1]));
    std::fprintf(out, "    the rest: the hand-over to hc-hotplug/N and back         %8.2f %8.2f\n",
                 us(_half[0].walk.percentile(50) - callbacks_ns[0]),
                 us(_half[1].walk.percentile(50) - callbacks_ns[1]));
  }

  // json() writes {"down": {"outside_walk", "walk", "callbacks"}, "up": {...}} in ns.
  void json(json_writer& j) const {
    const auto& callbacks_ns = _callbacks_ns;
    j.begin_object();
    for (int d = 0; d < 2; ++d) {
      j.key(d == 0 ? "down" : "up");
      j.begin_object();
      j.field("outside_walk", _half[d].outside.percentile(50));
      j.field("walk", _half[d].walk.percentile(50));
      j.field("callbacks", callbacks_ns[d]);
      j.end_object();
    }
    j.end_object();
  }

 private:
  static std::int64_t last_walk_ns(runtime& rt, unsigned core, bool up) {
    for (const core_stats& c : rt.stats().cores)
      if (c.core == core) return up ? c.up.last_ns : c.down.last_ns;
    return 0;
  }
  struct half {
    log_histogram walk, outside;
  };
  half _half[2];
  std::int64_t _callbacks_ns[2] = {0, 0};  // 0 down, 1 up
};

}  // namespace hotcore::tools
