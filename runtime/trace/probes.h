// SPDX-License-Identifier: MIT
// runtime/trace/probes.h — hotcore's USDT probes (provider "hotcore") for bpftrace, perf
// and SystemTap. Each probe has a semaphore: the kernel raises it while a tracer is
// attached, and HOTCORE_PROBE() computes its arguments only then. Without <sys/sdt.h>
// (HOTCORE_HAVE_SDT unset) every probe compiles to nothing. docs/observability.md lists
// the probes and their arguments.
#pragma once

#if defined(HOTCORE_HAVE_SDT)
#define _SDT_HAS_SEMAPHORES 1
#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>

// HOTCORE_PROBES(X) names every probe once: the semaphores are declared here and
// defined in probes.cpp from the same list.
#define HOTCORE_PROBES(X) \
  X(cpuhp_enter)          \
  X(cpuhp_multi_enter)    \
  X(cpuhp_exit)           \
  X(core_active)          \
  X(core_inactive)        \
  X(task_moved)           \
  X(quota_change)         \
  X(machine_event)

// The semaphores carry the C names sdt.h's notes refer to; hidden, so the note's address
// is resolved when the library is linked.
#define HOTCORE_PROBE_DECLARE(name) \
  extern __attribute__((visibility("hidden"))) unsigned short hotcore_##name##_semaphore;
extern "C" {
HOTCORE_PROBES(HOTCORE_PROBE_DECLARE)
}
#undef HOTCORE_PROBE_DECLARE

// HOTCORE_PROBE_ON(name) is true while a tracer is attached to hotcore:name. A volatile
// read: the kernel writes the semaphore behind the compiler's back; no atomic is needed
// (a stale value only misses or adds one event at attach/detach time).
#define HOTCORE_PROBE_ON(name) \
  __builtin_expect(*static_cast<volatile unsigned short*>(&hotcore_##name##_semaphore) != 0, 0)
// HOTCORE_PROBE(name, args...) fires hotcore:name; args are evaluated only when it is on.
#define HOTCORE_PROBE(name, ...)                                        \
  do {                                                                  \
    if (HOTCORE_PROBE_ON(name)) STAP_PROBEV(hotcore, name, __VA_ARGS__); \
  } while (0)
#else
#define HOTCORE_PROBE_ON(name) false
#define HOTCORE_PROBE(name, ...) \
  do {                           \
  } while (0)
#endif
