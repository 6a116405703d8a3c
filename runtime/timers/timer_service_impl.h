// SPDX-License-Identifier: MIT
// runtime/timers/timer_service_impl.h — the timer service's insides: per-core slots (the
// inbox other threads push to, the wheel, the counts), the parked list for timers with
// no core online, and the callbacks of the two multi-instance states for one service.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/timers.h"
#include "subsystem_states.h"
#include "timers/timer_rec.h"
#include "timers/timer_wheel.h"

namespace hotcore::detail {

// core_timers is one core's part. inbox and counters live as long as the service, so a
// thread arming a timer never touches freed memory while the core comes and goes.
struct core_timers {
  timer_inbox inbox;                       // closed unless "timers:online" is up
  // wheel: set by "timers:online" up (release), cleared by its teardown; read by the
  // core's own tasks in arm_at() (acquire).
  alignas(64) std::atomic<timer_wheel*> wheel{nullptr};
  timer_wheel* prepared = nullptr;         // "timers:prepare"; hotplug-serialized
  // spare: the wheel after "timers:prepare" went down, empty, kept for the core's next
  // bring-up; hotplug-serialized, freed with the service.
  std::unique_ptr<timer_wheel> spare;
  wheel_counters counters;
};

struct timer_service_impl final : subsystem_instance {
  // A service of rt: a slot for each of rt's cores (by core id).
  explicit timer_service_impl(runtime& rt_);
  ~timer_service_impl();

  // the states' callbacks, for this service
  int prepare_up(unsigned core) override;
  int prepare_down(unsigned core) override;
  int online_up(unsigned core) override;
  int online_down(unsigned core) override;

  // send() gives t to the inbox of an online core other than `exclude` (round robin) and
  // kicks that core's worker; with none online, it parks t until a core comes up.
  void send(timer_rec* t, int exclude) noexcept;
  // try_send() is send() without the parking: false if no inbox took t.
  bool try_send(timer_rec* t, int exclude) noexcept;
  void park(timer_rec* t) noexcept;

  runtime& rt;
  std::vector<unsigned> cores;
  std::unique_ptr<core_timers[]> per_core;  // by core id
  std::size_t ncores = 0;
  std::mutex parked_mutex;
  timer_rec* parked = nullptr;              // guarded by parked_mutex
  std::uint64_t parked_count = 0;           // guarded by parked_mutex
  // Statistics and the round-robin cursor: relaxed RMWs, nothing is published by them.
  std::atomic<std::uint64_t> remote_armed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> migrated{0};
  std::atomic<unsigned> wheels{0};
  std::atomic<unsigned> attached{0};
  std::atomic<unsigned> next_core{0};
  // closing: the destructor is removing the states; teardowns park instead of migrating.
  // Written before remove_state(), read by the teardowns it runs (ordered by the hand-over
  // to the hotplug thread).
  // Atomic: a churning core's teardown reads it on its hotplug thread while the destructor
  // sets it; release/acquire so a teardown that sees true also sees what came before.
  std::atomic<bool> closing{false};
  int online_state = -1;
  // This service as an instance of each state (added by create(), removed by the
  // destructor).
  owner_node prepare_node{*this};
  owner_node online_node{*this};
};

}  // namespace hotcore::detail
