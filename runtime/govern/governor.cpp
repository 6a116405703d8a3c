// SPDX-License-Identifier: MIT
// runtime/govern/governor.cpp — which cores should be up: from what is available, the
// core limit and who took each core down, the governor decides, and moves cores through
// the one hotplug path it is handed, like the user's core_up()/core_down().
#include "govern/governor.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "hotcore/states.h"

namespace hotcore::detail {

governor::governor(const std::vector<unsigned>& cores, policy p, move_fn move, state_fn state)
    : _cores(cores), _policy(p), _move(std::move(move)), _state(std::move(state)) {
  const std::size_t slots = _cores.empty() ? 0 : _cores.back() + 1;
  _available.assign(slots, 1);
  _user_down.assign(slots, 0);
  _governor_down.assign(slots, 0);
}

int governor::user_move(unsigned core, int target) {
  std::lock_guard lk(_mutex);
  const int ret = _move({core}, target).front();
  if (ret == 0) {
    _user_down[core] = target < ONLINE ? 1 : 0;
    _governor_down[core] = 0;
  }
  return ret;
}

int governor::set_available(unsigned core, bool available) {
  std::lock_guard lk(_mutex);
  _available[core] = available ? 1 : 0;
  return govern();
}

int governor::machine_available(unsigned core, bool available) {
  std::lock_guard lk(_mutex);
  const bool was_down = _governor_down[core] != 0;
  _available[core] = available ? 1 : 0;
  const int ret = govern();
  if (!_policy.come_back && !available && !was_down && _governor_down[core]) {
    _governor_down[core] = 0;
    _user_down[core] = 1;
  }
  return ret;
}

int governor::set_limit(unsigned n) {
  std::lock_guard lk(_mutex);
  _limit = n;
  return govern();
}

int governor::set_leave_order(leave_order_fn order) {
  std::lock_guard lk(_mutex);
  _leave_order = std::move(order);
  return govern();
}

void governor::offline_at_start(unsigned core) {
  std::lock_guard lk(_mutex);
  if (_policy.follow_kernel) {
    _available[core] = 0;
    _governor_down[core] = _policy.online_at_start ? 1 : 0;
  } else {
    _user_down[core] = 1;
  }
}

bool governor::available(unsigned core) const {
  std::lock_guard lk(_mutex);
  return _available[core] != 0;
}

unsigned governor::limit() const {
  std::lock_guard lk(_mutex);
  return _limit;
}

// over_limit() is the candidates that leave to keep within the limit, in leave order.
// Only candidates count, each once, whatever the policy returned; the ones it left out
// leave last, highest first.
std::vector<unsigned> governor::over_limit(const std::vector<unsigned>& candidates) const {
  if (_limit == 0 || candidates.size() <= _limit) return {};
  std::vector<unsigned> order;
  if (_leave_order) order = _leave_order(candidates);
  else order.assign(candidates.rbegin(), candidates.rend());
  auto has = [](const std::vector<unsigned>& v, unsigned id) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  std::vector<unsigned> ranked;
  for (unsigned id : order)
    if (has(candidates, id) && !has(ranked, id)) ranked.push_back(id);
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
    if (!has(ranked, *it)) ranked.push_back(*it);
  ranked.resize(candidates.size() - _limit);
  return ranked;
}

// govern() moves the cores to what the governor wants. Candidates are the cores that are
// available and not held down by the user; with a limit, the first ones in leave order
// stay down. Cores come up before others go down, so the count never dips below what is
// wanted; the cores of each direction move in one step, together (the hotplug path walks
// them at the same time with parallel_calls). A core the user holds down stays where the
// user put it while it can run.
int governor::govern() {
  std::vector<unsigned> candidates;
  for (unsigned id : _cores)
    if (_available[id] && !_user_down[id]) candidates.push_back(id);
  const std::vector<unsigned> leave = over_limit(candidates);
  auto wanted_up = [&](unsigned id) {
    return _available[id] && !_user_down[id] && std::find(leave.begin(), leave.end(), id) == leave.end();
  };
  int first_error = 0;
  std::vector<unsigned> up;
  for (unsigned id : _cores)
    if (wanted_up(id) && _governor_down[id]) up.push_back(id);
  const std::vector<int> up_results = _move(up, ONLINE);
  for (std::size_t i = 0; i < up.size(); ++i) {
    const int ret = up_results[i];
    if (ret == 0) _governor_down[up[i]] = 0;
    // -EHOSTDOWN: the kernel took the CPU away again meanwhile; that is the machine's
    // state, not a failure: the core stays the governor's, and its offline uevent
    // (already queued) and the next online bring it back.
    if (ret != 0 && ret != -EHOSTDOWN && first_error == 0) first_error = ret;
  }
  // A core the user holds (set_target() below ONLINE) leaves only when it cannot run.
  auto must_leave = [&](unsigned id) { return _user_down[id] ? !_available[id] : !wanted_up(id); };
  std::vector<unsigned> down;
  for (auto it = _cores.rbegin(); it != _cores.rend(); ++it)
    if (must_leave(*it) && _state(*it) != OFFLINE) down.push_back(*it);
  const std::vector<int> down_results = _move(down, OFFLINE);
  for (std::size_t i = 0; i < down.size(); ++i) {
    const int ret = down_results[i];
    if (ret == 0 && !_user_down[down[i]]) _governor_down[down[i]] = 1;
    if (ret != 0 && first_error == 0) first_error = ret;
  }
  return first_error;
}

}  // namespace hotcore::detail
