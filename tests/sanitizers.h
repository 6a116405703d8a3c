// SPDX-License-Identifier: MIT
// tests/sanitizers.h — which sanitizer this test program is built with, for the few tests
// whose expectations differ under one: HOTCORE_TEST_TSAN and HOTCORE_TEST_ASAN (1 or 0, for
// the preprocessor) and under_tsan (for if constexpr). GCC says so with __SANITIZE_*__,
// clang with __has_feature(), as runtime/hotplug/hotplug_lock.h reads it.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define HOTCORE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOTCORE_TEST_TSAN 1
#endif
#endif
#ifndef HOTCORE_TEST_TSAN
#define HOTCORE_TEST_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define HOTCORE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOTCORE_TEST_ASAN 1
#endif
#endif
#ifndef HOTCORE_TEST_ASAN
#define HOTCORE_TEST_ASAN 0
#endif

namespace hotcore_test {

// under_tsan is true in a ThreadSanitizer build.
inline constexpr bool under_tsan = HOTCORE_TEST_TSAN != 0;

}  // namespace hotcore_test
