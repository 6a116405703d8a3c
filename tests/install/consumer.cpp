// SPDX-License-Identifier: MIT
// tests/install/consumer.cpp — a program outside the hotcore tree, built by
// tests/install_test.sh against an installed hotcore (pkg-config, CMake, meson subproject):
// it runs one task on the runtime and prints the versions of headers and library.
#include <hotcore/hotcore.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <system_error>

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) {
    std::fprintf(stderr, "consumer: runtime::create: %s\n", ec.message().c_str());
    return 1;
  }
  std::atomic<int> ran{0};
  hotcore::task_group g(*rt);
  g.run([&] { ran.fetch_add(1, std::memory_order_relaxed); });  // relaxed: wait() orders it
  g.wait();
  std::printf("hotcore headers %s library %s ran %d task\n", HOTCORE_VERSION_STRING,
              hotcore::version(), ran.load());
  return ran.load() == 1 && std::strcmp(HOTCORE_VERSION_STRING, hotcore::version()) == 0 ? 0 : 1;
}
