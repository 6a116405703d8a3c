// SPDX-License-Identifier: MIT
// runtime/subsystem_states.h — what hotcore's own subsystems (arenas, timer services) share:
// an object that is an instance of one PREPARE and one ONLINE multi-instance state.
#pragma once

#include <string_view>
#include <system_error>

#include "hotcore/instance.h"
#include "hotcore/runtime.h"

namespace hotcore::detail {

// subsystem_instance is what a subsystem object does on one core as each of its two
// states comes and goes there (the callbacks of install_states()).
class subsystem_instance {
 public:
  virtual int prepare_up(unsigned core) = 0;
  virtual int prepare_down(unsigned core) = 0;
  virtual int online_up(unsigned core) = 0;
  virtual int online_down(unsigned core) = 0;

 protected:
  subsystem_instance() = default;
  subsystem_instance(const subsystem_instance&) = default;
  subsystem_instance& operator=(const subsystem_instance&) = default;
  ~subsystem_instance() = default;  // owned as the subsystem's own type (which is final)
};

// owner_node is an object's membership in one of its states: the states' callbacks get
// the node and recover the object from it.
struct owner_node : instance_node {
  explicit owner_node(subsystem_instance& o) : owner(&o) {}
  subsystem_instance* owner;
};

// install_states() sets up a subsystem's PREPARE and ONLINE states as multi-instance states
// shared by all its objects on this runtime (the first call installs them, later ones find
// them), with callbacks that call the object of the node. `online` may be ONLINE_DYN.
// The ONLINE state's number, or a negative errno.
inline int install_states(runtime& rt, int prepare, std::string_view prepare_name, int online,
                          std::string_view online_name) {
  auto owner = [](instance_node* n) { return static_cast<owner_node*>(n)->owner; };
  const int ret = rt.setup_state_multi_shared(
      prepare, prepare_name,
      [owner](unsigned core, instance_node* n) { return owner(n)->prepare_up(core); },
      [owner](unsigned core, instance_node* n) { return owner(n)->prepare_down(core); });
  if (ret < 0) return ret;
  return rt.setup_state_multi_shared(
      online, online_name,
      [owner](unsigned core, instance_node* n) { return owner(n)->online_up(core); },
      [owner](unsigned core, instance_node* n) { return owner(n)->online_down(core); });
}

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
