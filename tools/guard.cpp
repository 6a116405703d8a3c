// SPDX-License-Identifier: MIT
// tools/guard.cpp — `hotcore guard`: its socket (systemd's or its own), its signals, and
// the broker loop (runtime/guard/broker.h).
#include "guard.h"

#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "guard/broker.h"
#include "guard/protocol.h"
#include "platform/records.h"

namespace hotcore::tools {
namespace {

std::atomic<bool> stop_requested{false};  // relaxed: a flag polled by the broker's loop
void on_signal(int) { stop_requested.store(true, std::memory_order_relaxed); }

// systemd_socket() is the socket systemd passed (socket activation), or -1.
int systemd_socket() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr || std::strtol(pid, nullptr, 10) != ::getpid() ||
      std::strcmp(fds, "1") != 0)
    return -1;
  return 3;  // SD_LISTEN_FDS_START
}

// own_socket() binds and listens on guard_socket_path: 0660 root:hotcore where the group
// exists (its members use physical mode without root), else 0600. -errno on failure.
int own_socket() {
  const char* path = detail::guard_socket_path;
  if (const int ret = detail::ensure_record_dir(); ret < 0) return ret;
  struct stat st{};
  // A socket left by a service that died: replace it (anything else there is not ours).
  if (::lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return -EEXIST;
    (void)::unlink(path);
  }
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  const group* g = ::getgrnam("hotcore");
  const mode_t old = ::umask(0177);  // 0600 from bind() on
  int ret = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (ret == 0 && g != nullptr) ret = ::chown(path, 0, g->gr_gid) == 0 ? ::chmod(path, 0660) : -1;
  if (ret == 0) ret = ::listen(fd, 64);
  if (ret != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

}  // namespace

int guard_main() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "hotcore guard: needs root (it writes /sys/devices/system/cpu/cpuN/online)\n");
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: the signal ends the broker's poll
  for (const int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const int passed = systemd_socket();
  const int fd = passed >= 0 ? passed : own_socket();
  if (fd < 0) {
    std::fprintf(stderr, "hotcore guard: cannot listen on %s: %s\n", detail::guard_socket_path,
                 std::strerror(-fd));
    return 1;
  }
  std::fprintf(stderr, "hotcore guard: serving on %s\n", detail::guard_socket_path);
  const int ret = detail::run_broker(fd, stop_requested, stderr);
  if (passed < 0) (void)::unlink(detail::guard_socket_path);
  ::close(fd);
  if (ret < 0) std::fprintf(stderr, "hotcore guard: %s\n", std::strerror(-ret));
  return ret < 0 ? 1 : 0;
}

}  // namespace hotcore::tools
