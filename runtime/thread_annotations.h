// SPDX-License-Identifier: MIT
// runtime/thread_annotations.h — Clang's thread-safety attributes as macros, and a mutex and
// a lock guard that carry them: `clang++ -Wthread-safety` checks which lock guards what
// (GCC ignores the attributes). The names follow abseil's and marl's.
#pragma once

#include <mutex>

#if defined(__clang__)
#define HOTCORE_TSA(x) __attribute__((x))
#else
#define HOTCORE_TSA(x)
#endif

#define CAPABILITY(name) HOTCORE_TSA(capability(name))
#define SCOPED_CAPABILITY HOTCORE_TSA(scoped_lockable)
#define GUARDED_BY(lock) HOTCORE_TSA(guarded_by(lock))
#define REQUIRES(...) HOTCORE_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) HOTCORE_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) HOTCORE_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) HOTCORE_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) HOTCORE_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) HOTCORE_TSA(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) HOTCORE_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) HOTCORE_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_SHARED_CAPABILITY(x) HOTCORE_TSA(assert_shared_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS HOTCORE_TSA(no_thread_safety_analysis)

namespace hotcore::detail {

// annotated_mutex is std::mutex as a capability the analysis knows.
class CAPABILITY("mutex") annotated_mutex {
 public:
  void lock() ACQUIRE() { _m.lock(); }
  void unlock() RELEASE() { _m.unlock(); }

 private:
  std::mutex _m;
};

// locked is std::lock_guard for an annotated_mutex.
class SCOPED_CAPABILITY locked {
 public:
  explicit locked(annotated_mutex& m) ACQUIRE(m) : _m(m) { _m.lock(); }
  ~locked() RELEASE() { _m.unlock(); }
  locked(const locked&) = delete;
  locked& operator=(const locked&) = delete;

 private:
  annotated_mutex& _m;
};

}  // namespace hotcore::detail
