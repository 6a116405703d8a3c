// SPDX-License-Identifier: MIT
// tests/rendezvous.h — a meeting point for callbacks: it tells callbacks that run at the
// same time (parallel_calls) from callbacks that run one after another.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "hotcore/runtime.h"

namespace hotcore_test {

using namespace std::chrono_literals;

// rendezvous is a meeting point for the callbacks of one operation: each callback that
// arrives counts itself, then waits until `expected` callbacks arrived, for at most
// `patience`. met counts the callbacks that saw all of them arrive. Callbacks that run
// one core after another never all meet: the first one waits alone until its patience
// runs out (so a missing overlap fails the test instead of hanging it).
struct rendezvous {
  rendezvous(int expected_, std::chrono::milliseconds patience_)
      : expected(expected_), patience(patience_) {}
  const int expected;
  const std::chrono::milliseconds patience;
  // seq_cst: a test's counters, no ordering subtleties wanted.
  std::atomic<int> arrived{0};
  std::atomic<int> met{0};

  void reset() {
    arrived.store(0);
    met.store(0);
  }
  int arrive() {
    arrived.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (arrived.load() < expected) {
      if (std::chrono::steady_clock::now() > deadline) return 0;
      std::this_thread::sleep_for(20us);
    }
    met.fetch_add(1);
    return 0;
  }
  hotcore::callback single() {
    return [this](unsigned) { return arrive(); };
  }
  hotcore::multi_callback multi() {
    return [this](unsigned, hotcore::instance_node*) { return arrive(); };
  }
};

}  // namespace hotcore_test
