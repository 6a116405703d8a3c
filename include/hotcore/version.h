// SPDX-License-Identifier: MIT
/// @file
/// hotcore/version.h — which hotcore this is: the version of these headers as macros, the
/// version of the library linked in as hotcore::version(), and the C++20 gate every public
/// header passes through first.
///
/// Example:
/// @code
/// #include <hotcore/version.h>
/// #if HOTCORE_VERSION_AT_LEAST(0, 1, 0)
///   std::printf("headers %s, library %s\n", HOTCORE_VERSION_STRING, hotcore::version());
/// #endif
/// @endcode
#pragma once

#if !defined(__cplusplus) || __cplusplus < 202002L
#error "hotcore needs C++20: compile with -std=c++20 (meson: cpp_std=c++20; CMake: find_package(hotcore) sets cxx_std_20 on hotcore::hotcore)"
#endif

// meson.build checks at configure time that these agree with project(version : ...).
#define HOTCORE_VERSION_MAJOR 0        ///< the headers' major version
#define HOTCORE_VERSION_MINOR 1        ///< the headers' minor version
#define HOTCORE_VERSION_PATCH 0        ///< the headers' patch version
#define HOTCORE_VERSION_STRING "0.1.0" ///< the headers' version, "MAJOR.MINOR.PATCH"

/// HOTCORE_VERSION_AT_LEAST(major, minor, patch) is true when these headers are that
/// version or newer.
#define HOTCORE_VERSION_AT_LEAST(major, minor, patch)                                   \
  (HOTCORE_VERSION_MAJOR > (major) ||                                                   \
   (HOTCORE_VERSION_MAJOR == (major) &&                                                 \
    (HOTCORE_VERSION_MINOR > (minor) ||                                                 \
     (HOTCORE_VERSION_MINOR == (minor) && HOTCORE_VERSION_PATCH >= (patch)))))

namespace hotcore {

/// version() is the version of the library the program runs with ("0.1.0"), which can
/// differ from HOTCORE_VERSION_STRING (the headers it was compiled against) after an
/// upgrade of the shared library.
[[nodiscard]] const char* version() noexcept;

}  // namespace hotcore
