// SPDX-License-Identifier: MIT
/// @file
/// hotcore/instance.h — the hook a subsystem embeds in each instance of a multi-instance
/// state (the kernel's hlist_node handed to cpuhp_state_add_instance()).
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

namespace hotcore {

/// instance_node is embedded in (or a base of) a subsystem's per-instance object. The
/// runtime hands the same pointer back to the state's multi-instance callbacks, which
/// recover their object from it.
///
/// Example:
/// @code
/// struct ring_set : hotcore::instance_node { int rings[64]; };
/// int ring_up(unsigned core, hotcore::instance_node* n) {
///   auto* set = static_cast<ring_set*>(n); ... return 0;
/// }
/// rt->add_instance(state, &my_ring_set);
/// @endcode
/// Copying an instance copies no membership: the copy starts detached (like an intrusive
/// list hook), so it can be added on its own and the original stays where it was.
struct instance_node {
  instance_node() noexcept = default;
  /// Copying a node copies no membership: the copy belongs to no state.
  instance_node(const instance_node&) noexcept {}
  /// Assigning a node leaves the target's membership as it was.
  instance_node& operator=(const instance_node&) noexcept { return *this; }
  ~instance_node() = default;

  /// The state this node is added to, or -1. Owned by the runtime: do not write it.
  int attached_state = -1;
};

}  // namespace hotcore
