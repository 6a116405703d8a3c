// SPDX-License-Identifier: MIT
// runtime/quota/quota_follower.cpp — the quota follower: one thread that sleeps in
// poll() on inotify (writes to the quota files) and a timer, re-reads the process's
// cgroup files through open fds, and moves the runtime to the target core count through
// the governor. Bad input keeps the last good target.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "hotcore/quota.h"
#include "clock.h"
#include "platform/file_read.h"
#include "quota/cgroup_reader.h"
#include "quota/quota_pacer.h"
#include "quota/quota_totals.h"
#include "trace/probes.h"

namespace hotcore {
namespace {

// thread_cpu_ns() is the calling thread's CPU time (user + system).
std::int64_t thread_cpu_ns() {
  rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  const auto us = [](const timeval& tv) { return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec; };
  return (us(ru.ru_utime) + us(ru.ru_stime)) * 1000;
}

// process_cpu_ns() is the CPU time of every thread of the process (user + system).
std::int64_t process_cpu_ns() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// errno_of() is the negative errno check_now() returns for an error.
int errno_of(const cgroup_error& err) {
  if (err.code.category() == std::generic_category()) return -err.code.value();
  switch (static_cast<cgroup_errc>(err.code.value())) {
    case cgroup_errc::malformed:
    case cgroup_errc::extra_field: return -EBADMSG;
    case cgroup_errc::out_of_range: return -ERANGE;
    default: return -ENOENT;
  }
}

// read_whole() reads a (proc) file from the start; false and err on failure.
bool read_whole(int fd, const std::string& path, std::string& text, cgroup_error& err) {
  if (const int ret = detail::read_fd_text(fd, text); ret < 0) {
    err.code = std::error_code(-ret, std::generic_category());
    err.message = path + ": " + err.code.message();
    return false;
  }
  return true;
}

bool read_path(const std::string& path, std::string& text, cgroup_error& err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err.code = std::error_code(errno, std::generic_category());
    err.message = path + ": " + err.code.message();
    return false;
  }
  const bool ok = read_whole(fd, path, text, err);
  ::close(fd);
  return ok;
}

}  // namespace

struct quota_follower::impl {
  impl(runtime& r, quota_follower_options o)
      : rt(r), opts(std::move(o)), totals(detail::quota_access::totals_of(r)) {}
  ~impl() {
    if (proc_cgroup_fd >= 0) ::close(proc_cgroup_fd);
  }

  runtime& rt;
  const quota_follower_options opts;
  const std::shared_ptr<detail::quota_totals> totals;  // runtime::stats().quota
  topology topo;  // for leave_policy::keep_together, loaded by enable()

  // run_mutex serializes enable()/disable(); the thread and wake_fd belong to it.
  std::mutex run_mutex;
  std::thread thread;
  int wake_fd = -1;
  // stop is set by disable() before it wakes the thread; relaxed: the eventfd write and
  // read order it (a syscall pair), and the thread re-checks it after every wake-up.
  std::atomic<bool> stop{false};

  // check_mutex serializes checks (the thread and check_now()); it guards what follows.
  std::mutex check_mutex;
  detail::cgroup_reader reader;
  bool reader_open = false;
  int proc_cgroup_fd = -1;
  std::string proc_cgroup_text;
  unsigned quota_count = 0;  // quota_cores() of the last good limit, for hysteresis
  // pacer keeps a fractional limit's extra core within the quota (quota_pacer.h);
  // gov_full is the governor's limit without the pacer's cap (0: no limit), paced_at
  // when the pacer looks next (0: not pacing).
  detail::quota_pacer pacer{2'000'000, std::max<std::int64_t>(2'000'000, opts.poll_interval.count() * 1'000'000)};
  unsigned gov_full = 0;
  std::int64_t paced_at = 0;
  // own_spin is the runtime's idle spin from before a limit applied (set while one does).
  std::optional<std::chrono::microseconds> own_spin;
  std::int64_t last_check_ns = 0;
  std::int64_t last_lookup_ns = 0;  // when /proc/self/cgroup was last read
  static constexpr std::int64_t rediscover_ns = 1'000'000'000;

  // status_mutex guards st; status() copies it.
  mutable std::mutex status_mutex;
  quota_status st;
  // cpu_this_run is the follower thread's CPU time in the current run; relaxed: a
  // statistic, read by status() without ordering anything else.
  std::atomic<std::int64_t> cpu_this_run{0};

  // reading is what one check read: the limit, the directory it came from, the cpuset.
  struct reading {
    cpu_limit limit;
    std::string from;
    std::vector<unsigned> cpuset;
    bool cpuset_found = false;
  };
  struct targets_t {
    unsigned target = 0;     // the follower's target (status().target)
    unsigned gov_limit = 0;  // what the governor gets (set_core_limit)
  };
  int check(bool by_event);
  void lookup(std::int64_t seen, cgroup_error& err);
  targets_t targets(const cpu_limit& limit, const reading& r);
  cpu_limit record(const reading& r, unsigned target);
  int apply(quota_change& change, bool move);
  void idle_spin_for(const cpu_limit& limit);
  unsigned governor_limit() const;
  void pace_limit(const cpu_limit& limit, unsigned full);
  void pace(std::int64_t now);
  int loop_timeout(std::int64_t now, std::int64_t next_check) const;
  bool discover(cgroup_error& err);
  void report(const cgroup_error& err);
  void loop();
};

// discover() finds the process's cpu and cpuset groups and opens their files.
bool quota_follower::impl::discover(cgroup_error& err) {
  reader.close();
  reader_open = false;
  std::string mountinfo;
  if (!read_path(opts.proc_self + "/mountinfo", mountinfo, err)) return false;
  const cgroup_location cpu = find_cgroup("cpu", proc_cgroup_text, mountinfo, err);
  if (err) return false;
  {
    std::lock_guard lk(status_mutex);
    st.cpu_group = cpu;
  }
  if (!reader.open_cpu(cpu, opts.use_inotify, err)) return false;
  cgroup_error cpuset_err;
  const cgroup_location cpuset = find_cgroup("cpuset", proc_cgroup_text, mountinfo, cpuset_err);
  // No cpuset hierarchy at all is fine (no restriction); a bad one is an error.
  if (!cpuset_err && !reader.open_cpuset(cpuset, opts.use_inotify, err)) return false;
  reader_open = true;
  return true;
}

// report() records the outcome of a check and tells on_error about a new error.
void quota_follower::impl::report(const cgroup_error& err) {
  bool fresh = false;
  {
    std::lock_guard lk(status_mutex);
    fresh = err && (err.code != st.last_error.code || err.message != st.last_error.message);
    st.last_error = err;
  }
  if (fresh && opts.on_error) opts.on_error(err);
}

// lookup() re-reads /proc/self/cgroup when it is due (a move to another group has no
// event, so at most once a second: it costs more than the quota files, and at once after
// an error) and finds the groups again when they changed.
void quota_follower::impl::lookup(std::int64_t seen, cgroup_error& err) {
  const std::string proc_cgroup = opts.proc_self + "/cgroup";
  if (proc_cgroup_fd < 0) proc_cgroup_fd = ::open(proc_cgroup.c_str(), O_RDONLY | O_CLOEXEC);
  std::string text;
  if (reader_open && seen - last_lookup_ns < rediscover_ns) return;  // where it was
  if (proc_cgroup_fd < 0) {
    err.code = std::error_code(errno, std::generic_category());
    err.message = proc_cgroup + ": " + err.code.message();
  } else if (read_whole(proc_cgroup_fd, proc_cgroup, text, err)) {
    last_lookup_ns = seen;
    if (text != proc_cgroup_text || !reader_open) {
      proc_cgroup_text = std::move(text);
      discover(err);
    }
  }
}

// targets() turns a limit and a cpuset into the follower's target (the quota's cores
// within the cores of the cpuset that are available) and the governor's limit (the quota
// and cpuset part only, 0: no limit; cores coming back into the affinity mask are the
// governor's own business).
quota_follower::impl::targets_t quota_follower::impl::targets(const cpu_limit& limit,
                                                              const reading& r) {
  const std::vector<unsigned>& cores = rt.cores();
  const auto in_cpuset = [&](unsigned c) {
    return !r.cpuset_found ||
           std::binary_search(r.cpuset.begin(), r.cpuset.end(), static_cast<unsigned>(rt.cpu_of(c)));
  };
  const unsigned in_set = static_cast<unsigned>(std::count_if(cores.begin(), cores.end(), in_cpuset));
  const unsigned allowed = static_cast<unsigned>(std::count_if(
      cores.begin(), cores.end(), [&](unsigned c) { return in_cpuset(c) && rt.core_available(c); }));
  quota_count = quota_cores(limit, opts.policy, quota_count);
  return {.target = core_target(quota_count, allowed),
          .gov_limit = quota_count == 0 && in_set == cores.size() ? 0 : core_target(quota_count, in_set)};
}

// record() puts a good reading into status(); the limit it replaces.
cpu_limit quota_follower::impl::record(const reading& r, unsigned target) {
  std::lock_guard lk(status_mutex);
  const cpu_limit old_limit = st.limit;
  st.limit = r.limit;
  st.limit_dir = r.from;
  st.cpuset_found = r.cpuset_found;
  st.cpuset = r.cpuset;
  st.target = target;
  st.note.clear();
  if (!r.limit.unlimited() && r.limit.quota_us < r.limit.period_us) {
    char note[128];
    std::snprintf(note, sizeof note, "quota %.2f CPUs is below one period: %u core (never fewer)",
                  r.limit.cpus(), target);
    st.note = note;
  }
  return old_limit;
}

// idle_spin_for() gives the runtime the idle spin for a limit: idle_spin_limited while a
// limit applies (the kernel bills spinning to the quota that requests need), and the
// runtime's own spin back when none does.
void quota_follower::impl::idle_spin_for(const cpu_limit& limit) {
  if (limit.unlimited()) {
    if (own_spin) (void)rt.set_idle_spin(*std::exchange(own_spin, std::nullopt));
    return;
  }
  if (!own_spin) own_spin = rt.idle_spin();
  (void)rt.set_idle_spin(opts.idle_spin_limited);  // checked by create()
}

// governor_limit() is the limit the governor should hold now: gov_full, capped by the
// pacer while it holds the extra core back.
unsigned quota_follower::impl::governor_limit() const {
  const unsigned cap = pacer.cap();
  return cap == 0 ? gov_full : gov_full == 0 ? cap : std::min(gov_full, cap);
}

// pace_limit() tells the pacer the limit and the cores it gives: what a whole period can
// keep running is its floor.
void quota_follower::impl::pace_limit(const cpu_limit& limit, unsigned full) {
  const bool was = pacer.pacing();
  const auto low = limit.unlimited() ? 0u : static_cast<unsigned>(limit.quota_us / limit.period_us);
  pacer.set_limit(opts.pace ? limit.quota_us : -1, limit.period_us, full, low);
  if (pacer.pacing() && !was) paced_at = detail::monotonic_ns();
  if (!pacer.pacing()) paced_at = 0;
  std::lock_guard lk(status_mutex);
  st.pacing = pacer.pacing();
  st.paced = pacer.cap() != 0;
}

// pace() is one look of the pacer: it moves the cores when its cap changes.
void quota_follower::impl::pace(std::int64_t now) {
  const unsigned before = pacer.cap();
  (void)pacer.look(now, opts.process_cpu_ns ? opts.process_cpu_ns() : process_cpu_ns());
  paced_at = now + pacer.next_look_ns();
  if (pacer.cap() == before) return;
  const bool moved = governor_limit() != rt.core_limit() && rt.set_core_limit(governor_limit()) == 0;
  std::lock_guard lk(status_mutex);
  st.paced = pacer.cap() != 0;  // what the pacer decided, also when no core had to move
  if (moved) ++st.paced_moves;
}

// apply() moves the runtime's core limit to governor_limit() (when it changed) and
// reports the change.
int quota_follower::impl::apply(quota_change& change, bool move) {
  change.old_cores = static_cast<unsigned>(rt.online_cores().size());
  if (move) change.result = rt.set_core_limit(governor_limit());
  change.applied_ns = detail::monotonic_ns();
  change.new_cores = static_cast<unsigned>(rt.online_cores().size());
  // relaxed: statistics for runtime::stats().
  totals->changes.fetch_add(1, std::memory_order_relaxed);
  totals->last_reaction_ns.store(change.applied_ns - change.seen_ns, std::memory_order_relaxed);
  HOTCORE_PROBE(quota_change, change.old_limit.quota_us, change.new_limit.quota_us,
                change.new_limit.period_us, change.old_cores, change.new_cores,
                change.applied_ns - change.seen_ns);
  {
    std::lock_guard lk(status_mutex);
    ++st.changes;
  }
  if (opts.on_change) opts.on_change(change);
  return change.result == -EDEADLK ? -EDEADLK : 0;
}

int quota_follower::impl::check(bool by_event) {
  const std::int64_t seen = detail::monotonic_ns();
  const std::int64_t previous = std::exchange(last_check_ns, seen);
  {
    std::lock_guard lk(status_mutex);
    ++st.checks;
    if (by_event) ++st.events;
  }
  // relaxed: a statistic for runtime::stats().
  totals->checks.fetch_add(1, std::memory_order_relaxed);
  cgroup_error err;
  lookup(seen, err);
  reading r;
  if (!err && reader.read_limit(r.limit, r.from, err)) reader.read_cpuset(r.cpuset, r.cpuset_found, err);
  if (err) {
    // A vanished or unreadable group is looked up again next time; the target stays.
    if (err.code.category() == std::generic_category()) reader_open = false;
    report(err);
    return errno_of(err);
  }
  report(err);
  const targets_t t = targets(r.limit, r);
  const cpu_limit old_limit = record(r, t.target);
  idle_spin_for(r.limit);
  gov_full = t.gov_limit;
  pace_limit(r.limit, t.gov_limit);
  const bool move = governor_limit() != rt.core_limit();
  if (!move && r.limit == old_limit) return 0;
  quota_change change;
  change.old_limit = old_limit;
  change.new_limit = r.limit;
  change.limit_dir = r.from;
  change.target = t.target;
  change.previous_check_ns = previous;
  change.seen_ns = seen;
  change.by_event = by_event;
  return apply(change, move);
}

// loop_timeout() is poll()'s timeout in ms: until the next check (poll_interval) or the
// pacer's next look, whichever comes first; -1: none is due.
int quota_follower::impl::loop_timeout(std::int64_t now, std::int64_t next_check) const {
  std::int64_t due = next_check;
  if (paced_at != 0 && (due == 0 || paced_at < due)) due = paced_at;
  if (due == 0) return -1;
  return static_cast<int>(std::max<std::int64_t>(0, (due - now + 999'999) / 1'000'000));
}

void quota_follower::impl::loop() {
  (void)pthread_setname_np(pthread_self(), "hc-quota");
  // Off the cores that are down, like the runtime's own threads (README: vacating a
  // core); every core that goes down or comes up re-places it from now on.
  rt.adopt_thread();
  const std::int64_t interval = opts.poll_interval.count() * 1'000'000;
  std::int64_t next_check = interval > 0 ? detail::monotonic_ns() + interval : 0;
  for (;;) {
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {-1, POLLIN, 0}};
    int timeout;
    {
      std::lock_guard lk(check_mutex);
      fds[1].fd = reader.event_fd();
      timeout = loop_timeout(detail::monotonic_ns(), next_check);
    }
    const int n = ::poll(fds, 2, timeout);
    if (stop.load(std::memory_order_relaxed)) break;
    if (n < 0 && errno != EINTR) break;
    {
      std::lock_guard lk(check_mutex);
      const std::int64_t now = detail::monotonic_ns();
      const bool by_event = reader.drain_events();
      if (by_event || (interval > 0 && now >= next_check)) {
        (void)check(by_event);
        if (interval > 0) next_check = now + interval;
      }
      if (paced_at != 0 && now >= paced_at) pace(now);
    }
    cpu_this_run.store(thread_cpu_ns(), std::memory_order_relaxed);
  }
  rt.release_thread();
  const std::int64_t used = thread_cpu_ns();
  std::lock_guard lk(status_mutex);
  st.cpu_ns += used;
  cpu_this_run.store(0, std::memory_order_relaxed);
}

quota_follower::quota_follower(std::unique_ptr<impl> p) : _impl(std::move(p)) {}

quota_follower::~quota_follower() { disable(); }

std::unique_ptr<quota_follower> quota_follower::create(runtime& rt, quota_follower_options options,
                                                       std::error_code& ec) {
  ec.clear();
  if (options.proc_self.empty() || options.poll_interval.count() < 0 ||
      (options.poll_interval.count() == 0 && !options.use_inotify) ||
      options.idle_spin_limited < std::chrono::microseconds::zero() ||
      options.idle_spin_limited > max_idle_spin) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  return std::unique_ptr<quota_follower>(
      new quota_follower(std::make_unique<impl>(rt, std::move(options))));
}

int quota_follower::enable() {
  impl& d = *_impl;
  std::lock_guard run(d.run_mutex);
  if (d.thread.joinable()) return -EALREADY;
  int ret;
  if (d.opts.leave == leave_policy::keep_together) {
    // It ranks cores by the topology of their own numbers: simulated cores share CPUs.
    if (d.rt.simulated()) return -EOPNOTSUPP;
    std::error_code ec;
    d.topo = load_topology(ec);
    if (ec) return -ec.value();
    ret = d.rt.set_leave_order(
        [&topo = d.topo](const std::vector<unsigned>& up) { return keep_together_order(topo, up); });
  } else {
    ret = d.rt.set_leave_order({});
  }
  if (ret == -EDEADLK) return ret;
  {
    std::lock_guard lk(d.check_mutex);
    if (d.check(false) == -EDEADLK) return -EDEADLK;
  }
  d.wake_fd = ::eventfd(0, EFD_CLOEXEC);
  if (d.wake_fd < 0) return -errno;
  d.stop.store(false, std::memory_order_relaxed);
  try {
    d.thread = std::thread([&d] { d.loop(); });
  } catch (const std::system_error& e) {
    ::close(d.wake_fd);
    d.wake_fd = -1;
    return -e.code().value();
  }
  std::lock_guard lk(d.status_mutex);
  d.st.enabled = true;
  return 0;
}

void quota_follower::disable() {
  impl& d = *_impl;
  std::lock_guard run(d.run_mutex);
  if (!d.thread.joinable()) return;
  d.stop.store(true, std::memory_order_relaxed);
  const std::uint64_t one = 1;
  while (::write(d.wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  d.thread.join();
  ::close(d.wake_fd);
  d.wake_fd = -1;
  {
    std::lock_guard lk(d.check_mutex);
    d.idle_spin_for(cpu_limit{});  // not following: the runtime's own spin again
    // A core the pacer holds back comes back: pacing stops with the follower.
    const bool capped = d.pacer.cap() != 0;
    d.pace_limit(cpu_limit{}, 0);
    if (capped) (void)d.rt.set_core_limit(d.gov_full);
  }
  std::lock_guard lk(d.status_mutex);
  d.st.enabled = false;
}

bool quota_follower::enabled() const {
  std::lock_guard lk(_impl->status_mutex);
  return _impl->st.enabled;
}

int quota_follower::check_now() {
  std::lock_guard lk(_impl->check_mutex);
  _impl->reader.drain_events();
  return _impl->check(false);
}

quota_status quota_follower::status() const {
  std::lock_guard lk(_impl->status_mutex);
  quota_status s = _impl->st;
  s.cpu_ns += _impl->cpu_this_run.load(std::memory_order_relaxed);
  return s;
}

}  // namespace hotcore
