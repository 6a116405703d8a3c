// SPDX-License-Identifier: MIT
// runtime/platform/machine_watch.cpp — the machine watch's thread: poll the uevent socket
// and a stop eventfd, with the affinity poll period as timeout; turn what it sees into
// availability for the governor.
#include "platform/machine_watch.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <utility>

#include "platform/sysfs_cpu.h"
#include "trace/probes.h"

namespace hotcore::detail {
namespace {

// action_name() names a uevent's action for the machine_event probe (unused where probes
// compile to nothing).
[[maybe_unused]] const char* action_name(cpu_uevent::action a) noexcept {
  switch (a) {
    case cpu_uevent::action::add: return "add";
    case cpu_uevent::action::remove: return "remove";
    case cpu_uevent::action::online: return "online";
    case cpu_uevent::action::offline: return "offline";
    case cpu_uevent::action::other: break;
  }
  return "other";
}

}  // namespace

machine_watch::machine_watch(watch_config config, std::unique_ptr<watch_host> host)
    : _config(std::move(config)),
      _host(std::move(host)),
      _affinity(_config.home),
      _told(_config.cores.back() + 1, -1),
      _retry(_config.cores.back() + 1, 0),
      _kernel_offlines(std::make_unique<std::atomic<unsigned long>[]>(_config.cores.back() + 1)) {}

bool machine_watch::is_core(unsigned core) const noexcept {
  return std::binary_search(_config.cores.begin(), _config.cores.end(), core);
}

watch_counts machine_watch::counts() const noexcept {
  // relaxed: statistics.
  return {.uevents = _uevent_count.load(std::memory_order_relaxed),
          .mask_changes = _mask_changes.load(std::memory_order_relaxed),
          .availability_changes = _availability_changes.load(std::memory_order_relaxed)};
}

unsigned long machine_watch::kernel_offlines(unsigned core) const noexcept {
  // relaxed: a statistic.
  return is_core(core) ? _kernel_offlines[core].load(std::memory_order_relaxed) : 0;
}

int machine_watch::open() {
  if (_config.follow_cpu_hotplug)
    if (const int ret = _uevents.open(); ret < 0) return ret;
  _stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (_stop_fd < 0) {
    const int err = errno;
    _uevents.close();
    return -err;
  }
  return 0;
}

int machine_watch::start() {
  try {
    _thread = std::thread([this] { loop(); });
  } catch (const std::system_error& e) {
    return e.code().value() > 0 ? -e.code().value() : -EAGAIN;
  }
  pid_t t;
  // acquire: pairs with loop()'s release store of the tid.
  while ((t = _tid.load(std::memory_order_acquire)) == 0) _tid.wait(0, std::memory_order_acquire);
  // Off the cores that are down, like every other thread of the runtime (placement keeps
  // it there from now on).
  _host->adopt(t);
  return 0;
}

void machine_watch::stop() noexcept {
  if (_thread.joinable()) {
    // acquire: pairs with loop()'s release store (start() waited for it already).
    _host->release(_tid.load(std::memory_order_acquire));
    const std::uint64_t one = 1;
    (void)!::write(_stop_fd, &one, sizeof one);
    _thread.join();
    // relaxed: only this thread reads it from now on.
    _tid.store(0, std::memory_order_relaxed);
  }
  if (_stop_fd >= 0) ::close(_stop_fd);
  _stop_fd = -1;
  _uevents.close();
}

void machine_watch::loop() {
  (void)pthread_setname_np(pthread_self(), "hc-watch");
  // release: publishes the tid to start().
  _tid.store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_release);
  _tid.notify_all();
  const bool poll_mask = _config.follow_affinity;
  const int period_ms = static_cast<int>(std::min(_config.affinity_poll_ms, 60'000u));
  for (;;) {
    if (_dirty || std::count(_retry.begin(), _retry.end(), 1) != 0) evaluate();
    pollfd fds[2] = {{_stop_fd, POLLIN, 0}, {_uevents.fd(), POLLIN, 0}};
    const nfds_t n = _uevents.fd() >= 0 ? 2 : 1;
    const bool retry = std::count(_retry.begin(), _retry.end(), 1) != 0;
    const int ret = ::poll(fds, n, poll_mask || retry ? period_ms : -1);
    if (ret < 0 && errno != EINTR) {
      ::usleep(static_cast<useconds_t>(period_ms) * 1000);  // should not happen: do not spin
      continue;
    }
    if (fds[0].revents != 0) return;
    if (n == 2 && fds[1].revents != 0) {
      // -ENOBUFS: events were dropped; the evaluation below looks at the whole machine.
      (void)_uevents.receive([this](const cpu_uevent& ev) { on_uevent(ev); });
      _dirty = true;
    }
    if (poll_mask && _affinity.poll()) {
      _dirty = true;
      // relaxed: a statistic for runtime::stats().
      _mask_changes.fetch_add(1, std::memory_order_relaxed);
      if (HOTCORE_PROBE_ON(machine_event)) {
        [[maybe_unused]] const cpu_set_t m = _affinity.mask();
        HOTCORE_PROBE(machine_event, -1, static_cast<const char*>("mask"), CPU_COUNT(&m));
      }
    }
  }
}

// on_uevent() acts on the edges the level evaluation would miss: a CPU that went offline
// and came back before we looked still took its cores down (their teardowns run, the
// kernel moved their threads), and a CPU that came back gets the runtime's threads placed
// again (the kernel widened the affinity of those it moved and does not narrow it).
void machine_watch::on_uevent(const cpu_uevent& ev) {
  // relaxed: a statistic for runtime::stats().
  _uevent_count.fetch_add(1, std::memory_order_relaxed);
  HOTCORE_PROBE(machine_event, static_cast<int>(ev.cpu), action_name(ev.act), 0);
  const bool gone = ev.act == cpu_uevent::action::offline || ev.act == cpu_uevent::action::remove;
  bool on_core = false;
  for (unsigned id : _config.cores) {
    if (_config.cpu_of[id] != ev.cpu) continue;
    on_core = true;
    if (!gone || _host->take_own_offline(id)) continue;  // cpu:physical's own offline
    // relaxed: a statistic.
    if (ev.act == cpu_uevent::action::offline)
      _kernel_offlines[id].fetch_add(1, std::memory_order_relaxed);
    _retry[id] = _host->tell_available(id, false) < 0;
    _told[id] = 0;
  }
  // A CPU back online, a core's or not: the kernel may have widened our threads when it
  // went offline.
  if (ev.act == cpu_uevent::action::online || (on_core && ev.act == cpu_uevent::action::add))
    (void)_host->restore_placement();
}

// evaluate() computes each core's availability from the machine as it is now (online in
// the kernel, in the process mask) and tells the governor what changed.
void machine_watch::evaluate() {
  const watch_config& opt = _config;
  cpu_set_t online;
  const bool have_online = read_online_cpus(online) == 0;
  cpu_set_t process = _affinity.mask();
  if (!opt.follow_affinity && read_process_mask(process) < 0) process = _config.home;
  for (unsigned id : _config.cores) {
    const unsigned cpu = opt.cpu_of[id];
    const bool kernel_ok = !opt.follow_cpu_hotplug || !have_online || CPU_ISSET(cpu, &online) ||
                           _host->offlined_by_us(id);
    const bool allowed = !opt.follow_affinity || CPU_ISSET(cpu, &process);
    const signed char available = kernel_ok && allowed ? 1 : 0;
    if (_told[id] == available && !_retry[id]) continue;
    _retry[id] = _host->tell_available(id, available != 0) < 0;
    if (_told[id] >= 0 && _told[id] != available)
      // relaxed: a statistic for runtime::stats().
      _availability_changes.fetch_add(1, std::memory_order_relaxed);
    _told[id] = available;
  }
  // The cores first, the snapshot after: an hwloc load takes milliseconds.
  if (_dirty) _host->reload_topology(process);
  _dirty = false;
}

}  // namespace hotcore::detail
