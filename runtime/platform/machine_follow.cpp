// SPDX-License-Identifier: MIT
// runtime/platform/machine_follow.cpp — what the machine watch asks of the runtime
// (watch_host): availability to the governor, placement restored through the hotplug
// path, a new hwloc snapshot, the watch thread adopted as a helper, and physical mode's
// own offlines.
#include <mutex>

#include "platform/machine_watch.h"
#include "platform/topology_load.h"
#include "runtime_impl.h"

namespace hotcore::detail {
namespace {

class runtime_host final : public watch_host {
 public:
  explicit runtime_host(runtime_impl& rt) : _rt(rt) {}
  int tell_available(unsigned core, bool available) override {
    return _rt.gov.machine_available(core, available);
  }
  int restore_placement() override { return _rt.restore_placement(); }
  void reload_topology(const cpu_set_t& process_mask) override { _rt.reload_topology(process_mask); }
  void adopt(pid_t tid) override { _rt.adopt_helper(tid); }
  void release(pid_t tid) override { _rt.release_helper(tid); }
  bool take_own_offline(unsigned core) override { return _rt.physical.take_own_offline(core); }
  bool offlined_by_us(unsigned core) const override { return _rt.physical.offlined_by_us(core); }

 private:
  runtime_impl& _rt;
};

}  // namespace

std::unique_ptr<machine_watch> runtime_impl::make_watch() {
  std::vector<unsigned> cpu_of(core_ids.back() + 1);
  for (unsigned id : core_ids) cpu_of[id] = placing.cpu_of(id);
  return std::make_unique<machine_watch>(
      watch_config{.cores = core_ids,
                   .cpu_of = std::move(cpu_of),
                   .home = home_mask,
                   .follow_cpu_hotplug = options.follow_cpu_hotplug,
                   .follow_affinity = options.follow_affinity,
                   .affinity_poll_ms = options.affinity_poll_ms},
      std::make_unique<runtime_host>(*this));
}

void runtime_impl::reload_topology(const cpu_set_t& process_mask) {
  std::error_code ec;
  topology fresh = load_topology_for(process_mask, options.policy, ec);
  if (ec) return;  // keep the last snapshot
  std::lock_guard lk(topo_mutex);
  topo = std::move(fresh);
}

}  // namespace hotcore::detail
