// SPDX-License-Identifier: MIT
// runtime/trace/probes.cpp — the USDT probes' semaphores, in the ".probes" section where
// sdt.h's notes point and tracers increment them.
#include "trace/probes.h"

#if defined(HOTCORE_HAVE_SDT)
#define HOTCORE_PROBE_DEFINE(name) \
  __attribute__((section(".probes"), used)) unsigned short hotcore_##name##_semaphore = 0;
extern "C" {
HOTCORE_PROBES(HOTCORE_PROBE_DEFINE)
}
#endif
