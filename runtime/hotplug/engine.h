// SPDX-License-Identifier: MIT
// runtime/hotplug/engine.h — the hotplug engine (the kernel's kernel/cpu.c): it owns the
// state table, every core's hotplug record and thread, the hotplug lock and the one walk.
// The runtime composes it with the scheduler, the governor, placement and the machine.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "hotcore/runtime.h"
#include "hotcore/stats.h"
#include "hotplug/hotplug_lock.h"
#include "non_copyable.h"
#include "thread_annotations.h"

namespace hotcore::detail {

struct core_ctx;  // hotplug/core_record.h: private to the engine
struct step;      // hotplug/state_table.h: private to the engine
struct core_move;
struct core_call;
class function_ref;

// run_calls says whether installing or removing a state (or an instance) runs its callbacks
// on the cores at or past it (setup_state) or only changes the table (_nocalls).
enum class run_calls { yes, no };
// read_lock says whether the caller already holds cpus_read_lock() (the _cpuslocked calls).
enum class read_lock { take, held };
// step_kind tells a single-instance state from a multi-instance one.
enum class step_kind { single, multi };
// op_mode: a normal hotplug operation honours cpu_hotplug_disable() and keeps the last
// active core up; the destructor's `shutdown` walks take every core down regardless.
enum class op_mode { normal, shutdown };
// call_mode: a callback called to make progress, or to undo progress (rollback).
enum class call_mode { forward, rollback };
// on_failure: an operation over every core stops at the first failing core (a startup,
// which then rolls back), or goes on (a teardown, or the rollback itself).
enum class on_failure { stop, go_on };
// entry is what a caller of the engine is about to do, for the one re-entry guard: wait for
// the hotplug lock's write side (moves, instances), take its read side (table changes and
// settings), or use the read side the caller says it holds (the _cpuslocked calls).
enum class entry { write, read, read_held };

// step_spec is what setup() installs: the slot asked for (a fixed state or PREPARE_DYN /
// ONLINE_DYN), its name, its kind and its callbacks (those of the other kind stay empty).
struct step_spec {
  int state = INVALID;
  std::string_view name{};
  step_kind kind = step_kind::single;
  callback startup{}, teardown{};
  multi_callback startup_multi{}, teardown_multi{};
};

// builtin_row is one of the runtime's own states: its callbacks are the functions of the
// subsystem that owns the step (runtime/builtin_states.cpp lists them).
struct builtin_row {
  hp_state state;
  const char* name;
  bool cant_stop = false;  // may not be a target of set_target()
  callback startup{}, teardown{};
};

class hotplug_engine : non_copyable {
 public:
  // own_cpus: every core has a CPU of its own (no two simulated cores share one).
  // vacates: whether a core going down leaves its CPU to the machine (placement's
  // vacate_fn); asked under the write lock.
  using vacates_fn = std::function<bool(unsigned core)>;
  hotplug_engine(std::vector<unsigned> core_ids, bool own_cpus, bool parallel_calls,
                 vacates_fn vacates = {});
  ~hotplug_engine();

  // install_builtin() fills the table with the runtime's own rows, once, before any move.
  void install_builtin(std::vector<builtin_row> rows);

  // ---- moves: the one hotplug path. move() walks cores to target under
  // cpu_add_remove_lock and the write lock: several together (their STARTING and ONLINE
  // steps at the same time) with parallel_calls, else one after another. Each core's
  // result, in the order given: 0 or a negative errno.
  std::vector<int> move(const std::vector<unsigned>& cores, int target, op_mode mode)
      EXCLUDES(_add_remove_mutex);
  int move(unsigned core, int target, op_mode mode) EXCLUDES(_add_remove_mutex);
  // exclusive() runs fn under cpu_add_remove_lock and the write lock, with no walk, callback
  // or reader running (placement restored after the kernel onlined a CPU); serialized()
  // only under cpu_add_remove_lock (no core moves meanwhile: adopting a helper thread).
  int exclusive(const function_ref& fn) EXCLUDES(_add_remove_mutex);
  void serialized(const function_ref& fn) EXCLUDES(_add_remove_mutex);
  // cpu_hotplug_disable() / _enable(): 0, -EDEADLK in a callback, -EINVAL unbalanced.
  int disable() EXCLUDES(_add_remove_mutex);
  int enable() EXCLUDES(_add_remove_mutex);

  // ---- the table (hotplug/setup.cpp)
  int setup(step_spec spec, run_calls calls, read_lock held) EXCLUDES(_state_mutex);
  // setup_multi_once() is setup_state_multi() for a subsystem whose instances share one
  // state per runtime: the first call installs it, later ones return the same number.
  int setup_multi_once(int state, std::string_view name, multi_callback startup,
                       multi_callback teardown) EXCLUDES(_state_mutex);
  int remove(int state, step_kind kind, run_calls calls, read_lock held) EXCLUDES(_state_mutex);
  int add_instance(int state, instance_node* node, run_calls calls) EXCLUDES(_state_mutex);
  int remove_instance(int state, instance_node* node, run_calls calls) EXCLUDES(_state_mutex);
  int set_fail(unsigned core, int state) EXCLUDES(_state_mutex);
  // target_check() is what set_target() refuses before it moves: 0, -EDEADLK or -EINVAL.
  int target_check(int state) EXCLUDES(_state_mutex);
  // rows() takes _state_mutex except inside a callback (whose operation holds it or the
  // write side already): a condition the analysis cannot follow.
  std::vector<state_row> rows() NO_THREAD_SAFETY_ANALYSIS;

  // ---- the cores: -EINVAL (or false) for a number that is not one
  const std::vector<unsigned>& cores() const noexcept { return _core_ids; }
  [[nodiscard]] bool is_core(unsigned core) const noexcept;
  [[nodiscard]] int state(unsigned core) const noexcept;
  [[nodiscard]] int target(unsigned core) const noexcept;
  [[nodiscard]] int fail(unsigned core) const noexcept;
  [[nodiscard]] bool online(unsigned core) const noexcept;
  [[nodiscard]] bool active(unsigned core) const noexcept;
  // hotplug_tid() is the kernel id of the core's hotplug thread (0 before it exists).
  [[nodiscard]] pid_t hotplug_tid(unsigned core) const noexcept;
  // stop_threads() ends and joins every hotplug thread (after the last move).
  void stop_threads();
  // fill_stats() fills each core's hotplug part of runtime::stats(), cores in order.
  void fill_stats(std::vector<core_stats>& out) const EXCLUDES(_stats_mutex);

  // ---- the engine's own rows (the runtime's table points at them)
  // threads:prepare: the core's hotplug thread exists (made once, then parked between uses,
  // as the kernel's smpboot threads are), named "hc-hotplug/N".
  int start_thread(unsigned core);
  // sched:starting / sched:dying: the core joins / leaves the online mask.
  int set_online(unsigned core, bool online) noexcept;
  // The active mask (sched:active, after the scheduler opened the core / before it closes
  // it), with the core's parked time.
  void set_active(unsigned core, bool active) noexcept;

  // ---- the one re-entry guard: -EDEADLK when the calling thread runs one of this
  // engine's callbacks (the operation running it holds the locks), or would wait for the
  // write side while it holds the read side; -ENOLCK when it says it holds the read side
  // and does not; else 0.
  [[nodiscard]] int guard(entry e) const noexcept;
  // hidden: called directly (not through the PLT) by every cpus_read_lock()/unlock().
  [[gnu::visibility("hidden")]] [[nodiscard]] bool in_callback() const noexcept;

  // ---- the read side of the hotplug lock (cpus_read_lock()): a no-op inside a callback,
  // a condition the analysis cannot follow.
  const read_gate& gate() const noexcept { return _lock; }
  void cpus_read_lock() noexcept NO_THREAD_SAFETY_ANALYSIS;
  [[nodiscard]] bool cpus_read_trylock() noexcept NO_THREAD_SAFETY_ANALYSIS;
  void cpus_read_unlock() noexcept NO_THREAD_SAFETY_ANALYSIS;
  [[nodiscard]] bool read_held() const noexcept { return _lock.read_held(); }

  // ---- trace: every callback call while on (relaxed switch: a call racing with it may
  // or may not be recorded)
  void set_trace(bool on) noexcept;
  std::vector<trace_event> take_trace() EXCLUDES(_trace_mutex);

 private:
  // walk.cpp
  void move_locked(std::vector<core_move>& moves, int target, op_mode mode)
      REQUIRES(_add_remove_mutex);
  int walk_done(core_ctx& c, int prev, int target, int ret, std::int64_t ns);
  int walk_to(core_ctx& c, int target, op_mode mode) REQUIRES(_lock);
  void walk_back(core_ctx& c, int prev) REQUIRES(_lock);
  void walk_together(std::vector<core_move>& moves, int target) REQUIRES(_lock);
  void keep_last_active(std::vector<core_move>& moves, int target) REQUIRES(_lock);
  int step_core(core_ctx& c, int target) REQUIRES(_lock);
  int walk_here(core_ctx& c, int target) REQUIRES(_lock);
  [[nodiscard]] int ap_part(const core_ctx& c, int target) const;
  friend struct ap_walk;
  friend struct core_call;
  int walk(core_ctx& c, int target) REQUIRES_SHARED(_lock);
  int invoke(core_ctx& c, int state, direction dir, instance_node* node, call_mode mode)
      REQUIRES_SHARED(_lock);
  void record(const trace_event& ev) EXCLUDES(_trace_mutex);
  void note_walk(core_ctx& c, direction dir, std::int64_t ns) EXCLUDES(_stats_mutex);
  [[nodiscard]] int active_count() const noexcept;
  // linger() is the one rule for a hotplug thread after a request: it looks for the next
  // request a few microseconds before it sleeps only when it stays on its own CPU, which
  // no other core's thread shares (where cores share a CPU, a lingering thread holds the
  // next one up), and which the machine does not need (a core going down that vacates
  // its CPU leaves it at once). So a core_down() followed by a core_up() finds it awake.
  [[nodiscard]] bool linger(const core_ctx& c, bool core_stays_up) const;

  // setup.cpp
  int setup_locked(step_spec spec, run_calls calls) REQUIRES(_state_mutex) REQUIRES_SHARED(_lock);
  int startup_on_cores(int state, instance_node* node) REQUIRES_SHARED(_lock);
  int teardown_on_cores(int state, instance_node* node) REQUIRES_SHARED(_lock);
  std::vector<core_call> calls_at_or_past(int state, direction dir, instance_node* node)
      REQUIRES_SHARED(_lock);
  void call_all(std::vector<core_call>& calls, on_failure then) REQUIRES_SHARED(_lock);
  [[nodiscard]] int instance_check(int state, const instance_node* node) const noexcept;

  [[nodiscard]] core_ctx* find(unsigned core) const noexcept;

  const std::vector<unsigned> _core_ids;  // ascending
  std::vector<std::unique_ptr<core_ctx>> _by_id;  // indexed by core id
  const bool _own_cpus;
  const vacates_fn _vacates;
  const bool _parallel_calls;
  // The table: written under _state_mutex and the read side, read by the walk under the
  // write side (which no table change holds) and by table changes under _state_mutex. The
  // analysis cannot say "either", so the rule lives here and in each function's contract.
  std::unique_ptr<std::array<step, NR_STATES>> _steps;
  hotplug_lock _lock;
  annotated_mutex _state_mutex;       // serializes setup/remove/instances (cpuhp_state_mutex)
  annotated_mutex _add_remove_mutex;  // serializes hotplug ops (cpu_add_remove_lock)
  int _disable_count GUARDED_BY(_add_remove_mutex) = 0;
  // relaxed: a switch; a callback racing with set_trace() may or may not be recorded.
  std::atomic<bool> _trace_on{false};
  annotated_mutex _trace_mutex;
  std::vector<trace_event> _trace GUARDED_BY(_trace_mutex);
  // Each core's walk statistics (runtime::stats()), by core id; held only to update or
  // copy them.
  mutable annotated_mutex _stats_mutex;
  std::vector<std::array<walk_stats, 2>> _walks GUARDED_BY(_stats_mutex);  // [down, up]
};

}  // namespace hotcore::detail
