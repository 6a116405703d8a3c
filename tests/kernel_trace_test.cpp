// SPDX-License-Identifier: MIT
// tests/kernel_trace_test.cpp — `hotcore cycle --physical`'s reading of the kernel's cpuhp
// tracepoints: enter and exit lines paired per thread and state, the kernel's state names.
#include <doctest/doctest.h>

#include <algorithm>

#include "../tools/kernel_trace.h"

using hotcore::tools::kernel_step;
using hotcore::tools::parse_kernel_steps;

namespace {

// A down and an up of cpu1 as tracefs prints them (6.18, trace_clock mono), trimmed: the
// control side's "online" teardown waits while cpuhp/1 runs its own; blk_mq is a
// multi-instance state; other events, comments and an exit whose enter was lost are mixed in.
constexpr const char* trace_text =
    "# tracer: nop\n"
    "#\n"
    "     kworker/0:0-30427   [000] ..... 22741.190441: cpuhp_enter: cpu: 0001 target: 144 step: 236 (cpuhp_kick_ap_work)\n"
    "         cpuhp/1-20      [001] ..... 22741.191507: cpuhp_enter: cpu: 0001 target: 144 step: 235 (sched_cpu_deactivate)\n"
    "          <idle>-0       [001] d.... 22741.191600: sched_switch: prev_comm=swapper/1\n"
    "         cpuhp/1-20      [001] ..... 22741.206393: cpuhp_exit:  cpu: 0001  state: 234 step: 235 ret: 0\n"
    "         cpuhp/1-20      [001] ..... 22741.206400: cpuhp_multi_enter: cpu: 0001 target: 144 step: 151 (blk_mq_hctx_notify_offline)\n"
    "         cpuhp/1-20      [001] ..... 22741.206402: cpuhp_exit:  cpu: 0001  state: 150 step: 151 ret: 0\n"
    "         cpuhp/1-20      [001] ..... 22741.206403: cpuhp_multi_enter: cpu: 0001 target: 144 step: 151 (blk_mq_hctx_notify_offline)\n"
    "         cpuhp/1-20      [001] ..... 22741.206406: cpuhp_exit:  cpu: 0001  state: 150 step: 151 ret: 0\n"
    "         cpuhp/1-20      [001] ..... 22741.206500: cpuhp_exit:  cpu: 0001  state: 148 step: 149 ret: 0\n"
    "     kworker/0:0-30427   [000] ..... 22741.222725: cpuhp_exit:  cpu: 0001  state: 144 step: 236 ret: 0\n"
    "   my prog 2-31016   [000] ..... 22741.243706: cpuhp_enter: cpu: 0001 target: 236 step:  83 (cpuhp_bringup_ap)\n"
    "   my prog 2-31016   [001] ..... 22741.249695: cpuhp_exit:  cpu: 0001  state: 236 step:  83 ret: 0\n";

}  // namespace

TEST_CASE("cycle --physical pairs each cpuhp_enter with its cpuhp_exit on the same thread") {
  const std::vector<kernel_step> steps = parse_kernel_steps(trace_text);
  REQUIRE(steps.size() == 5);  // the exit of step 149 had no enter: left out
  // In the order the exits came.
  CHECK(steps[0].step == 235);
  CHECK_FALSE(steps[0].up);  // target 144 lies below step 235: a teardown
  CHECK(steps[0].where == "cpuhp/1");
  CHECK(steps[0].ns == 14'886'000);
  CHECK(steps[0].end_ns == 22741'206393'000);
  // A multi-instance state: one pair per instance.
  CHECK(steps[1].step == 151);
  CHECK(steps[1].ns == 2'000);
  CHECK(steps[2].step == 151);
  CHECK(steps[2].ns == 3'000);
  // The control side's wait nests the AP's callbacks; another thread's pid keeps it apart.
  CHECK(steps[3].step == 236);
  CHECK(steps[3].where == "kworker/0:0");
  CHECK(steps[3].ns == 32'284'000);
  // A startup (target above the step) run by a thread whose name has spaces and digits.
  CHECK(steps[4].step == 83);
  CHECK(steps[4].up);
  CHECK(steps[4].where == "my prog 2");
  CHECK(steps[4].ns == 5'989'000);
}

TEST_CASE("cycle --physical skips what is not a whole cpuhp line") {
  CHECK(parse_kernel_steps("").empty());
  CHECK(parse_kernel_steps("# comment only\n\n").empty());
  // No pid, a timestamp that is not a number, a missing step: none of them pairs.
  CHECK(parse_kernel_steps("  cpuhp/1 [001] ..... 1.000001: cpuhp_enter: cpu: 0001 target: 1 step: 2 (f)\n"
                           "  cpuhp/1 [001] ..... 1.000002: cpuhp_exit:  cpu: 0001  state: 2 step: 2 ret: 0\n")
            .empty());
  CHECK(parse_kernel_steps("  t-1 [001] ..... x.y: cpuhp_enter: cpu: 0001 target: 1 step: 2 (f)\n"
                           "  t-1 [001] ..... 1.000002: cpuhp_exit:  cpu: 0001  state: 2 step: 2 ret: 0\n")
            .empty());
  CHECK(parse_kernel_steps("  t-1 [001] ..... 1.000001: cpuhp_enter: cpu: 0001 target: 1 (f)\n"
                           "  t-1 [001] ..... 1.000002: cpuhp_exit:  cpu: 0001  state: 2 step: 2 ret: 0\n")
            .empty());
  // An enter with no exit (the buffer ended) is not a callback either.
  CHECK(parse_kernel_steps("  t-1 [001] ..... 1.000001: cpuhp_enter: cpu: 0001 target: 1 step: 2 (f)\n")
            .empty());
}

TEST_CASE("cycle --physical names the kernel's states from /sys/devices/system/cpu/hotplug/states") {
  const std::map<int, std::string> names = hotcore::tools::kernel_state_names();
  REQUIRE_FALSE(names.empty());
  CHECK(names.at(0) == "offline");
  const auto has = [&](const char* name) {
    return std::any_of(names.begin(), names.end(), [&](const auto& kv) { return kv.second == name; });
  };
  CHECK(has("cpu:bringup"));
  CHECK(has("sched:active"));
  CHECK(has("online"));
}
