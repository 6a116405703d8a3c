// SPDX-License-Identifier: MIT
// tools/empty_states.h — registers N ONLINE states whose callbacks do nothing, for
// measuring what the state machine itself costs; shared by `hotcore cycle` and the bench.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hotcore/runtime.h"
#include "hotcore/states.h"

namespace hotcore::tools {

// empty_states owns a set of dynamic ONLINE states whose startup and teardown return 0 at
// once: they are invoked (and traced), unlike an empty std::function, which is skipped.
// The states are removed, newest first, when the object goes away.
//
// Example:
//   hotcore::tools::empty_states extra(*rt);
//   if (int ret = extra.add("cycle:empty", 8); ret < 0) return ret;  // cycle:empty0..7
class empty_states {
 public:
  explicit empty_states(runtime& rt) : _rt(rt) {}
  ~empty_states() {
    for (auto it = _ids.rbegin(); it != _ids.rend(); ++it) (void)_rt.remove_state(*it);
  }
  empty_states(const empty_states&) = delete;
  empty_states& operator=(const empty_states&) = delete;

  // add() registers `count` more states named prefix0, prefix1, ... with setup_state().
  // Returns 0, or the error of the first setup_state() that failed (the states registered
  // before it stay owned by this object).
  [[nodiscard]] int add(std::string_view prefix, int count) {
    const auto nothing = [](unsigned) { return 0; };
    for (int i = 0; i < count; ++i) {
      const std::string name = std::string(prefix) + std::to_string(_ids.size());
      const int st = _rt.setup_state(ONLINE_DYN, name, nothing, nothing);
      if (st < 0) return st;
      _ids.push_back(st);
    }
    return 0;
  }

 private:
  runtime& _rt;
  std::vector<int> _ids;
};

}  // namespace hotcore::tools
