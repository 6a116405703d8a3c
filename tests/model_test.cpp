// SPDX-License-Identifier: MIT
// tests/model_test.cpp — the real runtime against the spec's model (model/spec_model.h):
// RapidCheck generates random command sequences, runs each on both, and after every
// command compares return codes, every core's state/target/fail, the exact callback log,
// the instances and the state listing. A mismatch prints the shrunk sequence and its seed;
// HOTCORE_SEED=<seed> reruns it, HOTCORE_MODEL_SEQUENCES=<n> sets how many sequences run.
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>

#include "model/spec_model.h"
#include "test_support.h"

using namespace hotcore;
using spec_model::model;

namespace {

constexpr int instance_count = 3;

// Counts for the summary line.
std::atomic<long> sequences{0}, commands{0}, mismatches{0};

// recorder is the real side's callback log and failure plan: the test's callbacks run on
// the caller or on a core's hotplug thread, one at a time (operations are serialized).
struct recorder {
  std::mutex mu;
  std::vector<spec_model::call> log;
  std::map<spec_model::fail_key, int> plan;

  int hit(unsigned core, int tag, bool up, int instance) {
    std::lock_guard lk(mu);
    int result = 0;
    auto it = plan.find({core, tag, up, instance});
    if (it != plan.end() && it->second > 0) {
      --it->second;
      result = spec_model::callback_error;
    }
    log.push_back({core, tag, up, instance, result});
    return result;
  }
};

// sut is the system under test: a runtime on the machine's cores (up to 4), the recorder
// its callbacks write to and the instances; the recorder and the nodes outlive it.
struct sut {
  recorder rec;
  std::array<instance_node, instance_count> nodes;
  std::unique_ptr<runtime> rt;
  int read_depth = 0;

  sut() {
    std::error_code ec;
    rt = runtime::create({}, ec);
    if (!rt) throw std::runtime_error("runtime::create: " + ec.message());
    ++sequences;
  }
  ~sut() {
    while (read_depth-- > 0) rt->cpus_read_unlock();
    {
      std::lock_guard lk(rec.mu);
      rec.plan.clear();
    }
    for (unsigned c : rt->cores()) (void)rt->set_fail(c, INVALID);
    rt.reset();
  }
  int index_of(instance_node* n) const { return static_cast<int>(n - nodes.data()); }
  instance_node* node(int i) { return i < 0 ? nullptr : &nodes[static_cast<std::size_t>(i)]; }
};

enum class kind {
  setup, setup_nocalls, setup_cpuslocked, setup_nocalls_cpuslocked, setup_multi,
  remove, remove_nocalls, remove_nocalls_cpuslocked, remove_multi,
  add_instance, add_instance_nocalls, remove_instance, remove_instance_nocalls,
  core_up, core_down, set_target, set_fail, fail_callback, disable, enable,
  read_lock, read_unlock,
};

const char* const kind_names[] = {
    "setup_state", "setup_state_nocalls", "setup_state_cpuslocked",
    "setup_state_nocalls_cpuslocked", "setup_state_multi", "remove_state",
    "remove_state_nocalls", "remove_state_nocalls_cpuslocked", "remove_multi_state",
    "add_instance", "add_instance_nocalls", "remove_instance", "remove_instance_nocalls",
    "core_up", "core_down", "set_target", "set_fail", "fail_callback",
    "cpu_hotplug_disable", "cpu_hotplug_enable", "cpus_read_lock", "cpus_read_unlock",
};

// args are one command's arguments; each kind uses the ones it needs.
struct args {
  kind k = kind::core_up;
  unsigned core = 0;
  int state = 0;
  int tag = 0;         // setup: the new state's tag (callbacks log it)
  bool up = true;      // setup: has a startup; fail_callback: which direction fails
  bool down = true;    // setup: has a teardown
  int inst = 0;        // instances; fail_callback: the instance (-1: single)
  int count = 1;       // fail_callback: how many calls in a row fail
};

std::string describe(const args& a) {
  std::ostringstream os;
  os << kind_names[static_cast<int>(a.k)] << "(";
  switch (a.k) {
    case kind::setup: case kind::setup_nocalls: case kind::setup_cpuslocked:
    case kind::setup_nocalls_cpuslocked: case kind::setup_multi:
      os << a.state << ", tag " << a.tag << (a.up ? ", startup" : ", null") << (a.down ? ", teardown" : ", null");
      break;
    case kind::remove: case kind::remove_nocalls: case kind::remove_nocalls_cpuslocked:
    case kind::remove_multi:
      os << a.state;
      break;
    case kind::add_instance: case kind::add_instance_nocalls: case kind::remove_instance:
    case kind::remove_instance_nocalls:
      os << a.state << ", inst " << a.inst;
      break;
    case kind::core_up: case kind::core_down:
      os << a.core;
      break;
    case kind::set_target: case kind::set_fail:
      os << a.core << ", " << a.state;
      break;
    case kind::fail_callback:
      os << "core " << a.core << ", state " << a.state << (a.up ? ", startup" : ", teardown") << ", inst "
         << a.inst << ", " << a.count << "x";
      break;
    default:
      break;
  }
  os << ")";
  return os.str();
}

// run_model() carries out a command on the model and returns what it returns.
int run_model(model& m, const args& a) {
  const std::string name = "test:" + std::to_string(a.tag);
  switch (a.k) {
    case kind::setup: return m.setup(a.state, name, a.tag, a.up, a.down, false, true, false);
    case kind::setup_nocalls: return m.setup(a.state, name, a.tag, a.up, a.down, false, false, false);
    case kind::setup_cpuslocked: return m.setup(a.state, name, a.tag, a.up, a.down, false, true, true);
    case kind::setup_nocalls_cpuslocked:
      return m.setup(a.state, name, a.tag, a.up, a.down, false, false, true);
    case kind::setup_multi: return m.setup(a.state, name, a.tag, a.up, a.down, true, false, false);
    case kind::remove: return m.remove(a.state, true, false, false);
    case kind::remove_nocalls: return m.remove(a.state, false, false, false);
    case kind::remove_nocalls_cpuslocked: return m.remove(a.state, false, true, false);
    case kind::remove_multi: return m.remove(a.state, false, false, true);
    case kind::add_instance: return m.add_instance(a.state, a.inst, true);
    case kind::add_instance_nocalls: return m.add_instance(a.state, a.inst, false);
    case kind::remove_instance: return m.remove_instance(a.state, a.inst, true);
    case kind::remove_instance_nocalls: return m.remove_instance(a.state, a.inst, false);
    case kind::core_up: return m.core_up(a.core);
    case kind::core_down: return m.core_down(a.core);
    case kind::set_target: return m.set_target(a.core, a.state);
    case kind::set_fail: return m.set_fail(a.core, a.state);
    case kind::fail_callback: m.fail_plan[{a.core, m.rows[a.state].tag, a.up, a.inst}] = a.count; return 0;
    case kind::disable: return m.disable();
    case kind::enable: return m.enable();
    case kind::read_lock: ++m.read_depth; return 0;
    case kind::read_unlock: --m.read_depth; return 0;
  }
  return 0;
}

callback single(recorder& rec, int tag, bool up, bool present) {
  if (!present) return {};
  return [&rec, tag, up](unsigned core) { return rec.hit(core, tag, up, -1); };
}
multi_callback multi(sut& s, int tag, bool up, bool present) {
  if (!present) return {};
  return [&s, tag, up](unsigned core, instance_node* n) { return s.rec.hit(core, tag, up, s.index_of(n)); };
}

// run_real() carries out the same command on the runtime; `m` is the model before it.
int run_real(sut& s, const model& m, const args& a) {
  runtime& rt = *s.rt;
  const std::string name = "test:" + std::to_string(a.tag);
  recorder& r = s.rec;
  switch (a.k) {
    case kind::setup:
      return rt.setup_state(a.state, name, single(r, a.tag, true, a.up), single(r, a.tag, false, a.down));
    case kind::setup_nocalls:
      return rt.setup_state_nocalls(a.state, name, single(r, a.tag, true, a.up), single(r, a.tag, false, a.down));
    case kind::setup_cpuslocked:
      return rt.setup_state_cpuslocked(a.state, name, single(r, a.tag, true, a.up),
                                       single(r, a.tag, false, a.down));
    case kind::setup_nocalls_cpuslocked:
      return rt.setup_state_nocalls_cpuslocked(a.state, name, single(r, a.tag, true, a.up),
                                               single(r, a.tag, false, a.down));
    case kind::setup_multi:
      return rt.setup_state_multi(a.state, name, multi(s, a.tag, true, a.up), multi(s, a.tag, false, a.down));
    case kind::remove: return rt.remove_state(a.state);
    case kind::remove_nocalls: return rt.remove_state_nocalls(a.state);
    case kind::remove_nocalls_cpuslocked: return rt.remove_state_nocalls_cpuslocked(a.state);
    case kind::remove_multi: return rt.remove_multi_state(a.state);
    case kind::add_instance: return rt.add_instance(a.state, s.node(a.inst));
    case kind::add_instance_nocalls: return rt.add_instance_nocalls(a.state, s.node(a.inst));
    case kind::remove_instance: return rt.remove_instance(a.state, s.node(a.inst));
    case kind::remove_instance_nocalls: return rt.remove_instance_nocalls(a.state, s.node(a.inst));
    case kind::core_up: return rt.core_up(a.core);
    case kind::core_down: return rt.core_down(a.core);
    case kind::set_target: return rt.set_target(a.core, a.state);
    case kind::set_fail: return rt.set_fail(a.core, a.state);
    case kind::fail_callback: {
      std::lock_guard lk(r.mu);
      r.plan[{a.core, m.rows[a.state].tag, a.up, a.inst}] = a.count;
      return 0;
    }
    case kind::disable: return rt.cpu_hotplug_disable();
    case kind::enable: return rt.cpu_hotplug_enable();
    case kind::read_lock: rt.cpus_read_lock(); ++s.read_depth; return 0;
    case kind::read_unlock: rt.cpus_read_unlock(); --s.read_depth; return 0;
  }
  return 0;
}

// differences() lists every observable on which the runtime and the model disagree.
std::string differences(const model& m, sut& s, int want, int got) {
  std::ostringstream os;
  if (want != got) os << "  returned " << got << ", the model says " << want << "\n";
  runtime& rt = *s.rt;
  for (const auto& c : m.cores) {
    const bool online = c.state >= AP_SCHED_STARTING, active = c.state >= AP_SCHED_ACTIVE;
    if (rt.state(c.id) != c.state || rt.target(c.id) != c.target || rt.fail(c.id) != c.fail ||
        rt.core_online(c.id) != online || rt.core_active(c.id) != active)
      os << "  core " << c.id << ": state/target/fail/online/active " << rt.state(c.id) << "/"
         << rt.target(c.id) << "/" << rt.fail(c.id) << "/" << rt.core_online(c.id) << "/"
         << rt.core_active(c.id) << ", the model says " << c.state << "/" << c.target << "/"
         << c.fail << "/" << online << "/" << active << "\n";
  }
  std::vector<spec_model::call> log;
  {
    std::lock_guard lk(s.rec.mu);
    log.swap(s.rec.log);
  }
  if (log != m.log) {
    os << "  callbacks ran:\n";
    for (const auto& c : log) os << "    " << to_string(c) << "\n";
    os << "  the model says:\n";
    for (const auto& c : m.log) os << "    " << to_string(c) << "\n";
  }
  std::vector<std::pair<int, std::string>> listing;
  for (const state_row& r : rt.states()) listing.emplace_back(r.state, r.name);
  if (listing != m.listing()) {
    os << "  states listing differs:\n    runtime:";
    for (const auto& [n, name] : listing) os << " " << n << ":" << name;
    os << "\n    model:  ";
    for (const auto& [n, name] : m.listing()) os << " " << n << ":" << name;
    os << "\n";
  }
  for (int i = 0; i < instance_count; ++i)
    if (s.nodes[static_cast<std::size_t>(i)].attached_state != m.attached[static_cast<std::size_t>(i)])
      os << "  instance " << i << " attached to " << s.nodes[static_cast<std::size_t>(i)].attached_state
         << ", the model says " << m.attached[static_cast<std::size_t>(i)] << "\n";
  return os.str();
}

struct op final : rc::state::Command<model, sut> {
  args a;
  explicit op(args a_) : a(a_) {}
  void apply(model& m) const override {
    m.log.clear();
    (void)run_model(m, a);
  }
  void run(const model& m, sut& s) const override {
    model expect = m;
    expect.log.clear();
    const int want = run_model(expect, a);
    const int got = run_real(s, m, a);
    ++commands;
    const std::string diff = differences(expect, s, want, got);
    if (!diff.empty()) {
      ++mismatches;
      RC_FAIL(describe(a) + " differs from the model:\n" + diff);
    }
  }
  void show(std::ostream& os) const override { os << describe(a); }
};

// The states a command may name: both dynamic ranges, the static slots of every section,
// numbers inside the dynamic ranges, the runtime's own rows and numbers that are no state.
const std::vector<int> setup_states = {PREPARE_DYN, ONLINE_DYN, PREPARE_DYN, ONLINE_DYN, ONLINE_DYN,
                            ARENA_PREPARE, TIMERS_PREPARE, AP_USER_STARTING_1, AP_USER_STARTING_2,
                            AP_ARENA_ONLINE, AP_USER_ONLINE, PREPARE_DYN + 2, ONLINE_DYN + 3,
                            BRINGUP_CORE, AP_SCHED_ACTIVE, OFFLINE, ONLINE, NR_STATES + 2, -7};

// user_states() lists the states the test set up (those the model has), in order.
std::vector<int> user_states(const model& m, bool multi_only) {
  std::vector<int> out;
  for (int s = 0; s < NR_STATES; ++s)
    if (!m.rows[s].name.empty() && !m.rows[s].builtin && (!multi_only || m.rows[s].multi)) out.push_back(s);
  return out;
}

// pick_state(): mostly a state the test set up, sometimes any number from the list above.
int pick_state(const model& m, bool multi_only) {
  const std::vector<int> mine = user_states(m, multi_only);
  if (!mine.empty() && *rc::gen::inRange(0, 10) < 8) return *rc::gen::elementOf(mine);
  return *rc::gen::elementOf(setup_states);
}

unsigned pick_core(const model& m) {
  if (*rc::gen::inRange(0, 30) == 0) return 63;  // not a worker core
  return m.cores[static_cast<std::size_t>(*rc::gen::inRange<int>(0, static_cast<int>(m.cores.size())))].id;
}

std::atomic<int> next_tag{1};

// make_op() draws one command, weighted toward what moves the machine.
std::shared_ptr<const rc::state::Command<model, sut>> make_op(const model& m) {
  args a;
  const int roll = *rc::gen::inRange(0, 100);
  if (roll < 16) {
    a.k = *rc::gen::element(kind::setup, kind::setup, kind::setup_nocalls, kind::setup_cpuslocked,
                            kind::setup_nocalls_cpuslocked, kind::setup_multi, kind::setup_multi);
    a.state = *rc::gen::elementOf(setup_states);
    a.tag = next_tag++;
    a.up = *rc::gen::inRange(0, 5) != 0;
    a.down = *rc::gen::inRange(0, 5) != 0;
  } else if (roll < 26) {
    a.k = *rc::gen::element(kind::remove, kind::remove, kind::remove_nocalls,
                            kind::remove_nocalls_cpuslocked, kind::remove_multi, kind::remove_multi);
    a.state = pick_state(m, a.k == kind::remove_multi);
  } else if (roll < 40) {
    a.k = *rc::gen::element(kind::add_instance, kind::add_instance, kind::add_instance_nocalls,
                            kind::remove_instance, kind::remove_instance, kind::remove_instance_nocalls);
    a.state = pick_state(m, true);
    a.inst = *rc::gen::inRange(-1, instance_count);
  } else if (roll < 64) {
    a.k = *rc::gen::element(kind::core_up, kind::core_down);
    a.core = pick_core(m);
  } else if (roll < 70) {
    a.k = kind::set_target;
    a.core = pick_core(m);
    a.state = *rc::gen::inRange(0, 4) == 0 ? *rc::gen::elementOf(setup_states)
                                          : *rc::gen::inRange(static_cast<int>(OFFLINE), ONLINE + 1);
  } else if (roll < 78) {
    a.k = kind::set_fail;
    a.core = pick_core(m);
    const int r = *rc::gen::inRange(0, 10);
    a.state = r == 0 ? INVALID : r < 6 ? pick_state(m, false) : *rc::gen::inRange(-2, ONLINE + 2);
  } else if (roll < 90) {
    // A test callback fails: PREPARE startups and ONLINE startups/teardowns may ("The
    // startup callbacks are allowed to fail"); STARTING callbacks and PREPARE teardowns
    // may not, so the plan never asks them to.
    std::vector<int> mine = user_states(m, false);
    std::erase_if(mine, [](int s) { return section_of(s) == section::starting; });
    if (mine.empty()) return make_op(m);
    const int s = *rc::gen::elementOf(mine);
    a.k = kind::fail_callback;
    a.core = pick_core(m);
    a.state = s;  // the callbacks of whatever test state is set up there when it runs
    a.up = section_of(s) == section::prepare ? true : *rc::gen::arbitrary<bool>();
    a.inst = m.rows[s].multi ? *rc::gen::inRange(0, instance_count) : -1;
    a.count = *rc::gen::inRange(1, 4);
  } else if (roll < 95) {
    a.k = *rc::gen::element(kind::disable, kind::enable, kind::enable);
  } else {
    // cpus_read_lock() held across a few commands: hotplug operations and instances are
    // refused (-EDEADLK), the _cpuslocked variants work.
    a.k = m.read_depth > 0 && *rc::gen::inRange(0, 3) != 0 ? kind::read_unlock : kind::read_lock;
  }
  return std::make_shared<const op>(a);
}

}  // namespace

TEST_CASE("the runtime does what the spec's model does, command by command, for random "
          "sequences of setup/remove, instances, core up/down/target, fail injection, "
          "failing callbacks and disable/enable") {
  const unsigned long long seed = static_cast<unsigned long long>(
      hotcore_test::env_number("HOTCORE_SEED", static_cast<long>(std::random_device{}() & 0x7fffffff)));
  const long count = hotcore_test::env_number("HOTCORE_MODEL_SEQUENCES", 1000);
  const std::string params = "seed=" + std::to_string(seed) + " max_success=" + std::to_string(count) +
                             " max_size=100 verbose_progress=0 noshrink=0";
  // RapidCheck reads RC_PARAMS once, at its first use: this is it.
  ::setenv("RC_PARAMS", params.c_str(), 1);
  std::printf("model: seed %llu, %ld sequences (reproduce: HOTCORE_SEED=%llu)\n", seed, count, seed);
  std::fflush(stdout);

  const bool ok = rc::check("runtime == model", [] {
    sut s;
    const model initial(s.rt->cores(), true, instance_count);
    rc::state::check(initial, s, [](const model& m) { return rc::gen::exec([m] { return make_op(m); }); });
  });
  std::printf("model: %ld sequences, %.1fk commands, %ld mismatches (seed %llu)\n", sequences.load(),
              commands.load() / 1000.0, mismatches.load(), seed);
  if (!ok) std::printf("model: FAILED; reproduce with HOTCORE_SEED=%llu\n", seed);
  CHECK_MESSAGE(ok, "the runtime differs from the model; HOTCORE_SEED=" << seed);
}
