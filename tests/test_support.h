// SPDX-License-Identifier: MIT
// tests/test_support.h — helpers shared by the hotcore test suites: creating a runtime,
// counting the process's threads and fds, a forked child's exit status, an event log of
// callbacks, a ledger of resources and states whose callbacks record into either.
#pragma once

#include <dirent.h>
#include <doctest/doctest.h>
#include <sched.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "allowed_cpus.h"
#include "hotcore/hotcore.h"
#include "runner.h"

// Event logs print as their lines when a comparison fails.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ",\n  \"" : "\n  \"") + v[i] + "\"";
    out += v.empty() ? "}" : "\n}";
    return String(out.c_str());
  }
};
}  // namespace doctest

namespace hotcore_test {

using namespace hotcore;

// make_runtime() creates a runtime and checks that creation succeeded.
inline std::unique_ptr<runtime> make_runtime(const runtime_options& options = {}) {
  std::error_code ec;
  auto rt = runtime::create(options, ec);
  CHECK_MESSAGE(!ec, "runtime::create: " << ec.message());
  REQUIRE(rt != nullptr);
  return rt;
}

// multi_core_runtime() creates a runtime on the default cores and requires two or more of
// them (after NEEDS_TWO_CPUS(), which skips where there cannot be).
inline std::unique_ptr<runtime> multi_core_runtime() {
  auto rt = make_runtime();
  REQUIRE(rt->cores().size() >= 2);
  return rt;
}

// offline_runtime() creates a runtime on the two CPUs given (TWO_CPUS) with both cores
// OFFLINE.
inline std::unique_ptr<runtime> offline_runtime(const cpu_pair& cpus) {
  return make_runtime(runtime_options{.cores = {cpus.a, cpus.b}, .online_at_start = false});
}

// thread_count() is the number of threads of this process (/proc/self/task).
inline int thread_count() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

// fd_count() is how many fds this process has open (/proc/self/fd, minus the one used to
// read it).
inline int fd_count() {
  DIR* d = opendir("/proc/self/fd");
  REQUIRE(d != nullptr);
  int n = 0;
  while (const dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;
}

// exit_status_of() waits for the forked child and returns its exit status; REQUIREs that
// it exited (a child killed by a signal fails the test).
inline int exit_status_of(pid_t child) {
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// task_dir() is /proc/self/task/TID of this process's thread named `name` (its comm, e.g.
// "hc-worker/1"), or empty when there is none.
inline std::filesystem::path task_dir(const std::string& name) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::FILE* comm = std::fopen((entry.path() / "comm").c_str(), "r");
    if (comm == nullptr) continue;
    char buf[64] = {};
    const bool read = std::fgets(buf, sizeof buf, comm) != nullptr;
    std::fclose(comm);
    buf[std::strcspn(buf, "\n")] = '\0';
    if (read && name == buf) return entry.path();
  }
  return {};
}

// thread_asleep() tells whether this process has a thread named `name` and it sleeps
// (state S in its stat): an idle worker past its spin, blocked in ppoll(), which only a
// kick or a deadline wakes.
inline bool thread_asleep(const std::string& name) {
  const std::filesystem::path dir = task_dir(name);
  if (dir.empty()) return false;
  std::FILE* stat = std::fopen((dir / "stat").c_str(), "r");
  if (stat == nullptr) return false;
  char line[512] = {};
  const bool got = std::fgets(line, sizeof line, stat) != nullptr;
  std::fclose(stat);
  // "tid (comm) S ...": the state follows the last ')'.
  const char* close = got ? std::strrchr(line, ')') : nullptr;
  return close != nullptr && close[1] == ' ' && close[2] == 'S';
}

// named_node is an instance of a multi-instance state that knows its name.
struct named_node : instance_node {
  explicit named_node(std::string n) : name(std::move(n)) {}
  std::string name;
};

inline std::string node_name(const instance_node* node) {
  if (node == nullptr) return "-";
  return static_cast<const named_node*>(node)->name;
}

// event_log records callback invocations as strings, "up <tag> core<N>" for a startup and
// "down <tag> core<N>" for a teardown ("... <instance>" for multi-instance states), and
// " fail" appended when the callback was told to fail. It is a handle: copies share the
// log, so the callbacks it makes may outlive the test's local variable.
class event_log {
 public:
  event_log() : _d(std::make_shared<data>()) {}

  // fail_on() makes the callback whose event string equals `event` return `err` the next
  // time it runs (once).
  void fail_on(const std::string& event, int err = -EIO) {
    std::lock_guard lk(_d->mu);
    _d->fails[event] = err;
  }

  // startup()/teardown() make single-instance callbacks that record into the log.
  callback startup(const std::string& tag) const { return make("up " + tag); }
  callback teardown(const std::string& tag) const { return make("down " + tag); }
  // multi_startup()/multi_teardown() make multi-instance callbacks (nodes are named_node).
  multi_callback multi_startup(const std::string& tag) const { return make_multi("up " + tag); }
  multi_callback multi_teardown(const std::string& tag) const {
    return make_multi("down " + tag);
  }

  // record() adds one event and returns what the callback should return.
  int record(const std::string& event) const {
    std::lock_guard lk(_d->mu);
    auto it = _d->fails.find(event);
    if (it != _d->fails.end()) {
      const int err = it->second;
      _d->fails.erase(it);
      _d->entries.push_back(event + " fail");
      return err;
    }
    _d->entries.push_back(event);
    return 0;
  }

  // take() returns and clears the log.
  std::vector<std::string> take() const {
    std::lock_guard lk(_d->mu);
    return std::exchange(_d->entries, {});
  }
  std::vector<std::string> snapshot() const {
    std::lock_guard lk(_d->mu);
    return _d->entries;
  }
  void clear() const { (void)take(); }

 private:
  struct data {
    std::mutex mu;
    std::vector<std::string> entries;
    std::map<std::string, int> fails;
  };

  callback make(std::string prefix) const {
    return [d = *this, prefix = std::move(prefix)](unsigned core) {
      return d.record(prefix + " core" + std::to_string(core));
    };
  }
  multi_callback make_multi(std::string prefix) const {
    return [d = *this, prefix = std::move(prefix)](unsigned core, instance_node* node) {
      return d.record(prefix + " core" + std::to_string(core) + " " + node_name(node));
    };
  }

  std::shared_ptr<data> _d;
};

// ledger counts the resources startups acquire and teardowns release, keyed by (core,
// tag, instance): a startup of something already held, or a teardown of something not
// held, is a violation. Like event_log it is a shared handle; callbacks may also be told
// to fail once.
class ledger {
 public:
  using key = std::tuple<unsigned, std::string, const instance_node*>;

  ledger() : _d(std::make_shared<data>()) {}

  callback startup(const std::string& tag) const {
    return [d = *this, tag](unsigned core) { return d.acquire(core, tag, nullptr); };
  }
  callback teardown(const std::string& tag) const {
    return [d = *this, tag](unsigned core) { return d.release(core, tag, nullptr); };
  }
  multi_callback multi_startup(const std::string& tag) const {
    return [d = *this, tag](unsigned core, instance_node* n) { return d.acquire(core, tag, n); };
  }
  multi_callback multi_teardown(const std::string& tag) const {
    return [d = *this, tag](unsigned core, instance_node* n) { return d.release(core, tag, n); };
  }

  // fail_next() makes the next startup (up) or teardown (!up) of (core, tag, node) return
  // err instead of acquiring/releasing.
  void fail_next(unsigned core, const std::string& tag, const instance_node* node, bool up,
                 int err = -EIO) const {
    std::lock_guard lk(_d->mu);
    _d->fails[{key{core, tag, node}, up}] = err;
  }
  // pending_fails() is how many fail_next() requests have not fired yet.
  std::size_t pending_fails() const {
    std::lock_guard lk(_d->mu);
    return _d->fails.size();
  }
  void clear_fails() const {
    std::lock_guard lk(_d->mu);
    _d->fails.clear();
  }

  int acquire(unsigned core, const std::string& tag, const instance_node* node) const {
    return step(key{core, tag, node}, true);
  }
  int release(unsigned core, const std::string& tag, const instance_node* node) const {
    return step(key{core, tag, node}, false);
  }

  // held() tells whether (core, tag, node) is acquired now.
  bool held(unsigned core, const std::string& tag, const instance_node* node = nullptr) const {
    std::lock_guard lk(_d->mu);
    return _d->held.count(key{core, tag, node}) != 0;
  }
  // held_keys() lists everything acquired and not released.
  std::vector<std::string> held_keys() const {
    std::lock_guard lk(_d->mu);
    std::vector<std::string> out;
    for (const auto& k : _d->held) out.push_back(describe(k));
    return out;
  }
  // violations() lists double acquires and releases of what was not held.
  std::vector<std::string> violations() const {
    std::lock_guard lk(_d->mu);
    return _d->violations;
  }
  long acquires() const {
    std::lock_guard lk(_d->mu);
    return _d->acquires;
  }
  long releases() const {
    std::lock_guard lk(_d->mu);
    return _d->releases;
  }

  static std::string describe(const key& k) {
    return "core" + std::to_string(std::get<0>(k)) + " " + std::get<1>(k) + " " +
           node_name(std::get<2>(k));
  }

 private:
  struct data {
    std::mutex mu;
    std::set<key> held;
    std::map<std::pair<key, bool>, int> fails;
    std::vector<std::string> violations;
    long acquires = 0;
    long releases = 0;
  };

  int step(const key& k, bool up) const {
    std::lock_guard lk(_d->mu);
    auto f = _d->fails.find({k, up});
    if (f != _d->fails.end()) {
      const int err = f->second;
      _d->fails.erase(f);
      return err;
    }
    if (up) {
      ++_d->acquires;
      if (!_d->held.insert(k).second) _d->violations.push_back("acquired twice: " + describe(k));
    } else {
      ++_d->releases;
      if (_d->held.erase(k) == 0) _d->violations.push_back("released unheld: " + describe(k));
    }
    return 0;
  }

  std::shared_ptr<data> _d;
};

// trace_line() formats a trace event like the event log: "up 33 name core1", with
// " -> <result>", " injected" and " rollback" when they apply.
inline std::string trace_line(const trace_event& ev) {
  std::string s = ev.dir == direction::up ? "up " : "down ";
  s += std::to_string(ev.state) + " " + ev.name + " core" + std::to_string(ev.core);
  if (ev.instance != nullptr) s += " " + node_name(ev.instance);
  if (ev.result != 0) s += " -> " + std::to_string(ev.result);
  if (ev.injected) s += " injected";
  if (ev.rollback) s += " rollback";
  return s;
}

// trace_lines() formats the events whose state is in `only` (every event if empty).
inline std::vector<std::string> trace_lines(const std::vector<trace_event>& events,
                                            const std::set<int>& only = {}) {
  std::vector<std::string> out;
  for (const auto& ev : events)
    if (only.empty() || only.count(ev.state) != 0) out.push_back(trace_line(ev));
  return out;
}

// logged_state() installs `name` at `state` with the startup and teardown that `log` (an
// event_log or a ledger) makes for `tag`, and returns setup_state()'s result;
// logged_multi_state() does it for a multi-instance state (setup_state_multi()).
template <class Log>
[[nodiscard]] int logged_state(runtime& rt, int state, std::string_view name, const Log& log,
                               const std::string& tag) {
  return rt.setup_state(state, name, log.startup(tag), log.teardown(tag));
}
template <class Log>
[[nodiscard]] int logged_multi_state(runtime& rt, int state, std::string_view name,
                                     const Log& log, const std::string& tag) {
  return rt.setup_state_multi(state, name, log.multi_startup(tag), log.multi_teardown(tag));
}

// has_state() tells whether states() lists a state with this name.
inline bool has_state(const runtime& rt, const std::string& name) {
  const auto rows = rt.states();
  return std::any_of(rows.begin(), rows.end(),
                     [&](const state_row& r) { return r.name == name; });
}

// state_named() is the number of the state with this name, or -1.
inline int state_named(const runtime& rt, const std::string& name) {
  for (const auto& r : rt.states())
    if (r.name == name) return r.state;
  return -1;
}

// env_number() is the environment variable `name` as a number, or `fallback` when unset
// (HOTCORE_SEED and the counts of the model and linearizability machines).
inline long env_number(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

// wait_until() polls cond, with a short backoff, until it holds or `limit` passes, and
// says whether it held: a bound for a hung test, never a speed assertion. Callers CHECK or
// REQUIRE the result, so a timeout fails with the condition's line.
template <class F>
bool wait_until(F cond, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::microseconds(50);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return cond();
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
  }
  return true;
}

// settle_thread_count() waits (bounded) for exiting threads to leave /proc/self/task,
// then returns the count.
inline int settle_thread_count(int expected) {
  (void)wait_until([&] { return thread_count() == expected; });
  return thread_count();
}

// bounded() runs fn on another thread and aborts the whole test program if it does not
// return within `limit` (a deadlock must fail the test, not hang it).
template <class F>
void bounded(std::chrono::milliseconds limit, const char* what, F&& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    fn();
    std::lock_guard lk(mu);
    done = true;
    cv.notify_one();
  });
  {
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, limit, [&] { return done; })) {
      std::fprintf(stderr, "DEADLOCK: %s did not return within %lld ms\n", what,
                   static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::_Exit(1);
    }
  }
  t.join();
}

}  // namespace hotcore_test
