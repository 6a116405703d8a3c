// SPDX-License-Identifier: MIT
// runtime/hotplug/hotplug_lock.cpp — the reader/writer lock behind cpus_read_lock().
#include "hotplug/hotplug_lock.h"
#include "chaos.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace hotcore::detail {

// The calling thread's record; see the header.
constinit thread_local reader_record this_reader{};

namespace {

int membarrier(int cmd) noexcept { return static_cast<int>(::syscall(SYS_membarrier, cmd, 0U, 0)); }

// membarrier_ready() registers the process for private expedited membarriers once and says
// whether that worked. TSan does not model membarrier (it would not see the happens-before
// the barrier gives), so a TSan build never uses it and its readers use seq_cst.
bool membarrier_ready() noexcept {
#ifdef HOTCORE_TSAN
  return false;
#else
  static const bool ready = [] {
    const int cmds = membarrier(MEMBARRIER_CMD_QUERY);
    return cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
           membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  }();
  return ready;
#endif
}

// force_barrier() makes every running thread of the process execute a full memory barrier
// before it returns. Registration is per address space: a forked child registers again.
void force_barrier() noexcept {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  if (errno == EPERM && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
      membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return;
  // Registration worked once, so the command exists; readers rely on it and there is no
  // correct way on without it.
  std::perror("hotcore: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)");
  std::abort();
}

// The registry of every thread's record. Never destroyed: threads may exit (and
// unregister) after static destructors have run.
struct registry {
  std::mutex mutex;
  std::vector<reader_record*> records;
};
registry& readers() noexcept {
  static registry* const r = [] {
    auto* reg = new registry;
    // A fork() while another thread holds the mutex would leave it locked for good in the
    // child: fork holds it across the copy.
    (void)pthread_atfork([] { readers().mutex.lock(); }, [] { readers().mutex.unlock(); },
                         [] { readers().mutex.unlock(); });
    return reg;
  }();
  return *r;
}

// registration adds this thread's record to the registry on the thread's first read_lock()
// and removes it when the thread exits.
struct registration {
  registration() {
    std::lock_guard lk(readers().mutex);
    readers().records.push_back(&this_reader);
    this_reader.registered = true;
  }
  ~registration() {
    std::lock_guard lk(readers().mutex);
    auto& v = readers().records;
    v.erase(std::find(v.begin(), v.end(), &this_reader));
    this_reader.registered = false;
    this_reader.exited = true;
  }
  registration(const registration&) = delete;
  registration& operator=(const registration&) = delete;
};

// register_thread() registers the calling thread (once); false once it is exiting.
[[gnu::noinline, gnu::cold]] bool register_thread() noexcept {
  if (this_reader.exited) return false;
  try {
    thread_local const registration r;
  } catch (...) {  // out of memory for the registry: the shared counter still works
    return false;
  }
  return this_reader.registered;
}

// registered() is true when the calling thread's record is in the registry.
inline bool registered() noexcept { return this_reader.registered || register_thread(); }

// find_entry() is the entry of this thread's record that names lock, or -1.
int find_entry(const hotplug_lock* lock) noexcept {
  for (int i = 0; i < this_reader.used; ++i)
    // relaxed: only this thread writes its own entries.
    if (this_reader.held[i].load(std::memory_order_relaxed) == lock) return i;
  return -1;
}

// free_entry() is an empty entry of this thread's record, or -1 when all are in use.
int free_entry() noexcept {
  for (int i = 0; i < held_max; ++i)
    // relaxed: only this thread writes its own entries.
    if (i >= this_reader.used || this_reader.held[i].load(std::memory_order_relaxed) == nullptr) return i;
  return -1;
}

}  // namespace

hotplug_lock::hotplug_lock(read_side side, std::chrono::microseconds quiet) noexcept
    : _asymmetric(side == read_side::asymmetric && membarrier_ready()), _quiet(quiet) {
  // A chaos build takes the general way, where its chaos points are.
#ifdef HOTCORE_CHAOS
  inline_read = false;
#else
  inline_read = _asymmetric;
#endif
}

// try_enter() is inlined into read_lock() and read_trylock(): it is the read side's fast path.
[[gnu::always_inline]] inline bool hotplug_lock::try_enter() noexcept {
  if (!registered()) return try_enter_shared();
  const int i = free_entry();
  if (i < 0) return try_enter_shared();
  this_reader.depth[i] = 1;
  this_reader.used = std::max(this_reader.used, i + 1);
  unsigned char g;
#ifndef HOTCORE_TSAN
  if (_asymmetric) {
    // relaxed, and only a compiler barrier before the gate's load: this is one half of a
    // Dekker handshake with write_lock(), whose membarrier() runs a full barrier on this
    // thread, so either the writer sees our entry or we see the gate leave idle (never
    // neither).
    this_reader.held[i].store(this, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    HOTCORE_CHAOS_POINT("read_lock:enter");
    // acquire: what the last writer did before write_unlock() happens before our reads.
    g = gate.load(std::memory_order_acquire);
    if (g == gate_fenced) {
      // A writer left lately, and the next one forces no barrier: run ours. seq_cst fence
      // between our entry and the gate's second load, against the writer's seq_cst
      // exchange of the gate before its scan: either it sees our entry or we see it in.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      g = gate.load(std::memory_order_acquire);  // acquire: as above
      if (g == gate_fenced) idle_if_quiet();
    }
  } else
#endif
  {
    // seq_cst on both: the same handshake with the fence in the accesses themselves
    // (membarrier unavailable, or TSan, which sees this happens-before and not membarrier's).
    this_reader.held[i].store(this, std::memory_order_seq_cst);
    HOTCORE_CHAOS_POINT("read_lock:enter");
    g = gate.load(std::memory_order_seq_cst);
  }
  if (g != gate_writer) return true;
  // release: pairs with the writer's scan, like read_unlock().
  this_reader.held[i].store(nullptr, std::memory_order_release);
  this_reader.depth[i] = 0;
  return false;
}

[[gnu::noinline, gnu::cold]] bool hotplug_lock::try_enter_shared() noexcept {
  // seq_cst on both sides: the Dekker handshake with write_lock()'s seq_cst flag store and
  // scan, in the language's own terms (the writer's membarrier is not needed here).
  _shared_readers.fetch_add(1, std::memory_order_seq_cst);
  HOTCORE_CHAOS_POINT("read_lock:enter");
  if (gate.load(std::memory_order_seq_cst) != gate_writer) return true;
  // seq_cst: withdraw the count in the same total order the writer scans in.
  _shared_readers.fetch_sub(1, std::memory_order_seq_cst);
  return false;
}

void hotplug_lock::read_lock_slow() noexcept {
  if (const int i = find_entry(this); i >= 0) {
    ++this_reader.depth[i];  // nested: the outer hold keeps writers out
    return;
  }
  if (!try_enter()) wait_and_enter();
}

void hotplug_lock::wait_and_enter() noexcept {
  do {
    std::unique_lock lk(_wait_mutex);
    // seq_cst pairs with write_unlock()'s store, made under the same mutex.
    _writer_done.wait(lk, [&] { return gate.load(std::memory_order_seq_cst) != gate_writer; });
  } while (!try_enter());
}

bool hotplug_lock::read_trylock() noexcept NO_THREAD_SAFETY_ANALYSIS {
  if (const int i = find_entry(this); i >= 0) {
    ++this_reader.depth[i];
    return true;
  }
  return try_enter();
}

void hotplug_lock::read_unlock_slow() noexcept {
  HOTCORE_CHAOS_POINT("read_lock:exit");
  const int i = find_entry(this);
  if (i < 0) {
    // release: everything the reader did happens before the writer that sees the count drop.
    _shared_readers.fetch_sub(1, std::memory_order_release);
    return;
  }
  if (--this_reader.depth[i] > 0) return;
  // release: everything the reader did happens before the writer that sees the entry empty.
  this_reader.held[i].store(nullptr, std::memory_order_release);
  if (i + 1 == this_reader.used) --this_reader.used;
}

bool hotplug_lock::read_held() const noexcept { return find_entry(this) >= 0; }

bool hotplug_lock::readers_in() const {
  // seq_cst: must not be satisfied by a count from before our flag was visible.
  if (_shared_readers.load(std::memory_order_seq_cst) != 0) return true;
  std::lock_guard lk(readers().mutex);
  for (const reader_record* r : readers().records)
    for (const auto& e : r->held)
      // seq_cst: the other half of the handshake in try_enter() (the membarrier before the
      // scan orders the asymmetric readers; seq_cst orders the symmetric ones); it also
      // acquires, pairing with read_unlock()'s release.
      if (e.load(std::memory_order_seq_cst) == this) return true;
  return false;
}

void hotplug_lock::idle_if_quiet() noexcept {
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  // relaxed: a hint of when the last writer left; a stale one only moves the change.
  const std::int64_t left = _writer_left.load(std::memory_order_relaxed);
  if (now - left < _quiet.count()) return;
  unsigned char expected = gate_fenced;
  // relaxed: correctness never rests on this change. A writer that finds the gate idle
  // forces the barrier, whatever the readers saw; the CAS only keeps a writer's gate_writer.
  (void)gate.compare_exchange_strong(expected, gate_idle, std::memory_order_relaxed);
}

void hotplug_lock::write_lock() NO_THREAD_SAFETY_ANALYSIS {
  _writer_mutex.lock();
  // seq_cst: the gate half of the handshake with try_enter() and try_enter_shared(). From
  // fenced, the exchange is the writer's full barrier against the readers' own fences.
  // From idle, readers may have published their entry without a fence and seen the gate
  // idle: every reader now runs a full barrier, so one that published its entry before
  // this point has it visible to our scan, and one that publishes later sees the writer.
  const unsigned char was = gate.exchange(gate_writer, std::memory_order_seq_cst);
  if (_asymmetric && was == gate_idle) {
    force_barrier();
    _barriers.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  }
  HOTCORE_CHAOS_POINT("write_lock:wait");
  // Readers hold the lock briefly as a rule: spin a little, then back off with sleeps so a
  // long reader costs the waiting writer next to nothing.
  for (int spin = 0; spin < 200 && readers_in(); ++spin) std::this_thread::yield();
  auto pause = std::chrono::microseconds(2);
  while (readers_in()) {
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(1)) pause *= 2;
  }
}

void hotplug_lock::write_unlock() NO_THREAD_SAFETY_ANALYSIS {
  {
    std::lock_guard lk(_wait_mutex);
    // relaxed: read by idle_if_quiet() only as a hint; stored before the gate's release.
    _writer_left.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                       std::memory_order_relaxed);
    // seq_cst: readers re-check the gate in try_enter() with acquire or seq_cst. Fenced
    // where readers rely on membarrier: the writers that follow soon force none.
    gate.store(_asymmetric ? gate_fenced : gate_idle, std::memory_order_seq_cst);
  }
  _writer_done.notify_all();
  _writer_mutex.unlock();
}

}  // namespace hotcore::detail
