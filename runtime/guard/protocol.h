// SPDX-License-Identifier: MIT
// runtime/guard/protocol.h — what a physical-mode runtime and the guard service
// (`hotcore guard`) say to each other over a SOCK_SEQPACKET unix socket: one request per
// packet, "claim N", "offline N" or "online N", each answered by one packet holding 0 or
// a negative errno in decimal. The service knows its client by SO_PEERCRED and a pidfd.
#pragma once

namespace hotcore::detail {

// The service's socket. Who may connect is who may use physical mode through it: the
// socket's mode and group (root and the group `hotcore`, systemd/hotcore-guard.socket).
inline constexpr const char* guard_socket_path = "/run/hotcore/guard.sock";

// Requests: claim a CPU for the client (its lock, and the state it is in now: the state
// the service puts it back in when the client ends), then take it offline or online.
inline constexpr const char* guard_claim = "claim";
inline constexpr const char* guard_offline = "offline";
inline constexpr const char* guard_online = "online";

// Room for a request or a reply.
inline constexpr unsigned guard_packet_max = 64;

}  // namespace hotcore::detail
