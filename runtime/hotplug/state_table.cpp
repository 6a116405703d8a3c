// SPDX-License-Identifier: MIT
// runtime/hotplug/state_table.cpp — the table's fixed shape (static_asserts on hp_state's
// sections) and its built-in rows, installed from the runtime's list (builtin_states.cpp).
#include "hotplug/state_table.h"

#include "hotplug/engine.h"

namespace hotcore::detail {

static_assert(section_of(BRINGUP_CORE) == section::prepare &&
                  section_of(AP_SCHED_STARTING) == section::starting &&
                  section_of(AP_ONLINE) == section::starting &&
                  section_of(AP_WORKERS_ONLINE) == section::online,
              "section boundaries");
static_assert(!is_dynamic(AP_USER_STARTING_1) && !is_dynamic(AP_ONLINE),
              "no dynamic range in the STARTING section");

void hotplug_engine::install_builtin(std::vector<builtin_row> rows) {
  for (builtin_row& row : rows) {
    step& s = (*_steps)[row.state];
    s.name = row.name;
    s.cant_stop = row.cant_stop;
    s.builtin = true;
    s.startup = std::move(row.startup);
    s.teardown = std::move(row.teardown);
  }
}

}  // namespace hotcore::detail
