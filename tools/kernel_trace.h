// SPDX-License-Identifier: MIT
// tools/kernel_trace.h — the kernel's own CPU-hotplug state machine, timed: its cpuhp
// tracepoints recorded in a private tracefs instance while `hotcore cycle --physical`
// writes cpuN/online, so the kernel's part of a cycle splits into the kernel's states.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hotcore::tools {

// kernel_step is one kernel hotplug callback that ran: cpuhp_enter (or cpuhp_multi_enter)
// paired with its cpuhp_exit on the same thread.
struct kernel_step {
  int step = -1;            // the kernel state (the number in .../cpu/hotplug/states)
  bool up = false;          // startup (the target lies above the step) or teardown
  std::string where;        // the thread that ran it, pid left off: "cpuhp/1", "kworker/0:1", ...
  std::int64_t ns = 0;      // enter to exit
  std::int64_t end_ns = 0;  // exit, on CLOCK_MONOTONIC (the instance's trace clock "mono")
};

// parse_kernel_steps() pairs the cpuhp_enter/cpuhp_multi_enter and cpuhp_exit lines of a
// tracefs `trace` file's text; other lines (comments, other events, an exit whose enter
// was lost) are skipped.
[[nodiscard]] std::vector<kernel_step> parse_kernel_steps(std::string_view trace_text);

// kernel_state_names() reads /sys/devices/system/cpu/hotplug/states ("  83: cpu:bringup").
[[nodiscard]] std::map<int, std::string> kernel_state_names();

// kernel_hotplug_trace records the cpuhp events in its own tracefs instance
// (instances/hotcore-<pid>), so it neither reads nor disturbs anyone else's tracing. It
// mounts tracefs on /sys/kernel/tracing if nothing has (and unmounts it again), and
// removes its instance when destroyed.
//
// The kernel does not trace the STARTING section's callbacks (they run on the CPU being
// brought up or taken down before RCU watches it, where tracepoints are skipped): their
// time lies inside cpu:bringup and cpu:teardown.
class kernel_hotplug_trace {
 public:
  // open() starts recording (root). nullptr with `why` set when tracefs, the instance or
  // the cpuhp events are not available.
  [[nodiscard]] static std::unique_ptr<kernel_hotplug_trace> open(std::string& why);
  ~kernel_hotplug_trace();
  kernel_hotplug_trace(const kernel_hotplug_trace&) = delete;
  kernel_hotplug_trace& operator=(const kernel_hotplug_trace&) = delete;

  // read() returns every callback recorded so far (the buffer is not consumed).
  [[nodiscard]] std::vector<kernel_step> read() const;

 private:
  kernel_hotplug_trace(std::string root, std::string instance, bool mounted)
      : _root(std::move(root)), _instance(std::move(instance)), _mounted(mounted) {}
  std::string _root;      // the tracefs mount point
  std::string _instance;  // _root + "/instances/hotcore-<pid>"
  bool _mounted;          // we mounted tracefs, and unmount it
};

}  // namespace hotcore::tools
