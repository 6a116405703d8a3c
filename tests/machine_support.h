// SPDX-License-Identifier: MIT
// tests/machine_support.h — helpers for the tests of the machine under the runtime: the
// affinity of every thread of this process (/proc/self/task/*/status), waiting for a
// condition with a bound, a ledger that counts how often each task ran, and a forked
// child's report of a runtime::create() that must fail.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace hotcore_test {

// named_allowed_lists() maps each thread of the runtime (named "hc-...": hc-hotplug/N,
// hc-worker/N, hc-watch) to "name tid" -> its Cpus_allowed_list, e.g. "0" or "0-1".
inline std::map<std::string, std::string> named_allowed_lists();

// allowed_lists() maps each thread of the runtime to its Cpus_allowed_list.
inline std::map<pid_t, std::string> allowed_lists() {
  std::map<pid_t, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    const pid_t tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("hc-", 0) != 0) continue;
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Cpus_allowed_list:", 0) == 0) {
        const auto start = line.find_first_not_of(" \t", 18);
        out[tid] = start == std::string::npos ? "" : line.substr(start);
      }
  }
  return out;
}

inline std::map<std::string, std::string> named_allowed_lists() {
  std::map<std::string, std::string> out;
  for (const auto& [tid, list] : allowed_lists()) {
    std::ifstream comm("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::string name;
    std::getline(comm, name);
    out[name + " " + std::to_string(tid)] = list;
  }
  return out;
}

// allowed_of() is the Cpus_allowed_list of the runtime thread named `name` (e.g.
// "hc-worker/1"), or "" if there is none (or more than one runtime is alive).
inline std::string allowed_of(const std::string& name) {
  std::string found;
  for (const auto& [key, list] : named_allowed_lists())
    if (key.rfind(name + " ", 0) == 0) found = list;
  return found;
}

// core_pinned() tells whether core N's hotplug thread and worker are pinned to cpuN alone.
inline bool core_pinned(unsigned core) {
  const std::string n = std::to_string(core);
  return allowed_of("hc-hotplug/" + n) == n && allowed_of("hc-worker/" + n) == n;
}

// list_has_cpu() tells whether a kernel CPU list ("0-3,5") contains cpu.
inline bool list_has_cpu(const std::string& list, unsigned cpu) {
  std::size_t pos = 0;
  while (pos < list.size()) {
    std::size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    const std::string part = list.substr(pos, end - pos);
    const auto dash = part.find('-');
    const unsigned first = static_cast<unsigned>(std::stoul(part.substr(0, dash)));
    const unsigned last =
        dash == std::string::npos ? first : static_cast<unsigned>(std::stoul(part.substr(dash + 1)));
    if (cpu >= first && cpu <= last) return true;
    pos = end + 1;
  }
  return false;
}

// threads_allowed_on() lists the runtime threads whose affinity includes cpu, as
// "tid:list".
inline std::vector<std::string> threads_allowed_on(unsigned cpu) {
  std::vector<std::string> out;
  for (const auto& [tid, list] : allowed_lists())
    if (list_has_cpu(list, cpu)) out.push_back(std::to_string(tid) + ":" + list);
  return out;
}

// threads_pinned_to() counts the threads whose affinity is exactly {cpu}.
inline int threads_pinned_to(unsigned cpu) {
  int n = 0;
  for (const auto& [tid, list] : allowed_lists()) n += list == std::to_string(cpu) ? 1 : 0;
  return n;
}

// watch_idle() tells whether the runtime's machine watch ("hc-watch") has received at
// least `uevents` CPU uevents and sleeps in poll() again: it has acted on each of them.
inline bool watch_idle(runtime& rt, std::uint64_t uevents) {
  return rt.stats().machine.uevents >= uevents && thread_asleep("hc-watch");
}

// run_ledger counts the runs of each task id; every accepted id must run exactly once.
class run_ledger {
 public:
  explicit run_ledger(std::size_t capacity) : _runs(new std::atomic<int>[capacity]()), _cap(capacity) {}
  [[nodiscard]] std::size_t capacity() const noexcept { return _cap; }
  void ran(std::size_t id) noexcept {
    _runs[id].fetch_add(1, std::memory_order_relaxed);
    // relaxed: a progress count that tests poll; check() reads the runs after a join.
    _total.fetch_add(1, std::memory_order_relaxed);
  }
  // runs() is how many runs happened so far (of any id): the stream's progress.
  [[nodiscard]] std::size_t runs() const noexcept { return _total.load(std::memory_order_relaxed); }
  // check(accepted) counts ids below `accepted` that ran 0 times (lost) or more than once.
  void check(std::size_t accepted, std::size_t& lost, std::size_t& doubled) const {
    lost = doubled = 0;
    for (std::size_t i = 0; i < accepted; ++i) {
      const int n = _runs[i].load(std::memory_order_relaxed);
      lost += n == 0 ? 1 : 0;
      doubled += n > 1 ? 1 : 0;
    }
  }

 private:
  std::unique_ptr<std::atomic<int>[]> _runs;
  std::size_t _cap;
  std::atomic<std::size_t> _total{0};
};

// task_stream submits tasks (one id each) from a thread of its own, alternating submit()
// and submit_on() of every core, until stop(); refused submit_on()s (-ENODEV: the core is
// not active) are not counted as accepted.
class task_stream {
 public:
  task_stream(runtime& rt, run_ledger& ledger) : _rt(rt), _ledger(ledger) {
    _thread = std::thread([this] { loop(); });
  }
  ~task_stream() { stop(); }
  // stop() ends submitting and returns how many tasks were accepted.
  std::size_t stop() {
    _stop.store(true);
    if (_thread.joinable()) _thread.join();
    return _accepted;
  }
  // full() tells whether the stream stopped because the ledger is full.
  [[nodiscard]] bool full() const noexcept { return _full.load(std::memory_order_acquire); }

 private:
  void loop() {
    const auto& cores = _rt.cores();
    for (std::size_t i = 0; !_stop.load() && _accepted < _ledger.capacity(); ++i) {
      const std::size_t id = _accepted;
      run_ledger* l = &_ledger;
      const int ret = i % 2 == 0 ? _rt.submit([l, id] { l->ran(id); })
                                 : _rt.submit_on(cores[(i / 2) % cores.size()], [l, id] { l->ran(id); });
      if (ret == 0) ++_accepted;
      // Not a wait: the stream's pace, so that it does not fill the ledger in a moment.
      if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    // release: full() is read by the test's thread.
    _full.store(_accepted == _ledger.capacity(), std::memory_order_release);
  }
  runtime& _rt;
  run_ledger& _ledger;
  std::atomic<bool> _stop{false};
  std::atomic<bool> _full{false};
  std::size_t _accepted = 0;  // read after join
  std::thread _thread;
};

// cpu1_leaves_and_returns() runs a task_stream on rt while take_away() removes cpu1 from
// under the runtime (an affinity shrink, an `echo 0`) and give_back() returns it. It checks
// that core 1 went down through the hotplug path (OFFLINE, unavailable, no runtime thread
// still allowed on cpu1), runs while_away() there, and checks that the core came back up,
// pinned. It returns how many tasks the stream had accepted.
template <class TakeAway, class GiveBack, class WhileAway>
std::size_t cpu1_leaves_and_returns(runtime& rt, run_ledger& ledger, TakeAway take_away,
                                    GiveBack give_back, WhileAway while_away) {
  using namespace std::chrono_literals;
  task_stream stream(rt, ledger);
  // Tasks flow before, while and after cpu1 is away: each phase waits for 1000 runs (or
  // for the stream to have filled the ledger).
  constexpr std::size_t flow = 1000;
  const auto flowed = [&](std::size_t from) { return ledger.runs() >= from + flow || stream.full(); };
  CHECK(wait_until([&] { return flowed(0); }));
  take_away();
  // Bound: the reaction plus a walk; 5 s only so that a hang fails.
  CHECK(wait_until([&] { return rt.state(1) == OFFLINE; }));
  CHECK_FALSE(rt.core_available(1));
  CHECK(threads_allowed_on(1) == std::vector<std::string>{});
  while_away();
  const std::size_t away = ledger.runs();
  CHECK_MESSAGE(wait_until([&] { return flowed(away); }), "runs " << ledger.runs());
  give_back();
  CHECK(wait_until([&] { return rt.state(1) == ONLINE; }));
  CHECK(rt.core_available(1));
  CHECK(core_pinned(1));
  const std::size_t back = ledger.runs();
  CHECK_MESSAGE(wait_until([&] { return flowed(back); }), "runs " << ledger.runs());
  return stream.stop();
}

// shut_down_and_check_each_ran_once() shuts rt down (so every accepted task has run) and
// checks that each of the `accepted` tasks ran exactly once.
inline void shut_down_and_check_each_ran_once(runtime& rt, const run_ledger& ledger,
                                              std::size_t accepted) {
  REQUIRE(rt.shutdown() == 0);
  std::size_t lost = 0, doubled = 0;
  ledger.check(accepted, lost, doubled);
  CHECK(accepted > 0);
  CHECK(lost == 0);
  CHECK(doubled == 0);
}

// create_refused() is what a forked child reports (as its exit status) of
// runtime::create(options) where it must fail with `err`: 0 when it did and no thread was
// left behind, 1 when it created a runtime, 2 for another error, 3 for a thread left.
inline int create_refused(const runtime_options& options, int err) {
  const int threads = thread_count();
  std::error_code ec;
  if (runtime::create(options, ec)) return 1;
  if (ec.value() != err) return 2;
  if (settle_thread_count(threads) != threads) return 3;
  return 0;
}

}  // namespace hotcore_test
