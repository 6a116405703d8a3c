// SPDX-License-Identifier: MIT
/// @file
/// hotcore/task.h — a task: a callable moved once into a fixed-size node, run by a worker
/// core; small callables live inside the node (no separate heap block), large ones get one.
/// Also this_core(), the core the calling worker runs on.
#pragma once

#include "hotcore/version.h"  // first: the C++20 gate

#include "hotcore/detail/task_node.h"

namespace hotcore {

/// this_core() returns the core (OS CPU number) of the worker calling it, or -1 when the
/// caller is not a worker thread of any runtime (an outside thread, also while it helps
/// run tasks inside task_group::wait()).
[[nodiscard]] int this_core() noexcept;

}  // namespace hotcore
