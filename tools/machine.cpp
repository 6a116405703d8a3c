// tools/machine.cpp — `hotcore topology`, the kernel-state column of `hotcore demo`, and
// the signal guard of the physical commands.
#include "machine.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <system_error>

#include "hotcore/topology.h"

namespace hotcore::tools {
namespace {

// The paths the signal handler writes to: built before any signal can come, so the handler
// only calls open/write/close (async-signal-safe).
constexpr int max_guarded = 64;
char guarded_paths[max_guarded][64];
int guarded_count = 0;

extern "C" void restore_and_die(int sig) {
  for (int i = 0; i < guarded_count; ++i) {
    const int fd = ::open(guarded_paths[i], O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, "1", 1);
      ::close(fd);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

int run_topology(bool per_core) {
  const worker_policy policy = per_core ? worker_policy::per_core : worker_policy::per_pu;
  std::error_code ec;
  const topology topo = load_topology(ec, policy);
  if (ec) {
    std::fprintf(stderr, "hotcore topology: load_topology: %s\n", ec.message().c_str());
    return 1;
  }
  std::fputs(topology_text(topo).c_str(), stdout);
  return 0;
}

std::string kernel_state_text(unsigned cpu) {
  const std::string path = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/hotplug/state";
  std::string out = "cpu" + std::to_string(cpu) + "/hotplug/state ";
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    int state = -1;
    const bool ok = std::fscanf(f, "%d", &state) == 1;
    std::fclose(f);
    if (ok) return out + std::to_string(state);
  }
  return out + "?";
}

void restore_online_on_signal(const std::vector<unsigned>& cpus) {
  for (unsigned cpu : cpus) {
    if (guarded_count == max_guarded) break;
    std::snprintf(guarded_paths[guarded_count], sizeof guarded_paths[0],
                  "/sys/devices/system/cpu/cpu%u/online", cpu);
    ++guarded_count;
  }
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, restore_and_die);
}

}  // namespace hotcore::tools
