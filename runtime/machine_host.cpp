// SPDX-License-Identifier: MIT
// runtime/machine_host.cpp — the runtime's side of the machine watch (watch_host):
// availability to the governor, placement restored with no walk running, a new hwloc
// snapshot, the watch thread adopted as a helper, and physical mode's own offlines.
#include <mutex>

#include "hotplug/hotplug_thread.h"
#include "platform/machine_watch.h"
#include "platform/topology_load.h"
#include "runtime_impl.h"

namespace hotcore::detail {
namespace {

class runtime_host final : public watch_host {
 public:
  explicit runtime_host(runtime_impl& rt) : _rt(rt) {}
  int tell_available(unsigned core, bool available) override {
    _rt.machine_takes(core, !available);
    return _rt.gov().machine_available(core, available);
  }
  int restore_placement() override { return _rt.restore_placement(); }
  void reload_topology(const cpu_set_t& process_mask) override { _rt.reload_topology(process_mask); }
  void adopt(pid_t tid) override { _rt.adopt_helper(tid); }
  void release(pid_t tid) override { _rt.release_helper(tid); }
  bool take_own_offline(unsigned core) override { return _rt.physical().take_own_offline(core); }
  bool offlined_by_us(unsigned core) const override {
    return _rt.physical().offlined_by_us(core);
  }

 private:
  runtime_impl& _rt;
};

}  // namespace

int runtime_impl::start_machine() {
  if (!_options.follow_cpu_hotplug && !_options.follow_affinity) return 0;
  const std::vector<unsigned>& ids = _engine.cores();
  std::vector<unsigned> cpu_of(ids.back() + 1);
  for (unsigned id : ids) cpu_of[id] = _placing.cpu_of(id);
  _watch = std::make_unique<machine_watch>(
      watch_config{.cores = ids,
                   .cpu_of = std::move(cpu_of),
                   .home = _home_mask,
                   .follow_cpu_hotplug = _options.follow_cpu_hotplug,
                   .follow_affinity = _options.follow_affinity,
                   .affinity_poll_ms = _options.affinity_poll_ms},
      std::make_unique<runtime_host>(*this));
  return _watch->open();
}

int runtime_impl::run_machine() { return _watch ? _watch->start() : 0; }

int runtime_impl::restore_placement() {
  auto restore = [this] { return _placing.restore_all(); };
  return _engine.exclusive(restore);
}

void runtime_impl::adopt_helper(pid_t tid) {
  auto adopt = [this, tid] {
    _placing.adopt(tid);
    return 0;
  };
  _engine.serialized(adopt);
}

void runtime_impl::machine_takes(unsigned core, bool taken) {
  auto note = [this, core, taken] {
    _machine_took[core] = taken ? 1 : 0;
    return 0;
  };
  _engine.serialized(note);
}

bool runtime_impl::must_vacate(unsigned core) const noexcept {
  return _physical.takes_offline(core) || _machine_took[core] != 0;
}

void runtime_impl::release_helper(pid_t tid) {
  auto release = [this, tid] {
    _placing.release(tid);
    return 0;
  };
  _engine.serialized(release);
}

void runtime_impl::reload_topology(const cpu_set_t& process_mask) {
  std::error_code ec;
  topology fresh = load_topology_for(process_mask, _options.policy, ec);
  if (ec) return;  // keep the last snapshot
  std::lock_guard lk(_topo_mutex);
  _topo = std::move(fresh);
}

topology runtime_impl::topology_snapshot() const {
  std::lock_guard lk(_topo_mutex);
  return _topo;
}

unsigned long runtime_impl::kernel_offlines(unsigned core) const {
  return _watch ? _watch->kernel_offlines(core) : 0;
}

}  // namespace hotcore::detail
