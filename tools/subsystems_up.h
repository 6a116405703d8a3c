// SPDX-License-Identifier: MIT
// tools/subsystems_up.h — brings up the per-core subsystems (an io_uring state with one
// io_context, an arena and a timer service) through their public API, so a core cycle can
// be timed with them up; shared by `hotcore cycle --subsystems` and the bench.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "hotcore/arena.h"
#include "hotcore/io_context.h"
#include "hotcore/runtime.h"
#include "hotcore/timers.h"

namespace hotcore::tools {

// subsystems_up owns the three subsystems; they go away, newest first, with the object.
//
// Example:
//   hotcore::tools::subsystems_up subs;
//   if (const std::string why = subs.start(*rt); !why.empty()) return fail(why);
class subsystems_up {
 public:
  subsystems_up() = default;
  ~subsystems_up() { stop(); }
  subsystems_up(const subsystems_up&) = delete;
  subsystems_up& operator=(const subsystems_up&) = delete;

  // start() creates them on every online core. "" or what failed ("io_uring: ..."); then
  // whatever had started is stopped again.
  [[nodiscard]] std::string start(runtime& rt) {
    std::error_code ec;
    _io_state = io_uring_state::install(rt, ec);
    if (_io_state) _io = io_context::create(*_io_state, ec);
    if (!_io) return failed("io_uring", ec);
    _arena = arena::create(rt, ec);
    if (!_arena) return failed("arena", ec);
    _timers = timer_service::create(rt, ec);
    if (!_timers) return failed("timers", ec);
    return "";
  }

  void stop() noexcept {
    _timers.reset();
    _arena.reset();
    _io.reset();  // the instance before its state
    _io_state.reset();
  }

 private:
  std::string failed(const char* what, const std::error_code& ec) {
    stop();
    return std::string(what) + ": " + ec.message();
  }

  std::unique_ptr<io_uring_state> _io_state;
  std::unique_ptr<io_context> _io;
  std::unique_ptr<arena> _arena;
  std::unique_ptr<timer_service> _timers;
};

}  // namespace hotcore::tools
