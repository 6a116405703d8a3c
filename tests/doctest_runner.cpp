// SPDX-License-Identifier: MIT
// tests/doctest_runner.cpp — the one doctest runner every suite uses: it counts skipped test
// cases (a program whose selected cases all skipped exits 77, which meson counts as a SKIP)
// and fails any test case that leaves a thread or an fd behind.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "runner.h"
#include "sanitizers.h"

namespace hotcore_test {
namespace {

// What the current test case skipped for (empty: it did not), and the counts for main.
std::string g_skip_reason;
unsigned g_cases_run = 0;
unsigned g_cases_skipped = 0;

int entries(const char* dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++n;
  }
  return n;
}

struct resources {
  int threads;
  int fds;
};

resources count_resources() { return {entries("/proc/self/task"), entries("/proc/self/fd")}; }

// settle() waits, bounded, for the counts to drop to `before`: a joined thread leaves
// /proc/self/task when the kernel reaps it, and io_uring's io-wq workers exit after their
// ring closes, both a little after the test's last line. Returns the last counts seen.
resources settle(const resources& before) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + seconds(10);
  auto pause = microseconds(100);
  resources now = count_resources();
  while ((now.threads > before.threads || now.fds > before.fds) &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(pause);
    pause = std::min<microseconds>(pause * 2, milliseconds(50));
    now = count_resources();
  }
  return now;
}

// The fixture every test case runs in, as a doctest listener. Listeners come before the
// console reporter, so a case it fails is printed and counted as failed.
class case_fixture : public doctest::IReporter {
 public:
  explicit case_fixture(const doctest::ContextOptions&) {}

  void test_case_start(const doctest::TestCaseData&) override {
    g_skip_reason.clear();
    _before = count_resources();
  }

  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    ++g_cases_run;
    const resources after = settle(_before);
    std::string leaked;
    if (after.threads > _before.threads)
      leaked += std::to_string(after.threads - _before.threads) + " thread(s)";
    if (after.fds > _before.fds)
      leaked += (leaked.empty() ? "" : " and ") + std::to_string(after.fds - _before.fds) +
                " fd(s)";
    if (!leaked.empty()) {
      std::fprintf(stderr, "LEAK: test case \"%s\" left %s behind (/proc/self/task: %d -> %d, "
                   "/proc/self/fd: %d -> %d)\n", doctest::detail::g_cs->currentTest->m_name,
                   leaked.c_str(), _before.threads, after.threads, _before.fds, after.fds);
      fail_current_case();
      return;
    }
    if (!g_skip_reason.empty() && stats.testCaseSuccess) ++g_cases_skipped;
  }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

 private:
  // fail_current_case() turns the case that just ended into a failed one, in doctest's
  // own counts, before the console reporter sees it.
  static void fail_current_case() {
    auto* cs = doctest::detail::g_cs;
    cs->failure_flags |= doctest::TestCaseFailureReason::AssertFailure;
    ++cs->numAssertsFailed;
    if (cs->testCaseSuccess) {
      cs->testCaseSuccess = false;
      ++cs->numTestCasesFailed;
    }
  }

  resources _before{};
};

}  // namespace

void skip_case(const std::string& why) {
  g_skip_reason = why.empty() ? "skipped" : why;
  std::printf("skipped: \"%s\": %s\n", doctest::detail::g_cs->currentTest->m_name,
              g_skip_reason.c_str());
  std::fflush(stdout);
}

int run_suite(int argc, char** argv) {
  // ThreadSanitizer starts a background thread of its own at the process's first
  // pthread_create() and keeps it: start it now, so the first case that makes a thread
  // is not blamed for it.
  if constexpr (under_tsan) std::thread([] {}).join();
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit()) return rc;
  if (g_cases_skipped > 0)
    std::printf("skipped test cases: %u of %u\n", g_cases_skipped, g_cases_run);
  if (rc == 0 && g_cases_run > 0 && g_cases_skipped == g_cases_run) return skip_exit;
  return rc;
}

}  // namespace hotcore_test

DOCTEST_REGISTER_LISTENER("hotcore_case_fixture", 1, hotcore_test::case_fixture);
