// SPDX-License-Identifier: MIT
// runtime/hotplug/state_table.h — private to the hotplug engine: a row of the one state
// table (a step per hp_state), holding its name, callbacks and instances.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "hotcore/runtime.h"

namespace hotcore::detail {

// step is one row of the live table (the kernel's struct cpuhp_step).
struct step {
  std::string name;               // empty: an unused slot
  callback startup;               // single-instance callbacks
  callback teardown;
  multi_callback startup_multi;   // multi-instance callbacks
  multi_callback teardown_multi;
  bool multi = false;
  bool cant_stop = false;         // may not be a target (set_target)
  bool builtin = false;           // one of the runtime's own states: cannot be removed
  std::vector<instance_node*> instances;  // multi-instance only, in add order

  // installed() is true when the row has a name (a built-in or a set-up state).
  [[nodiscard]] bool installed() const noexcept { return !name.empty(); }
  // has_callback() tells whether the row does anything in that direction (the walk skips
  // rows without, like the kernel's NULL callbacks).
  [[nodiscard]] bool has_callback(bool up) const noexcept {
    return multi ? static_cast<bool>(up ? startup_multi : teardown_multi)
                 : static_cast<bool>(up ? startup : teardown);
  }
  // clear() returns the row to an unused slot.
  void clear() { *this = step{}; }
};

using step_table = std::array<step, NR_STATES>;

}  // namespace hotcore::detail
