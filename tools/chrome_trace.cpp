// SPDX-License-Identifier: MIT
// tools/chrome_trace.cpp — runtime traces as Chrome / Perfetto trace-event JSON.
#include "chrome_trace.h"

#include <algorithm>
#include <map>
#include <string>

#include "hotcore/states.h"
#include "json_writer.h"

namespace hotcore::tools {
namespace {

constexpr int pid = 1;
// Worker tracks get ids of their own, apart from kernel thread ids.
constexpr int worker_track_base = 1 << 30;

double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

void slice(json_writer& j, const std::string& name, int tid, std::int64_t start_ns,
           std::int64_t dur_ns, unsigned core, const char* dir, int result) {
  j.begin_object();
  j.field("name", name);
  j.field("cat", "hotplug");
  j.field("ph", "X");
  j.field("pid", pid);
  j.field("tid", tid);
  j.field("ts", us(start_ns));
  j.field("dur", us(dur_ns));
  j.key("args");
  j.begin_object();
  j.field("core", core);
  j.field("dir", dir);
  if (dir[0] != '-') j.field("result", result);
  j.end_object();
  j.end_object();
}

void thread_name(json_writer& j, int tid, const std::string& name) {
  j.begin_object();
  j.field("name", "thread_name");
  j.field("ph", "M");
  j.field("pid", pid);
  j.field("tid", tid);
  j.key("args");
  j.begin_object();
  j.field("name", name);
  j.end_object();
  j.end_object();
}

}  // namespace

void write_chrome_trace(std::FILE* out, const std::vector<trace_event>& trace) {
  json_writer j(out);
  j.begin_object();
  j.field("displayTimeUnit", "ns");
  j.key("traceEvents");
  j.begin_array();
  std::map<int, std::string> names;       // tid -> track name
  std::map<unsigned, std::int64_t> since;  // core -> when it began taking tasks
  // A core active when the trace began took tasks from the trace's first moment; one
  // active at its end, until its last moment.
  std::int64_t first = 0, last = 0;
  for (const trace_event& ev : trace) {
    if (first == 0 || ev.start_ns < first) first = ev.start_ns;
    last = std::max(last, ev.start_ns + ev.nanoseconds);
  }
  for (const trace_event& ev : trace) {
    if (ev.injected) continue;
    const bool up = ev.dir == direction::up;
    if (!names.count(ev.tid))
      names[ev.tid] = ev.on_hotplug_thread ? "core " + std::to_string(ev.core) + " hotplug thread"
                                           : "control thread";
    slice(j, ev.name, ev.tid, ev.start_ns, ev.nanoseconds, ev.core, up ? "up" : "down", ev.result);
    if (ev.state != AP_SCHED_ACTIVE) continue;
    const int track = worker_track_base + static_cast<int>(ev.core);
    names[track] = "core " + std::to_string(ev.core) + " worker";
    if (up) {
      since[ev.core] = ev.start_ns + ev.nanoseconds;
    } else {
      const auto it = since.find(ev.core);
      const std::int64_t from = it != since.end() ? it->second : first;
      slice(j, "taking tasks", track, from, ev.start_ns - from, ev.core, "-", 0);
      if (it != since.end()) since.erase(it);
    }
  }
  for (const auto& [core, from] : since)
    slice(j, "taking tasks", worker_track_base + static_cast<int>(core), from, last - from, core,
          "-", 0);
  for (const auto& [tid, name] : names) thread_name(j, tid, name);
  j.end_array();
  j.end_object();
}

}  // namespace hotcore::tools
