// SPDX-License-Identifier: MIT
// runtime/version.cpp — hotcore::version(): the version this library was built as.
#include "hotcore/version.h"

namespace hotcore {

const char* version() noexcept { return HOTCORE_VERSION_STRING; }

}  // namespace hotcore
