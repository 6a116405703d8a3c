// SPDX-License-Identifier: MIT
// runtime/subsystem_states.h — what hotcore's own subsystems (arenas, timer services) share:
// an object that is an instance of one PREPARE and one ONLINE multi-instance state.
#pragma once

#include <system_error>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"

namespace hotcore::detail {

// owner_node is an object's membership in one of its states: the states' callbacks get
// the node and recover the object from it.
template <class Owner>
struct owner_node : instance_node {
  explicit owner_node(Owner& o) : owner(&o) {}
  Owner* owner;
};

// join_states() makes the object an instance of its PREPARE state, then of its ONLINE
// state (each runs its startup on every core at or past it; if core N fails, the runtime
// tears the instance down on cores 0..N-1). When the ONLINE one fails, the PREPARE
// instance is removed again. false with ec set on failure.
inline bool join_states(runtime& rt, int prepare_state, instance_node& prepare, int online_state,
                        instance_node& online, std::error_code& ec) {
  int ret = rt.add_instance(prepare_state, &prepare);
  if (ret == 0) {
    ret = rt.add_instance(online_state, &online);
    if (ret < 0) (void)rt.remove_instance(prepare_state, &prepare);
  }
  if (ret < 0) ec = std::error_code(-ret, std::generic_category());
  return ret == 0;
}

}  // namespace hotcore::detail
