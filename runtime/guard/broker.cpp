// SPDX-License-Identifier: MIT
// runtime/guard/broker.cpp — the guard service's clients, their requests and the repair
// after each one ends (runtime/guard/broker.h).
#include "guard/broker.h"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "guard/protocol.h"
#include "platform/records.h"
#include "platform/sysfs_cpu.h"

namespace hotcore::detail {
namespace {

// A CPU a client claimed: its lock (held for the client), the state it was found in, and
// whether the client changed it.
struct claimed_cpu {
  unsigned cpu = 0;
  int lock_fd = -1;
  bool found_online = true;
  bool touched = false;
};

struct client {
  int fd = -1;
  int pidfd = -1;
  proc_id id;
  std::vector<claimed_cpu> cpus;
};

// peer_pidfd() is a pidfd of the socket's peer: SO_PEERPIDFD (Linux 6.5) names the very
// process that connected; pidfd_open() of SO_PEERCRED's pid is the fallback.
int peer_pidfd(int fd, pid_t pid) {
#ifndef SO_PEERPIDFD
  constexpr int SO_PEERPIDFD = 77;
#endif
  int pidfd = -1;
  socklen_t len = sizeof pidfd;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0) return pidfd;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u));
}

// gone() tells, without waiting, whether a client's process ended or its socket closed.
bool gone(const client& c) {
  pollfd fds[2] = {{c.pidfd, POLLIN, 0}, {c.fd, POLLIN | POLLRDHUP, 0}};
  if (::poll(fds, 2, 0) <= 0) return false;
  return fds[0].revents != 0 || (fds[1].revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

class broker {
 public:
  explicit broker(std::FILE* log) : _log(log) {}
  ~broker() {
    for (auto& c : _clients) close_client(*c, false);
  }
  int run(int listen_fd, const std::atomic<bool>& stop);

 private:
  void accept_client(int listen_fd);
  void serve(client& c);
  int handle(client& c, const char* verb, unsigned cpu);
  int claim(client& c, unsigned cpu);
  int change(client& c, claimed_cpu& cc, bool online);
  void finish(client& c);
  void close_client(client& c, bool repair);

  std::FILE* _log;
  std::vector<std::unique_ptr<client>> _clients;
};

int broker::run(int listen_fd, const std::atomic<bool>& stop) {
  // relaxed: a flag polled by this one loop, set by a signal handler.
  while (!stop.load(std::memory_order_relaxed)) {
    std::vector<pollfd> fds{{listen_fd, POLLIN, 0}};
    for (const auto& c : _clients) {
      fds.push_back({c->fd, POLLIN, 0});
      fds.push_back({c->pidfd, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    // Ended clients first: a successor's claim then finds their CPUs back.
    for (std::size_t i = 0; i < _clients.size(); ++i) {
      const pollfd& sock = fds[1 + 2 * i];
      const pollfd& pid = fds[2 + 2 * i];
      if (pid.revents != 0 || (sock.revents & (POLLHUP | POLLERR)) != 0) finish(*_clients[i]);
      else if (sock.revents != 0) serve(*_clients[i]);
    }
    std::erase_if(_clients, [](const auto& c) { return c->fd < 0; });
    if (fds[0].revents != 0) accept_client(listen_fd);
  }
  return 0;
}

void broker::accept_client(int listen_fd) {
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  ucred cred{};
  socklen_t len = sizeof cred;
  auto c = std::make_unique<client>();
  c->fd = fd;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid <= 0 ||
      (c->pidfd = peer_pidfd(fd, cred.pid)) < 0 || read_proc_id(cred.pid, c->id) < 0) {
    std::fprintf(_log, "hotcore guard: refused a client: cannot identify it: %s\n", std::strerror(errno));
    close_client(*c, false);
    return;
  }
  _clients.push_back(std::move(c));
}

void broker::serve(client& c) {
  char packet[guard_packet_max];
  const ssize_t got = ::recv(c.fd, packet, sizeof packet - 1, MSG_DONTWAIT);
  if (got <= 0) {
    if (got == 0 || (errno != EAGAIN && errno != EINTR)) finish(c);
    return;
  }
  packet[got] = '\0';
  char verb[16];
  unsigned cpu = 0;
  char extra = 0;
  const int ret = std::sscanf(packet, "%15s %u%c", verb, &cpu, &extra) == 2 ? handle(c, verb, cpu) : -EINVAL;
  const int n = std::snprintf(packet, sizeof packet, "%d", ret);
  (void)::send(c.fd, packet, static_cast<std::size_t>(n), MSG_NOSIGNAL);
}

int broker::handle(client& c, const char* verb, unsigned cpu) {
  if (std::strcmp(verb, guard_claim) == 0) return claim(c, cpu);
  const bool online = std::strcmp(verb, guard_online) == 0;
  if (!online && std::strcmp(verb, guard_offline) != 0) return -EINVAL;
  for (claimed_cpu& cc : c.cpus)
    if (cc.cpu == cpu) return change(c, cc, online);
  return -EPERM;  // not claimed by this client
}

int broker::claim(client& c, unsigned cpu) {
  if (cpu >= CPU_SETSIZE || !has_online_file(cpu)) return -ENODEV;
  for (const auto& other : _clients)
    for (const claimed_cpu& cc : other->cpus)
      if (cc.cpu == cpu) {
        if (other.get() == &c) return 0;
        if (!gone(*other)) return -EBUSY;
        finish(*other);  // ended, not yet seen by the loop: its repair comes first
        break;
      }
  const int lock = lock_cpu(cpu);  // against runtimes with their own guardian
  if (lock < 0) return lock;
  claimed_cpu cc{.cpu = cpu, .lock_fd = lock, .found_online = read_cpu_online(cpu) != 0};
  char name[16];
  cpu_record_name(cpu, name);
  // Found offline: the record says so from now on, for a repair after this service.
  if (!cc.found_online)
    if (const int ret = write_record(name, c.id, found_offline, nullptr); ret < 0) {
      ::close(lock);
      return ret;
    }
  c.cpus.push_back(cc);
  return 0;
}

// change() writes cpuN/online for the client; the record goes first when it takes an
// online CPU offline (as the runtime's own path does, physical_cpus.cpp).
int broker::change(client& c, claimed_cpu& cc, bool online) {
  char name[16];
  cpu_record_name(cc.cpu, name);
  const bool record = cc.found_online && !online && read_cpu_online(cc.cpu) == 1;
  if (record)
    if (const int ret = write_record(name, c.id, nullptr, nullptr); ret < 0) return ret;
  cc.touched = true;
  const int ret = write_cpu_online(cc.cpu, online);
  if (cc.found_online && ((ret < 0 && record) || (ret == 0 && online))) remove_record(name);
  return ret;
}

// finish() puts back every CPU the ended client changed, as it found it, and drops it.
void broker::finish(client& c) {
  if (c.fd < 0) return;
  for (const claimed_cpu& cc : c.cpus) {
    if (!cc.touched) continue;
    const int ret = read_cpu_online(cc.cpu) == (cc.found_online ? 1 : 0)
                        ? 0
                        : write_cpu_online(cc.cpu, cc.found_online);
    std::fprintf(_log, "hotcore guard: pid %lu ended: cpu%u %s\n", c.id.pid, cc.cpu,
                 ret < 0 ? std::strerror(-ret) : cc.found_online ? "online" : "offline, as found");
  }
  close_client(c, true);
}

void broker::close_client(client& c, bool repair) {
  for (const claimed_cpu& cc : c.cpus) {
    char name[16];
    cpu_record_name(cc.cpu, name);
    if (repair && read_cpu_online(cc.cpu) == (cc.found_online ? 1 : 0)) remove_record(name);
    ::close(cc.lock_fd);
  }
  c.cpus.clear();
  if (c.pidfd >= 0) ::close(c.pidfd);
  if (c.fd >= 0) ::close(c.fd);
  c.fd = c.pidfd = -1;
}

}  // namespace

int run_broker(int listen_fd, const std::atomic<bool>& stop, std::FILE* log) {
  broker b(log);
  return b.run(listen_fd, stop);
}

}  // namespace hotcore::detail
