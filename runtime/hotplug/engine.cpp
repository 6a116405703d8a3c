// SPDX-License-Identifier: MIT
// runtime/hotplug/engine.cpp — the hotplug engine's records: making and ending it, what it
// says of each core, its own rows (the hotplug thread, the online and active masks), the
// one re-entry guard, the read side of the hotplug lock and the trace.
#include "hotplug/engine.h"

#include <cerrno>
#include <string>
#include <utility>

#include "hotplug/core_record.h"
#include "hotplug/state_table.h"
#include "trace/probes.h"

namespace hotcore::detail {

hotplug_engine::hotplug_engine(std::vector<unsigned> core_ids, bool own_cpus, bool parallel_calls,
                               vacates_fn vacates)
    : _core_ids(std::move(core_ids)),
      _own_cpus(own_cpus),
      _vacates(std::move(vacates)),
      _parallel_calls(parallel_calls),
      _steps(std::make_unique<step_table>()) {
  _by_id.resize(_core_ids.back() + 1);
  for (unsigned id : _core_ids) _by_id[id] = std::make_unique<core_ctx>(id);
  locked lk(_stats_mutex);
  _walks.resize(_core_ids.back() + 1);
}

hotplug_engine::~hotplug_engine() { stop_threads(); }

bool hotplug_engine::linger(const core_ctx& c, bool core_stays_up) const {
  return _own_cpus && (core_stays_up || !_vacates || !_vacates(c.id));
}

void hotplug_engine::stop_threads() {
  for (unsigned id : _core_ids) _by_id[id]->thread.stop();
}

core_ctx* hotplug_engine::find(unsigned core) const noexcept {
  return core < _by_id.size() ? _by_id[core].get() : nullptr;
}

// The queries below are relaxed (see core_ctx) but for the masks, whose acquire pairs with
// the release of the row that set them.
bool hotplug_engine::is_core(unsigned core) const noexcept { return find(core) != nullptr; }
int hotplug_engine::state(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c ? c->state.load(std::memory_order_relaxed) : -EINVAL;
}
int hotplug_engine::target(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c ? c->target.load(std::memory_order_relaxed) : -EINVAL;
}
int hotplug_engine::fail(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c ? c->fail.load(std::memory_order_relaxed) : -EINVAL;
}
bool hotplug_engine::online(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c && c->online.load(std::memory_order_acquire);
}
bool hotplug_engine::active(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c && c->active.load(std::memory_order_acquire);
}
pid_t hotplug_engine::hotplug_tid(unsigned core) const noexcept {
  const core_ctx* c = find(core);
  return c ? c->thread.tid() : 0;
}

int hotplug_engine::active_count() const noexcept {
  int n = 0;
  for (unsigned id : _core_ids)
    // relaxed: called under the hotplug write lock, which orders every change of `active`.
    n += _by_id[id]->active.load(std::memory_order_relaxed) ? 1 : 0;
  return n;
}

void hotplug_engine::fill_stats(std::vector<core_stats>& out) const {
  const std::int64_t now = monotonic_ns();
  locked lk(_stats_mutex);
  for (const unsigned id : _core_ids) {
    const core_ctx& c = *_by_id[id];
    core_stats cs;
    cs.core = id;
    // relaxed: see core_ctx; a walk may be under way.
    cs.state = c.state.load(std::memory_order_relaxed);
    cs.online = c.online.load(std::memory_order_relaxed);
    cs.active = c.active.load(std::memory_order_relaxed);
    cs.down = _walks[id][0];
    cs.up = _walks[id][1];
    const std::int64_t since = c.parked_since_ns.load(std::memory_order_relaxed);
    cs.parked_ns = c.parked_total_ns.load(std::memory_order_relaxed) +
                   (since != 0 && now > since ? now - since : 0);
    out.push_back(cs);
  }
}

int hotplug_engine::start_thread(unsigned core) {
  const std::string name = "hc-hotplug/" + std::to_string(core);
  return _by_id[core]->thread.start(name.substr(0, 15).c_str());
}

int hotplug_engine::set_online(unsigned core, bool online) noexcept {
  // release: whoever sees the core online sees everything set up before it.
  _by_id[core]->online.store(online, std::memory_order_release);
  return 0;
}

void hotplug_engine::set_active(unsigned core, bool active) noexcept {
  core_ctx& c = *_by_id[core];
  // release: a reader that sees the core active sees its ONLINE states set up.
  c.active.store(active, std::memory_order_release);
  // relaxed: statistics (see core_ctx); only this core's hotplug thread writes them.
  if (active) {
    const std::int64_t since = c.parked_since_ns.exchange(0, std::memory_order_relaxed);
    if (since != 0) c.parked_total_ns.fetch_add(monotonic_ns() - since, std::memory_order_relaxed);
    HOTCORE_PROBE(core_active, core, active_count());
  } else {
    c.parked_since_ns.store(monotonic_ns(), std::memory_order_relaxed);
    HOTCORE_PROBE(core_inactive, core, active_count());
  }
}

// The runtime whose callback this thread is running (-EDEADLK detection) is in the
// thread's reader record, which every cpus_read_lock() reads anyway.
bool hotplug_engine::in_callback() const noexcept { return this_reader.callback_of == this; }

int hotplug_engine::guard(entry e) const noexcept {
  if (in_callback()) return -EDEADLK;
  if (e == entry::write && _lock.read_held()) return -EDEADLK;
  if (e == entry::read_held && !_lock.read_held()) return -ENOLCK;
  return 0;
}

int hotplug_engine::disable() {
  if (const int ret = guard(entry::read); ret != 0) return ret;
  locked lk(_add_remove_mutex);
  ++_disable_count;
  return 0;
}

int hotplug_engine::enable() {
  if (const int ret = guard(entry::read); ret != 0) return ret;
  locked lk(_add_remove_mutex);
  if (_disable_count == 0) return -EINVAL;
  --_disable_count;
  return 0;
}

// Inside a callback the operation running it already holds the hotplug lock for this
// thread's purposes (it is the writer, or a reader waiting on us): taking it again would
// deadlock, so lock and unlock are no-ops there, as a pair.
void hotplug_engine::cpus_read_lock() noexcept {
  if (!in_callback()) _lock.read_lock();
}
bool hotplug_engine::cpus_read_trylock() noexcept { return in_callback() || _lock.read_trylock(); }
void hotplug_engine::cpus_read_unlock() noexcept {
  if (!in_callback()) _lock.read_unlock();
}

void hotplug_engine::set_trace(bool on) noexcept { _trace_on.store(on, std::memory_order_relaxed); }

std::vector<trace_event> hotplug_engine::take_trace() {
  locked lk(_trace_mutex);
  return std::exchange(_trace, {});
}

void hotplug_engine::record(const trace_event& ev) {
  locked lk(_trace_mutex);
  _trace.push_back(ev);
}

}  // namespace hotcore::detail
