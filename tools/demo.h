// SPDX-License-Identifier: MIT
// tools/demo.h — `hotcore demo`: the topology, the state table, each core's state beside
// the kernel's, 100 timed down/up cycles and the per-core subsystems, in that order.
#pragma once

#include <functional>
#include <memory>

#include "hotcore/runtime.h"

namespace hotcore::tools {

// run_demo() prints the demo to stdout; with physical (rt runs in physical mode, as root)
// the last core also goes down and up once in the kernel, and the rest of the demo runs on
// a logical runtime from make_logical() (rt is replaced). Returns an exit status: 0, or 1
// when a section failed (reported on stderr).
int run_demo(std::unique_ptr<runtime>& rt, bool physical,
             const std::function<std::unique_ptr<runtime>()>& make_logical);

}  // namespace hotcore::tools
