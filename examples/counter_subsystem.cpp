// SPDX-License-Identifier: MIT
// examples/counter_subsystem.cpp — a subsystem of your own as a pair of multi-instance
// states: per-core counters whose slot is built on the control thread (PREPARE), goes
// live on the core (ONLINE), and hands its count on when the core leaves. Any number of
// counter sets share the two states; docs/writing-a-subsystem.md walks through it.
#include <hotcore/hotcore.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <new>
#include <vector>

namespace {

struct counters;
// member ties one counter set to one of the two states (one node per state).
struct member : hotcore::instance_node {
  explicit member(counters& c) : set(&c) {}
  counters* set;
};

// counters is one instance: a slot per core, live while the core is online.
struct counters {
  explicit counters(std::size_t ncores) : built(ncores), live(ncores) {}
  std::vector<std::unique_ptr<std::atomic<long>>> built;  // "counters:prepare"
  std::vector<std::atomic<std::atomic<long>*>> live;      // "counters:online"
  std::atomic<long> retired{0};  // counts of slots whose core left
  member prepare_node{*this}, online_node{*this};

  // add() is the hot path, from a task: the core's own slot, no lock, no RMW.
  void add(hotcore::runtime& rt, long n) {
    const int core = rt.this_core();
    // acquire: pairs with the release in go_live(), the slot is built.
    std::atomic<long>* slot = core >= 0 ? live[core].load(std::memory_order_acquire) : nullptr;
    if (slot == nullptr) retired.fetch_add(n, std::memory_order_relaxed);  // off the pool
    else slot->store(slot->load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  long total() const {  // relaxed: a snapshot
    long sum = retired.load(std::memory_order_relaxed);
    for (const auto& s : live)
      if (auto* p = s.load(std::memory_order_relaxed)) sum += p->load(std::memory_order_relaxed);
    return sum;
  }
};

counters& of(hotcore::instance_node* n) { return *static_cast<member*>(n)->set; }

// PREPARE, on the control thread: build the slot (may fail: -ENOMEM). Teardown frees it.
int build(unsigned core, hotcore::instance_node* n) {
  auto* slot = new (std::nothrow) std::atomic<long>(0);
  if (slot == nullptr) return -ENOMEM;
  of(n).built[core].reset(slot);
  return 0;
}
int free_slot(unsigned core, hotcore::instance_node* n) {
  of(n).built[core].reset();
  return 0;
}
// ONLINE, on the core's hotplug thread: the slot goes live / hands its count on. Below
// sched:active, so no task of this core runs while it leaves.
int go_live(unsigned core, hotcore::instance_node* n) {
  // release: a task of this core that loads it (acquire) sees the slot built. Matters
  // when the instance is added while the core runs tasks.
  of(n).live[core].store(of(n).built[core].get(), std::memory_order_release);
  return 0;
}
int retire(unsigned core, hotcore::instance_node* n) {
  counters& c = of(n);
  std::atomic<long>* slot = c.live[core].exchange(nullptr, std::memory_order_relaxed);
  c.retired.fetch_add(slot->load(std::memory_order_relaxed), std::memory_order_relaxed);
  slot->store(0, std::memory_order_relaxed);
  return 0;
}

}  // namespace

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) return 1;
  // The subsystem: both states, once per runtime.
  const int prepare =
      rt->setup_state_multi(hotcore::PREPARE_DYN, "counters:prepare", build, free_slot);
  const int online =
      rt->setup_state_multi(hotcore::ONLINE_DYN, "counters:online", go_live, retire);
  if (prepare < 0 || online < 0) return 1;
  // Two instances; each create is add_instance() on both states, each destroy the reverse.
  const std::size_t ncores = rt->cores().back() + 1;
  counters hits(ncores), misses(ncores);
  for (counters* c : {&hits, &misses})
    if (rt->add_instance(prepare, &c->prepare_node) < 0 ||
        rt->add_instance(online, &c->online_node) < 0)
      return 1;
  for (int i = 0; i < 1000; ++i)
    (void)rt->submit([&, i] { (i % 4 ? hits : misses).add(*rt, 1); });
  (void)rt->shutdown();  // every task ran
  if (rt->cores().size() > 1) (void)rt->core_down(rt->cores().back());  // counts move on
  std::fputs(rt->states_text().c_str(), stdout);  // " 33: counters:online (2 instances)"
  std::printf("hits %ld, misses %ld\n", hits.total(), misses.total());
  const bool ok = hits.total() == 750 && misses.total() == 250;
  for (counters* c : {&hits, &misses}) {
    (void)rt->remove_instance(online, &c->online_node);
    (void)rt->remove_instance(prepare, &c->prepare_node);
  }
  return ok && rt->remove_multi_state(online) == 0 && rt->remove_multi_state(prepare) == 0 ? 0 : 1;
}
