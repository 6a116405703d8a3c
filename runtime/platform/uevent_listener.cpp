// SPDX-License-Identifier: MIT
// runtime/platform/uevent_listener.cpp — a NETLINK_KOBJECT_UEVENT socket and the parser
// for the kernel's CPU uevents.
#include "platform/uevent_listener.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

namespace hotcore::detail {
namespace {

constexpr std::string_view cpu_devpath = "/devices/system/cpu/cpu";
constexpr unsigned kernel_group = 1;  // the kernel's uevents (udevd re-sends on group 2)

cpu_uevent::action action_of(std::string_view a) {
  if (a == "add") return cpu_uevent::action::add;
  if (a == "remove") return cpu_uevent::action::remove;
  if (a == "online") return cpu_uevent::action::online;
  if (a == "offline") return cpu_uevent::action::offline;
  return cpu_uevent::action::other;
}

}  // namespace

bool parse_cpu_uevent(const char* buf, std::size_t len, cpu_uevent& ev) {
  std::string_view action, devpath, subsystem;
  std::size_t pos = 0;
  bool header = true;
  while (pos < len) {
    const char* start = buf + pos;
    std::size_t n = 0;
    while (pos + n < len && start[n] != '\0') ++n;
    const std::string_view field(start, n);
    pos += n + 1;
    if (header) {  // "ACTION@DEVPATH"
      header = false;
      if (field.find('@') == std::string_view::npos) return false;
      continue;
    }
    if (field.starts_with("ACTION=")) action = field.substr(7);
    else if (field.starts_with("DEVPATH=")) devpath = field.substr(8);
    else if (field.starts_with("SUBSYSTEM=")) subsystem = field.substr(10);
  }
  if (subsystem != "cpu" || !devpath.starts_with(cpu_devpath)) return false;
  const std::string_view num = devpath.substr(cpu_devpath.size());
  unsigned cpu = 0;
  const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), cpu);
  if (ec != std::errc{} || end != num.data() + num.size() || num.empty()) return false;
  ev.act = action_of(action);
  ev.cpu = cpu;
  return true;
}

int uevent_listener::open() {
  close();
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return -errno;
  // A bigger buffer rides out a burst (a machine onlining many CPUs at once); if it still
  // overflows, receive() says so and the machine is looked at again.
  const int size = 1 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = kernel_group;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  _fd = fd;
  return 0;
}

void uevent_listener::close() noexcept {
  if (_fd >= 0) ::close(_fd);
  _fd = -1;
}

int uevent_listener::receive(const std::function<void(const cpu_uevent&)>& fn) {
  char buf[8192];
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(_fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    if (from.nl_pid != 0) continue;  // not from the kernel
    cpu_uevent ev;
    if (parse_cpu_uevent(buf, static_cast<std::size_t>(n), ev)) fn(ev);
  }
}

}  // namespace hotcore::detail
