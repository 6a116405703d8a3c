// SPDX-License-Identifier: MIT
// runtime/runtime.cpp — the public runtime: creation and destruction of its composition,
// the guard of the governor's entries, and the thin API over the engine, the governor and
// the scheduler.
#include "hotcore/runtime.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <set>
#include <utility>

#include "hotcore/topology.h"
#include "guard/client.h"
#include "platform/machine_watch.h"
#include "platform/sysfs_cpu.h"
#include "platform/topology_load.h"
#include "runtime_impl.h"

namespace hotcore {
namespace detail {

runtime_impl::runtime_impl(std::vector<unsigned> ids, const std::vector<unsigned>& cpus,
                           const cpu_set_t& home, const runtime_options& opts, topology topo)
    : _options(opts),
      _home_mask(home),
      _engine(ids, std::set<unsigned>(cpus.begin(), cpus.end()).size() == cpus.size(),
              opts.parallel_calls, [this](unsigned core) { return must_vacate(core); }),
      _placing(ids, cpus, _home_mask,
               [this](core_thread t, unsigned core) {
                 return t == core_thread::hotplug ? _engine.hotplug_tid(core) : _sched.worker_tid(core);
               },
               [this](unsigned core) { return must_vacate(core); }),
      _gov(ids,
           {.follow_kernel = opts.follow_cpu_hotplug,
            .online_at_start = opts.online_at_start,
            .come_back = opts.come_back},
           [this](const std::vector<unsigned>& cores, int target) {
             return _engine.move(cores, target, op_mode::normal);
           },
           [this](unsigned core) { return _engine.state(core); }),
      _physical(ids.back() + 1),
      _machine_took(ids.back() + 1, 0),
      _topo(std::move(topo)),
      _sched(ids, cpus) {
  _engine.install_builtin(builtin_rows());
  _sched.set_idle_spin(opts.idle_spin);
}

runtime_impl::~runtime_impl() {
  // Nothing outside moves the cores from here on: join the machine watch first.
  if (_watch) _watch->stop();
  // Run every task already accepted while the cores are still up; submit() is refused
  // from here on (task groups of running tasks still work).
  (void)_sched.shutdown();
  _physical.leave();  // cpu:physical: the CPUs stay as they are
  // Take every core down, highest first, running every installed teardown. A teardown that
  // fails rolls its core back up; try again (an armed fail fires only once).
  const std::vector<unsigned>& ids = _engine.cores();
  for (int attempt = 0; attempt < 3; ++attempt)
    for (auto it = ids.rbegin(); it != ids.rend(); ++it)
      if (_engine.state(*it) != OFFLINE) {
        const int ret = _engine.move(*it, OFFLINE, op_mode::shutdown);
        if (ret != 0)
          std::fprintf(stderr, "hotcore: core %u did not go down at shutdown: %d\n", *it, ret);
      }
  // Workers are parked now (a core that failed to go down is closed first, its tasks run);
  // end and join them before any member they use dies.
  _sched.stop();
  _engine.stop_threads();
  // Every CPU that cpu:physical took offline comes back online: the machine is left as
  // the runtime found it.
  _physical.release();
}

int runtime_impl::may_govern() const noexcept {
  if (const int ret = _engine.guard(entry::write); ret != 0) return ret;
  return _sched.in_task() ? -EDEADLK : 0;
}

int runtime_impl::user_move(unsigned core, int target) {
  if (const int ret = may_govern(); ret != 0) return ret;
  if (!_engine.is_core(core)) return -EINVAL;
  return _gov.user_move(core, target);
}

runtime_stats runtime_impl::stats() const {
  runtime_stats out;
  out.cores.reserve(_engine.cores().size());
  _engine.fill_stats(out.cores);
  for (core_stats& cs : out.cores) {
    const scheduler::task_counts t = _sched.counts(cs.core);
    cs.tasks_run = t.run;
    cs.tasks_stolen = t.stolen;
    cs.tasks_moved = t.moved;
  }
  out.machine.running = _watch != nullptr;
  if (_watch) {
    const watch_counts seen = _watch->counts();
    out.machine.uevents = seen.uevents;
    out.machine.mask_changes = seen.mask_changes;
    out.machine.availability_changes = seen.availability_changes;
  }
  return out;
}

}  // namespace detail

namespace {

// physical_cores() is the cores whose CPU physical mode may take offline: those with an
// online file (cpu0 has none on most machines: it stays logical).
std::vector<unsigned> physical_cores(const std::vector<unsigned>& ids) {
  std::vector<unsigned> out;
  for (unsigned id : ids)
    if (detail::has_online_file(id)) out.push_back(id);
  return out;
}

// check_physical() tells whether the physical option can be honoured for these cores:
// 0, or -ENODEV when no core's CPU has an online file, or the error of opening one for
// writing (-EACCES without permission, say) where no guard service writes it for us.
int check_physical(const std::vector<unsigned>& ids) {
  bool any = false;
  for (unsigned id : ids) {
    if (!detail::has_online_file(id)) continue;  // cpu0: stays logical
    any = true;
    if (const int ret = detail::check_online_writable(id); ret < 0 && !detail::guard_reachable())
      return ret;
  }
  return any ? 0 : -ENODEV;
}

}  // namespace

namespace {

// worker_ids() is the worker cores of a new runtime, ascending: options.cores, or the
// topology's; empty when one is listed twice or is not in the home mask.
std::vector<unsigned> worker_ids(const runtime_options& options, const topology& topo,
                                 const cpu_set_t& home) {
  std::vector<unsigned> ids = options.cores;
  if (ids.empty()) ids = topo.worker_cores;
  std::sort(ids.begin(), ids.end());
  const bool duplicate = std::adjacent_find(ids.begin(), ids.end()) != ids.end();
  const bool not_allowed = std::any_of(ids.begin(), ids.end(), [&](unsigned id) {
    return id >= CPU_SETSIZE || !CPU_ISSET(id, &home);
  });
  return duplicate || not_allowed ? std::vector<unsigned>{} : ids;
}

// simulated_layout() turns the worker CPUs into simulated cores 0..n-1 (ids) with the
// CPU of each, round-robin over the CPUs; without simulation the ids are the CPUs.
// 0, -EINVAL (a count over max_simulated_cores) or -EOPNOTSUPP (an option that acts on a
// real CPU per core).
int simulated_layout(const runtime_options& options, std::vector<unsigned>& ids,
                     std::vector<unsigned>& cpus) {
  cpus = ids;
  const unsigned n = options.simulated_cores;
  if (n == 0) return 0;
  if (n > max_simulated_cores) return -EINVAL;
  if (options.physical || options.follow_cpu_hotplug || options.follow_affinity)
    return -EOPNOTSUPP;
  const std::vector<unsigned> pus = std::move(ids);
  ids.clear();
  cpus.clear();
  for (unsigned i = 0; i < n; ++i) {
    ids.push_back(i);
    cpus.push_back(pus[i % pus.size()]);
  }
  return 0;
}

// start_cores() brings a new runtime's cores up (online_at_start) where their CPUs are
// online: 0, or a negative errno (-EHOSTDOWN: every CPU of the runtime is offline).
int start_cores(runtime& rt, detail::runtime_impl& impl, const runtime_options& options) {
  // A core whose CPU the kernel has offline now stays down (the governor says until when).
  const auto leave_down = [&impl](unsigned id) { impl.gov().offline_at_start(id); };
  std::vector<unsigned> up_now;
  for (unsigned id : rt.cores()) {
    if (detail::read_cpu_online(impl.cpu_of(id)) != 0) up_now.push_back(id);
    else leave_down(id);
  }
  if (options.online_at_start) {
    // The kernel may take a CPU away between the look above and its walk (stress-ng
    // --cpu-online does, in microseconds): core_up() says so with -EHOSTDOWN, and that
    // core stays down like the ones found offline.
    std::vector<unsigned> came_up;
    for (unsigned id : up_now) {
      const int ret = rt.core_up(id);
      if (ret == -EHOSTDOWN) {
        leave_down(id);
        continue;
      }
      if (ret != 0) return ret;
      came_up.push_back(id);
    }
    up_now = std::move(came_up);
  }
  return up_now.empty() ? -EHOSTDOWN : 0;  // every CPU of the runtime offline: nothing runs
}

}  // namespace

std::unique_ptr<runtime> runtime::create(const runtime_options& options, std::error_code& ec) {
  ec.clear();
  // The calling thread's mask with the CPUs that are offline now: a CPU the kernel
  // offlined is still the process's, a worker core that is down until it returns.
  cpu_set_t home;
  if (const int ret = detail::read_home_mask(home); ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return nullptr;
  }
  topology topo = detail::load_topology_for(home, options.policy, ec);
  if (ec) return nullptr;
  std::vector<unsigned> ids = worker_ids(options, topo, home);
  if (ids.empty() || options.affinity_poll_ms == 0 ||
      options.idle_spin < std::chrono::microseconds::zero() || options.idle_spin > max_idle_spin) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  std::vector<unsigned> cpus;
  int ret = simulated_layout(options, ids, cpus);
  if (ret == 0 && options.physical) ret = check_physical(ids);
  if (ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return nullptr;
  }
  const std::vector<unsigned> physical = options.physical ? physical_cores(ids) : std::vector<unsigned>{};
  std::unique_ptr<runtime> rt(new runtime(
      std::make_unique<detail::runtime_impl>(std::move(ids), cpus, home, options, std::move(topo))));
  detail::runtime_impl& impl = *rt->_impl;
  if (options.physical) ret = impl.physical().claim(physical);
  // The watch opens its socket before the cores come up, so that creation fails cleanly
  // (nothing moved yet) when it cannot; its thread starts once they are up.
  if (ret == 0) ret = impl.start_machine();
  if (ret == 0) ret = start_cores(*rt, impl, options);
  if (ret == 0) ret = impl.run_machine();
  if (ret < 0) {
    ec = std::error_code(-ret, std::generic_category());
    return nullptr;
  }
  return rt;
}

runtime::runtime(std::unique_ptr<detail::runtime_impl> impl)
    : _impl(std::move(impl)), _gate(&_impl->engine().gate()) {}
runtime::~runtime() = default;

const std::vector<unsigned>& runtime::cores() const noexcept { return _impl->engine().cores(); }
int runtime::cpu_of(unsigned core) const {
  return _impl->engine().is_core(core) ? static_cast<int>(_impl->cpu_of(core)) : -EINVAL;
}
bool runtime::simulated() const noexcept { return _impl->options().simulated_cores != 0; }
// A task that moved a core would wait for itself (core_down waits for the running tasks
// of the core), so hotplug operations are refused from inside a task.
// The user's core_up()/core_down()/set_target() go through the governor: a core the user
// took down stays where the user put it whatever the governor's triggers say, until the
// user brings it up again.
int runtime::core_up(unsigned core) { return _impl->user_move(core, ONLINE); }
int runtime::core_down(unsigned core) { return _impl->user_move(core, OFFLINE); }

int runtime::set_core_available(unsigned core, bool available) {
  if (const int ret = _impl->may_govern(); ret != 0) return ret;
  if (!_impl->engine().is_core(core)) return -EINVAL;
  return _impl->gov().set_available(core, available);
}
bool runtime::core_available(unsigned core) const {
  return _impl->engine().is_core(core) && _impl->gov().available(core);
}
int runtime::set_core_limit(unsigned n) {
  if (const int ret = _impl->may_govern(); ret != 0) return ret;
  return _impl->gov().set_limit(n);
}
unsigned runtime::core_limit() const { return _impl->gov().limit(); }
int runtime::set_idle_spin(std::chrono::microseconds spin) noexcept {
  if (spin < std::chrono::microseconds::zero() || spin > max_idle_spin) return -EINVAL;
  _impl->sched().set_idle_spin(spin);
  return 0;
}
std::chrono::microseconds runtime::idle_spin() const noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(_impl->sched().idle_spin());
}
int runtime::set_leave_order(leave_order_fn order) {
  if (const int ret = _impl->may_govern(); ret != 0) return ret;
  return _impl->gov().set_leave_order(std::move(order));
}

int runtime::attach_poller(unsigned core, core_poller* p) {
  return _impl->sched().attach_poller(core, p);
}
int runtime::detach_poller(unsigned core, core_poller* p) {
  return _impl->sched().detach_poller(core, p);
}
void runtime::kick_core(unsigned core) noexcept { _impl->sched().kick(core); }
int runtime::run_on_worker(unsigned core, const std::function<void()>& fn) {
  detail::hotplug_engine& engine = _impl->engine();
  if (!engine.is_core(core) || !fn) return -EINVAL;
  detail::scheduler& sched = _impl->sched();
  if (sched.this_core() == static_cast<int>(core)) {  // on that worker: inline
    fn();
    return 0;
  }
  engine.cpus_read_lock();
  int ret = -ENODEV;
  // The hotplug lock (held here, or by the operation running this callback) keeps the
  // core where it is.
  if (engine.state(core) >= AP_WORKERS_ONLINE)
    ret = sched.call_on_worker(
        core, [](void* f) { (*static_cast<const std::function<void()>*>(f))(); },
        const_cast<std::function<void()>*>(&fn));
  engine.cpus_read_unlock();
  return ret;
}

int runtime::state(unsigned core) const { return _impl->engine().state(core); }
int runtime::target(unsigned core) const { return _impl->engine().target(core); }
int runtime::set_target(unsigned core, int state) {
  if (_impl->sched().in_task()) return -EDEADLK;
  if (const int ret = _impl->engine().target_check(state); ret != 0) return ret;
  return _impl->user_move(core, state);  // through the governor, like core_up()/core_down()
}
int runtime::fail(unsigned core) const { return _impl->engine().fail(core); }
int runtime::set_fail(unsigned core, int state) { return _impl->engine().set_fail(core, state); }

bool runtime::core_online(unsigned core) const { return _impl->engine().online(core); }
bool runtime::core_active(unsigned core) const { return _impl->engine().active(core); }
std::vector<unsigned> runtime::online_cores() const {
  std::vector<unsigned> out;
  for (unsigned id : cores())
    if (state(id) == ONLINE) out.push_back(id);
  return out;
}

// The public setup/remove/instance calls differ only in what they ask of the engine: the
// kind of state, whether callbacks run, whether the caller holds cpus_read_lock().
namespace {
using detail::read_lock;
using detail::run_calls;
using detail::step_kind;
detail::step_spec single(int state, std::string_view name, callback startup, callback teardown) {
  return {.state = state,
          .name = name,
          .kind = step_kind::single,
          .startup = std::move(startup),
          .teardown = std::move(teardown)};
}
}  // namespace

int runtime::setup_state(int state, std::string_view name, callback startup, callback teardown) {
  return _impl->engine().setup(single(state, name, std::move(startup), std::move(teardown)), run_calls::yes, read_lock::take);
}
int runtime::setup_state_nocalls(int state, std::string_view name, callback startup, callback teardown) {
  return _impl->engine().setup(single(state, name, std::move(startup), std::move(teardown)), run_calls::no, read_lock::take);
}
int runtime::setup_state_cpuslocked(int state, std::string_view name, callback startup, callback teardown) {
  return _impl->engine().setup(single(state, name, std::move(startup), std::move(teardown)), run_calls::yes, read_lock::held);
}
int runtime::setup_state_nocalls_cpuslocked(int state, std::string_view name, callback startup, callback teardown) {
  return _impl->engine().setup(single(state, name, std::move(startup), std::move(teardown)), run_calls::no, read_lock::held);
}
int runtime::setup_state_multi(int state, std::string_view name, multi_callback startup,
                               multi_callback teardown) {
  return _impl->engine().setup({.state = state,
                                .name = name,
                                .kind = step_kind::multi,
                                .startup_multi = std::move(startup),
                                .teardown_multi = std::move(teardown)},
                               run_calls::no, read_lock::take);
}
int runtime::setup_state_multi_shared(int state, std::string_view name, multi_callback startup,
                                      multi_callback teardown) {
  return _impl->engine().setup_multi_once(state, name, std::move(startup), std::move(teardown));
}
int runtime::remove_state(int state) {
  return _impl->engine().remove(state, step_kind::single, run_calls::yes, read_lock::take);
}
int runtime::remove_state_nocalls(int state) {
  return _impl->engine().remove(state, step_kind::single, run_calls::no, read_lock::take);
}
int runtime::remove_state_nocalls_cpuslocked(int state) {
  return _impl->engine().remove(state, step_kind::single, run_calls::no, read_lock::held);
}
int runtime::remove_multi_state(int state) {
  return _impl->engine().remove(state, step_kind::multi, run_calls::no, read_lock::take);
}

int runtime::add_instance(int state, instance_node* node) {
  return _impl->engine().add_instance(state, node, run_calls::yes);
}
int runtime::add_instance_nocalls(int state, instance_node* node) {
  return _impl->engine().add_instance(state, node, run_calls::no);
}
int runtime::remove_instance(int state, instance_node* node) {
  return _impl->engine().remove_instance(state, node, run_calls::yes);
}
int runtime::remove_instance_nocalls(int state, instance_node* node) {
  return _impl->engine().remove_instance(state, node, run_calls::no);
}

void runtime::cpus_read_lock_slow() noexcept { _impl->engine().cpus_read_lock(); }
bool runtime::cpus_read_trylock() noexcept { return _impl->engine().cpus_read_trylock(); }
void runtime::cpus_read_unlock_slow() noexcept { _impl->engine().cpus_read_unlock(); }

int runtime::cpu_hotplug_disable() { return _impl->engine().disable(); }
int runtime::cpu_hotplug_enable() { return _impl->engine().enable(); }

std::vector<state_row> runtime::states() const { return _impl->engine().rows(); }

std::string runtime::states_text() const {
  std::string out;
  char num[16];
  for (const state_row& row : states()) {
    std::snprintf(num, sizeof num, "%3d: ", row.state);
    out += num;
    out += row.name;
    if (row.instances >= 0)
      out += " (" + std::to_string(row.instances) + (row.instances == 1 ? " instance)" : " instances)");
    out += '\n';
  }
  return out;
}

runtime_stats runtime::stats() const {
  runtime_stats out = _impl->stats();
  out.quota = detail::read_quota_totals(*_impl->quota_sums());
  return out;
}

void runtime::set_trace(bool on) { _impl->engine().set_trace(on); }
std::vector<trace_event> runtime::take_trace() { return _impl->engine().take_trace(); }

// ---- the machine under the runtime

bool runtime::core_physical(unsigned core) const {
  return _impl->engine().is_core(core) && _impl->physical().physical(core);
}
unsigned long runtime::kernel_offlines(unsigned core) const { return _impl->kernel_offlines(core); }
int runtime::kernel_state(unsigned core) const {
  if (!_impl->engine().is_core(core)) return -EINVAL;
  return detail::read_kernel_hotplug_state(_impl->cpu_of(core));
}
topology runtime::topology_snapshot() const { return _impl->topology_snapshot(); }

// ---- tasks

int runtime::submit_node(detail::task_node* node) noexcept {
  return _impl->sched().submit(node, detail::scheduler::any_core, 0);
}
int runtime::submit_node_on(detail::task_node* node, unsigned core) noexcept {
  return _impl->sched().submit(node, detail::scheduler::on_core, core);
}
int runtime::shutdown() { return _impl->sched().shutdown(); }
int runtime::this_core() const noexcept { return _impl->sched().this_core(); }

void runtime::adopt_thread() { _impl->adopt_helper(::gettid()); }
void runtime::release_thread() { _impl->release_helper(::gettid()); }

detail::scheduler& detail::task_access::sched(runtime& rt) noexcept { return rt._impl->sched(); }
std::shared_ptr<detail::quota_totals> detail::quota_access::totals_of(runtime& rt) noexcept {
  return rt._impl->quota_sums();
}

}  // namespace hotcore
