// SPDX-License-Identifier: MIT
// bench/noop_states.h — dynamic ONLINE states whose callbacks return 0, so that a core
// cycle or an instance added and removed measures what the state machine itself costs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"
#include "hotcore/states.h"

namespace hotcore::bench {

// noop_states registers `count` states named prefix0, prefix1, ... (non-empty callbacks:
// an empty std::function would be skipped, not invoked and traced) and removes them,
// newest first, when it goes. error() is 0, or the setup_state() error that stopped it.
class noop_states {
 public:
  noop_states(runtime& rt, std::string_view prefix, int count) : _rt(rt) {
    const auto zero = [](unsigned) { return 0; };
    while (_error == 0 && static_cast<int>(_ids.size()) < count) {
      const int id = _rt.setup_state(ONLINE_DYN, std::string(prefix) + std::to_string(_ids.size()),
                                     zero, zero);
      if (id < 0) _error = id;
      else _ids.push_back(id);
    }
  }
  ~noop_states() {
    while (!_ids.empty()) {
      (void)_rt.remove_state(_ids.back());
      _ids.pop_back();
    }
  }
  noop_states(const noop_states&) = delete;
  noop_states& operator=(const noop_states&) = delete;
  [[nodiscard]] int error() const { return _error; }

 private:
  runtime& _rt;
  std::vector<int> _ids;
  int _error = 0;
};

// noop_multi_state is one multi-instance ONLINE state with such callbacks and a node to
// add to it; both go (the node first, if attached) with the object. error() is 0, or
// setup_state_multi()'s error.
class noop_multi_state {
 public:
  noop_multi_state(runtime& rt, std::string_view name) : _rt(rt) {
    const auto zero = [](unsigned, instance_node*) { return 0; };
    _state = _rt.setup_state_multi(ONLINE_DYN, name, zero, zero);
  }
  ~noop_multi_state() {
    if (_state < 0) return;
    if (_node.attached_state >= 0) (void)_rt.remove_instance(_state, &_node);
    (void)_rt.remove_multi_state(_state);
  }
  noop_multi_state(const noop_multi_state&) = delete;
  noop_multi_state& operator=(const noop_multi_state&) = delete;
  [[nodiscard]] int error() const { return _state < 0 ? _state : 0; }
  [[nodiscard]] int state() const { return _state; }
  [[nodiscard]] instance_node& node() { return _node; }

 private:
  runtime& _rt;
  int _state = -1;
  instance_node _node;
};

}  // namespace hotcore::bench
