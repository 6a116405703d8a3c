// SPDX-License-Identifier: MIT
// runtime/guard/broker.h — the guard service's loop (`hotcore guard`): it claims,
// offlines and onlines CPUs for its clients (physical-mode runtimes) through the same
// sysfs writer the runtime uses, records each change under /run/hotcore/ for the client,
// watches each client by pidfd and by its socket, and puts back every CPU a client
// changed, as the client found it, once the client is gone, whatever ended it.
#pragma once

#include <atomic>
#include <cstdio>

namespace hotcore::detail {

// run_broker() serves clients on listen_fd (a listening SOCK_SEQPACKET unix socket) until
// stop is set (a signal that interrupts its poll, say); it says what it does on `log`.
// Clients still connected then keep their CPUs and records (`hotcore restore` repairs
// after them once they are gone). 0 or a negative errno.
int run_broker(int listen_fd, const std::atomic<bool>& stop, std::FILE* log);

}  // namespace hotcore::detail
