// SPDX-License-Identifier: MIT
// hotcore/detail/read_side.h — the inline fast path of cpus_read_lock(): the calling
// thread's reader record and the part of a hotplug lock that a reader looks at.
#pragma once

#include <atomic>

#if defined(__SANITIZE_THREAD__)
#define HOTCORE_READ_SIDE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOTCORE_READ_SIDE_TSAN 1
#endif
#endif

namespace hotcore::detail {

// read_gate is what a reader looks at of a hotplug lock (runtime/hotplug/hotplug_lock.h,
// which derives from it): its gate, and whether readers may take the lock inline (the
// lock's readers rely on the writer's membarrier, and no chaos build). The gate is the
// kernel's rcu_sync: readers go the inline way only while it is idle.
enum gate_state : unsigned char {
  gate_idle = 0,    // no writer lately: readers rely on the next writer's membarrier
  gate_fenced = 1,  // a writer left lately: readers fence, so the next writer need not
  gate_writer = 2,  // a writer is in (or waits for the readers to leave)
};
struct read_gate {
  std::atomic<unsigned char> gate{gate_idle};
  bool inline_read = false;  // set once, before any reader
};

// reader_record is one thread's view of the hotplug locks it reads: entry i names a lock
// (held[i]) and how deep the thread holds it (depth[i]). Only its own thread writes it;
// writers read held[] of every registered record. callback_of is the runtime whose
// hotplug callback the thread is running (null outside one).
constexpr int held_max = 8;
struct reader_record {
  std::atomic<const read_gate*> held[held_max]{};
  int depth[held_max]{};
  int used = 0;  // entries [used, held_max) are all empty
  bool registered = false;
  bool exited = false;  // the thread is exiting and its record is no longer registered
  const void* callback_of = nullptr;
};

// this_reader is the calling thread's record (defined in libhotcore). constinit: no lazy
// initialisation check (nor TLS wrapper call) on the read side. initial-exec: the record
// sits at a fixed offset from the thread pointer instead of behind a __tls_get_addr()
// call on every access; the cost is about 100 bytes of the static TLS block, which a
// library loaded with dlopen() takes from glibc's reserve for that.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local reader_record this_reader;

// read_enter() takes the read side of `g` in entry 0 of the calling thread's record when
// the thread holds no hotplug lock, runs no callback and the gate is idle: true. Otherwise
// false with nothing changed, and the caller takes the general way. Two plain stores to
// the thread's own record and one load: no locked instruction, no shared line written.
inline bool read_enter(const read_gate& g) noexcept {
#ifdef HOTCORE_READ_SIDE_TSAN
  (void)g;
  return false;  // TSan does not see the membarrier handshake: the general way
#else
  reader_record& r = this_reader;
  if (!g.inline_read || r.used != 0 || !r.registered || r.callback_of != nullptr) return false;
  // relaxed, and only a compiler barrier before the flag's load: one half of a Dekker
  // handshake with the writer, whose membarrier() runs a full barrier on this thread, so
  // either the writer sees our entry or we see the gate leave idle (never neither).
  r.held[0].store(&g, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // acquire: what the last writer did before it left happens before our reads. Only an
  // idle gate lets us in here: a fenced one wants the fence the general way has.
  if (g.gate.load(std::memory_order_acquire) == gate_idle) {
    r.depth[0] = 1;
    r.used = 1;
    return true;
  }
  // release: pairs with the writer's scan; the general way fences or waits for the writer.
  r.held[0].store(nullptr, std::memory_order_release);
  return false;
#endif
}

// read_exit() gives back a single hold in entry 0 (what read_enter() takes): true. False
// (nothing changed) for any other hold, and where the lock is not read inline (a chaos
// build keeps its chaos point there), which the general way gives back.
inline bool read_exit(const read_gate& g) noexcept {
  reader_record& r = this_reader;
  // relaxed: only this thread writes its own entries.
  if (!g.inline_read || r.used != 1 || r.depth[0] != 1 || r.callback_of != nullptr ||
      r.held[0].load(std::memory_order_relaxed) != &g)
    return false;
  r.depth[0] = 0;
  r.used = 0;
  // release: everything the reader did happens before the writer that sees it empty.
  r.held[0].store(nullptr, std::memory_order_release);
  return true;
}

}  // namespace hotcore::detail
