// SPDX-License-Identifier: MIT
// runtime/platform/guardian.cpp — forking the guardian and its loop: poll the runtime's
// pidfd and a quit socket; on the process's death, repair its records and exit. The child
// of a threaded process may only make async-signal-safe calls: plain syscalls here.
#include "platform/guardian.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "platform/records.h"

namespace hotcore::detail {
namespace {

// close_other_fds() closes every fd of the child but those in keep (sorted): the
// guardian must not hold the process's sockets or files open after it died.
void close_other_fds(const std::vector<int>& keep) noexcept {
  unsigned next = 0;
  for (const int fd : keep) {
    if (static_cast<unsigned>(fd) > next)
      (void)::syscall(SYS_close_range, next, static_cast<unsigned>(fd) - 1, 0u);
    next = static_cast<unsigned>(fd) + 1;
  }
  (void)::syscall(SYS_close_range, next, ~0u, 0u);
}

// repair_after() undoes what the dead process `pid` left of this runtime: the records of
// its CPUs and its tracefs instance.
void repair_after(pid_t pid, const std::vector<unsigned>& cpus) noexcept {
  char name[32], line1[256], line2[256];
  proc_id owner;
  const auto own = [&] { return owner.pid == static_cast<unsigned long>(pid); };
  for (const unsigned cpu : cpus) {
    cpu_record_name(cpu, name);
    if (read_record(name, owner, line1, line2, sizeof line1) == 0 && own())
      (void)repair_record(name);
  }
  // "tracefs-<pid>"
  char digits[16];
  int n = 0;
  for (unsigned long v = static_cast<unsigned long>(pid); v != 0; v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  int p = 0;
  for (const char c : {'t', 'r', 'a', 'c', 'e', 'f', 's', '-'}) name[p++] = c;
  while (n > 0) name[p++] = digits[--n];
  name[p] = '\0';
  if (read_record(name, owner, line1, line2, sizeof line1) == 0 && own())
    (void)repair_record(name);
}

[[noreturn]] void guardian_main(pid_t watched, int pidfd, int quit_fd,
                                const std::vector<unsigned>& cpus,
                                const std::vector<int>& keep) noexcept {
  // Its own session: a signal to the terminal's process group (Ctrl-C, Ctrl-\) or to the
  // runtime's group does not reach it.
  (void)::setsid();
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  struct sigaction ign{};
  ign.sa_handler = SIG_IGN;
  for (const int sig : {SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU})
    (void)::sigaction(sig, &ign, nullptr);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  (void)::prctl(PR_SET_NAME, "hc-guardian", 0, 0, 0);
  // The OOM killer takes the runtime's process, never the one that repairs after it.
  if (const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!::write(fd, "-1000", 5);
    ::close(fd);
  }
  close_other_fds(keep);
  pollfd fds[2] = {{pidfd, POLLIN, 0}, {quit_fd, POLLIN, 0}};
  nfds_t n = 2;
  for (;;) {
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;  // cannot watch: repair now rather than never (should not happen)
    }
    if (n == 2 && fds[1].revents != 0) {
      char c = 0;
      const ssize_t got = ::read(quit_fd, &c, 1);
      if (got == 1 && c == 'q') ::_exit(0);  // the runtime ended cleanly
      if (got == 0 || (got < 0 && errno != EINTR)) n = 1;  // closed (exec): watch the pid only
    }
    if (fds[0].revents != 0) break;  // the process is gone
  }
  repair_after(watched, cpus);
  ::_exit(0);
}

}  // namespace

int guardian::start(const std::vector<unsigned>& cpus, const std::vector<int>& lock_fds) {
  if (_pid > 0) return 0;
  const pid_t self = ::getpid();
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0u));
  if (pidfd < 0) return -errno;
  // A socket pair, not a pipe: stop() sends with MSG_NOSIGNAL, so a guardian killed
  // before the runtime ends costs no SIGPIPE.
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    const int err = errno;
    ::close(pidfd);
    return -err;
  }
  std::vector<int> keep = lock_fds;
  keep.push_back(pidfd);
  keep.push_back(pair[0]);
  std::sort(keep.begin(), keep.end());
  const pid_t child = ::fork();
  if (child == 0) guardian_main(self, pidfd, pair[0], cpus, keep);
  const int err = errno;
  ::close(pidfd);
  ::close(pair[0]);
  if (child < 0) {
    ::close(pair[1]);
    return -err;
  }
  _pid = child;
  _quit_fd = pair[1];
  return 0;
}

void guardian::stop() noexcept {
  if (_pid <= 0) return;
  (void)!::send(_quit_fd, "q", 1, MSG_NOSIGNAL);
  ::close(_quit_fd);
  _quit_fd = -1;
  while (::waitpid(_pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  _pid = -1;
}

}  // namespace hotcore::detail
