// SPDX-License-Identifier: MIT
// runtime/non_copyable.h — a base for the runtime's owners of a thread, a process or a
// socket: they are neither copied nor moved.
#pragma once

namespace hotcore::detail {

struct non_copyable {
  non_copyable() = default;
  non_copyable(const non_copyable&) = delete;
  non_copyable& operator=(const non_copyable&) = delete;
};

}  // namespace hotcore::detail
