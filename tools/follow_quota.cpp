// SPDX-License-Identifier: MIT
// tools/follow_quota.cpp — `hotcore follow-quota`: a busy workload on the runtime while the
// quota follower moves its cores with the container's CPU quota. One line per change
// (old and new quota, old and new core count, reaction time); at the end the reaction
// median and p99 and the follower's own CPU use. --drive writes the quotas itself into a
// cgroup v1 group of its own, so each reaction is timed from the write.
#include "follow_quota.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "flag_limits.h"
#include "hotcore/parallel.h"
#include "hotcore/quota.h"
#include "hotcore/runtime.h"
#include "json_writer.h"
#include "stats.h"

namespace {

using hotcore::cpu_limit;
using hotcore::quota_change;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;

// stop_requested is set by SIGINT/SIGTERM/SIGHUP (a closed terminal) so that --drive
// still removes its group.
std::atomic<bool> stop_requested{false};  // relaxed everywhere: a flag polled by loops
void on_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// own_group is the cgroup v1 cpu group --drive makes, enters and always leaves.
class own_group {
 public:
  // enter() makes <cpu group>/hotcore-follow-<pid>, moves the process in and sets the
  // period; false (and a message) when that is not possible here.
  bool enter() {
    hotcore::cgroup_error err;
    const hotcore::cgroup_location loc = hotcore::find_cgroup(
        "cpu", slurp("/proc/self/cgroup"), slurp("/proc/self/mountinfo"), err);
    if (err) return fail(err.message);
    if (loc.version != hotcore::cgroup_version::v1)
      return fail("--drive needs the cgroup v1 cpu controller (this machine's cpu controller is v2: "
                  "write cpu.max from outside instead)");
    _parent = loc.dir();
    remove_dead_groups();
    _dir = _parent + "/hotcore-follow-" + std::to_string(getpid());
    if (::mkdir(_dir.c_str(), 0755) != 0) return fail(_dir + ": " + std::strerror(errno));
    _made = true;
    if (!write_text(_dir + "/cpu.cfs_period_us", "100000"))
      return fail(_dir + "/cpu.cfs_period_us: cannot write");
    if (!write_text(_dir + "/cgroup.procs", std::to_string(getpid())))
      return fail(_dir + "/cgroup.procs: cannot move the process in");
    _inside = true;
    return true;
  }
  // set_quota() writes cpu.cfs_quota_us (-1: no limit).
  bool set_quota(std::int64_t quota_us) {
    return write_text(_dir + "/cpu.cfs_quota_us", std::to_string(quota_us));
  }
  // leave() moves the process back to its group and removes ours; call it once no
  // thread but the main one is left.
  void leave() {
    if (_inside && !write_text(_parent + "/cgroup.procs", std::to_string(getpid())))
      std::fprintf(stderr, "hotcore follow-quota: could not move back to %s\n", _parent.c_str());
    _inside = false;
    if (_made && ::rmdir(_dir.c_str()) != 0)
      std::fprintf(stderr, "hotcore follow-quota: could not remove %s: %s\n", _dir.c_str(),
                   std::strerror(errno));
    _made = false;
  }
  ~own_group() { leave(); }

 private:
  // remove_dead_groups() removes the hotcore-follow-<pid> groups of followers that died
  // without leaving theirs (SIGKILL): the pid is gone, so the group has no process left.
  void remove_dead_groups() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(_parent, ec)) {
      const std::string name = entry.path().filename().string();
      constexpr std::string_view prefix = "hotcore-follow-";
      if (!name.starts_with(prefix)) continue;
      pid_t pid = 0;
      const char* digits = name.c_str() + prefix.size();
      const auto [end, perr] = std::from_chars(digits, name.c_str() + name.size(), pid);
      if (perr != std::errc{} || *end != '\0' || pid <= 0) continue;
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its follower still runs
      if (::rmdir(entry.path().c_str()) == 0)
        std::fprintf(stderr, "hotcore follow-quota --drive: removed %s (its follower, pid %d, died)\n",
                     entry.path().c_str(), static_cast<int>(pid));
    }
  }
  bool fail(const std::string& why) {
    std::fprintf(stderr, "hotcore follow-quota --drive: %s\n", why.c_str());
    return false;
  }
  std::string _parent, _dir;
  bool _made = false, _inside = false;
};

// recorder prints each change and keeps the reaction samples.
struct recorder {
  std::mutex mu;
  bool drive = false;
  std::int64_t write_ns = 0;  // --drive: when the quota in `written` was written
  cpu_limit written;
  std::vector<std::int64_t> samples;  // ns
  long moves = 0;
  std::FILE* text = stdout;  // the lines (stderr under --json)
  // One row per change, for --json.
  struct row {
    quota_change change;
    std::int64_t reaction_ns;
    const char* how;
  };
  std::vector<row> rows;

  void on_change(const quota_change& c) {
    std::lock_guard lk(mu);
    std::int64_t reaction;
    const char* how;
    if (drive && write_ns != 0 && c.new_limit == written) {
      reaction = c.applied_ns - write_ns;
      how = c.by_event ? "from the write, seen by inotify" : "from the write, seen by polling";
    } else if (c.by_event) {
      reaction = c.applied_ns - c.seen_ns;
      how = "from the inotify event";
    } else {
      reaction = c.applied_ns - c.previous_check_ns;
      how = "at most: since the check before, by polling";
    }
    if (c.old_cores != c.new_cores) ++moves;
    if (c.previous_check_ns == 0) {
      // The first reading (at enable()): nothing changed under it, so no reaction time.
      rows.push_back({c, -1, "initial reading"});
      std::fprintf(text, "quota %s  cores %u -> %u  (initial reading)%s\n",
                   hotcore::limit_text(c.new_limit).c_str(), c.old_cores, c.new_cores,
                   c.result < 0 ? "  [set_core_limit failed]" : "");
      std::fflush(text);
      return;
    }
    samples.push_back(reaction);
    rows.push_back({c, reaction, how});
    std::fprintf(text, "quota %s -> %s  cores %u -> %u  reaction %.2f ms (%s)%s\n",
                hotcore::limit_text(c.old_limit).c_str(), hotcore::limit_text(c.new_limit).c_str(),
                c.old_cores, c.new_cores, static_cast<double>(reaction) / 1e6, how,
                c.result < 0 ? "  [set_core_limit failed]" : "");
    std::fflush(text);
  }
};

// workload keeps every core busy with parallel_reduce rounds until told to stop.
class workload {
 public:
  explicit workload(hotcore::runtime& rt) : _thread([this, &rt] { run(rt); }) {}
  ~workload() { stop(); }
  void stop() {
    _stop.store(true, std::memory_order_relaxed);
    if (_thread.joinable()) _thread.join();
  }
  long rounds() const { return _rounds.load(std::memory_order_relaxed); }

 private:
  void run(hotcore::runtime& rt) {
    std::vector<double> data(1 << 16);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<double>(i % 97);
    while (!_stop.load(std::memory_order_relaxed)) {
      const double sum = hotcore::parallel_reduce(
          rt, 0, data.size(), 1024, 0.0,
          [&](std::size_t b, std::size_t e, double acc) {
            for (std::size_t i = b; i < e; ++i) acc += std::sqrt(data[i] + acc * 1e-9);
            return acc;
          },
          std::plus<>());
      if (sum >= 0) _rounds.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // relaxed: flags and a counter read for reporting; join() orders the end.
  std::atomic<bool> _stop{false};
  std::atomic<long> _rounds{0};
  std::thread _thread;
};

// print_json() writes the run as one JSON object: every change with its reaction time
// (ns), the reaction summary and the follower's counters.
void print_json(std::FILE* out, const hotcore::quota_status& start, const recorder& rec,
                const hotcore::tools::summary& s, const hotcore::quota_status& st, double wall_s,
                long rounds) {
  hotcore::tools::json_writer j(out);
  j.begin_object();
  j.field("group", start.cpu_group.dir());
  j.field("drive", rec.drive);
  j.key("changes");
  j.begin_array();
  for (const recorder::row& r : rec.rows) {
    j.begin_object();
    j.field("old_quota_us", r.change.old_limit.quota_us);
    j.field("new_quota_us", r.change.new_limit.quota_us);
    j.field("period_us", r.change.new_limit.period_us);
    j.field("old_cores", r.change.old_cores);
    j.field("new_cores", r.change.new_cores);
    j.field("reaction_ns", r.reaction_ns);
    j.field("measured_from", r.how);
    j.field("counted", r.change.previous_check_ns != 0);
    j.field("result", r.change.result);
    j.end_object();
  }
  j.end_array();
  j.key("reaction_ns");
  j.begin_object();
  j.field("count", s.count);
  j.field("median", s.median);
  j.field("p99", s.p99);
  j.end_object();
  j.field("checks", static_cast<std::int64_t>(st.checks));
  j.field("events", static_cast<std::int64_t>(st.events));
  j.field("cpu_ns", static_cast<std::int64_t>(st.cpu_ns));
  j.field("wall_s", wall_s);
  j.field("workload_rounds", rounds);
  j.end_object();
}

// The quotas --drive writes in turn (period 100000 us; -1: no limit).
constexpr std::int64_t drive_quotas[] = {200000, 50000, 150000, 100000, -1, 70000, 250000, 100000};

// start_follower() makes the follower, enables it and checks that it could read the quota
// (fail closed: an unknown quota is not "max"); nullptr, with the reason on stderr, if not.
std::unique_ptr<hotcore::quota_follower> start_follower(hotcore::runtime& rt,
                                                        const follow_options& o,
                                                        const std::shared_ptr<recorder>& rec) {
  hotcore::quota_follower_options fo;
  fo.policy.rounding = o.rounding;
  fo.poll_interval = std::chrono::milliseconds(o.poll_ms);
  fo.use_inotify = o.inotify;
  fo.on_change = [rec](const quota_change& c) { rec->on_change(c); };
  fo.on_error = [](const hotcore::cgroup_error& e) {
    std::fprintf(stderr, "hotcore follow-quota: %s (keeping the last good target)\n", e.message.c_str());
  };
  std::error_code ec;
  auto follower = hotcore::quota_follower::create(rt, fo, ec);
  if (!follower) {
    std::fprintf(stderr, "hotcore follow-quota: %s\n", ec.message().c_str());
    return nullptr;
  }
  if (const int ret = follower->enable(); ret < 0) {
    std::fprintf(stderr, "hotcore follow-quota: enable: %s\n", std::strerror(-ret));
    return nullptr;
  }
  if (const hotcore::quota_status st = follower->status(); st.last_error) {
    std::fprintf(stderr, "hotcore follow-quota: cannot read the quota: %s\n",
                 st.last_error.message.c_str());
    return nullptr;
  }
  return follower;
}

// drive() runs the workload for o.seconds; with --drive it writes drive_quotas in turn,
// 150..249 ms apart. Returns the exit status; `rounds` is the workload's count.
int drive(hotcore::runtime& rt, const follow_options& o, own_group& group, recorder& rec,
          long& rounds) {
  const std::int64_t end = mono_ns() + o.seconds * 1000000000;
  int status = exit_ok;
  workload work(rt);
  std::uint32_t lcg = 12345;
  for (std::size_t step = 0; mono_ns() < end && !stop_requested.load(std::memory_order_relaxed); ++step) {
    if (!o.drive) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const std::int64_t quota = drive_quotas[step % std::size(drive_quotas)];
    {
      std::lock_guard lk(rec.mu);
      rec.written = cpu_limit{quota < 0 ? -1 : quota, 100000};
      rec.write_ns = mono_ns();
    }
    if (!group.set_quota(quota)) {
      std::fprintf(stderr, "hotcore follow-quota: cannot write the quota\n");
      status = exit_failed;
      break;
    }
    lcg = lcg * 1664525u + 1013904223u;  // 150..249 ms apart, so no poll phase is favoured
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + (lcg >> 16) % 100));
  }
  work.stop();
  rounds = work.rounds();
  std::fprintf(rec.text, "workload: %ld parallel_reduce rounds\n", rounds);
  return status;
}

// print_report() prints the reaction summary and the follower's counters (and the JSON
// object on stdout with --json).
void print_report(const follow_options& o, const hotcore::quota_status& start, recorder& rec,
                  const hotcore::quota_status& st, double wall_s, long rounds) {
  std::FILE* text = rec.text;
  {
    std::lock_guard lk(rec.mu);
    const hotcore::tools::summary s = hotcore::tools::summarize(rec.samples);
    std::fprintf(text, "reaction over %zu changes (%ld moved cores): median %.2f ms, p99 %.2f ms\n", s.count,
                 rec.moves, static_cast<double>(s.median) / 1e6, static_cast<double>(s.p99) / 1e6);
    if (o.json) print_json(stdout, start, rec, s, st, wall_s, rounds);
  }
  std::fprintf(text, "follower: %llu checks (%llu woken by inotify), CPU %.2f ms in %.1f s (%.4f%% of one CPU)\n",
               static_cast<unsigned long long>(st.checks), static_cast<unsigned long long>(st.events),
               static_cast<double>(st.cpu_ns) / 1e6, wall_s,
               100.0 * static_cast<double>(st.cpu_ns) / (wall_s * 1e9));
  if (st.last_error) std::fprintf(text, "last error: %s\n", st.last_error.message.c_str());
}

}  // namespace

int run_follow_quota(const follow_options& o) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  own_group group;
  if (o.drive && !group.enter()) return exit_failed;  // before any thread starts
  if (o.drive && !group.set_quota(-1)) return exit_failed;

  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) {
    std::fprintf(stderr, "hotcore follow-quota: cannot create the runtime: %s\n", ec.message().c_str());
    return exit_failed;
  }
  auto rec = std::make_shared<recorder>();
  rec->drive = o.drive;
  rec->text = o.json ? stderr : stdout;
  auto follower = start_follower(*rt, o, rec);
  if (!follower) return exit_failed;
  const hotcore::quota_status start = follower->status();
  std::fprintf(rec->text, "following %s (%s), %zu worker cores, %u up; quota %s\n",
              start.cpu_group.dir().empty() ? "no cgroup" : start.cpu_group.dir().c_str(),
              start.cpu_group.version == hotcore::cgroup_version::v1 ? "cgroup v1" : "cgroup v2",
              rt->cores().size(), static_cast<unsigned>(rt->online_cores().size()),
              hotcore::limit_text(start.limit).c_str());
  std::fflush(rec->text);

  const std::int64_t t0 = mono_ns();
  long rounds = 0;
  const int status = drive(*rt, o, group, *rec, rounds);
  follower->disable();
  print_report(o, start, *rec, follower->status(), static_cast<double>(mono_ns() - t0) / 1e9,
               rounds);
  follower.reset();
  rt.reset();
  group.leave();  // only the main thread is left: move it back, remove the group
  return status;
}
