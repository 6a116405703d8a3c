// SPDX-License-Identifier: MIT
// tools/guard.h — `hotcore guard`: the guard service. Physical-mode runtimes register
// their CPUs with it over /run/hotcore/guard.sock; it puts them back as found when a
// runtime's process ends, however it ends (runtime/guard/broker.h).
#pragma once

namespace hotcore::tools {

// guard_main() serves until SIGTERM, SIGINT or SIGHUP: on the socket systemd passes
// (LISTEN_FDS, systemd/hotcore-guard.socket) or on one it binds itself (mode 0660, group
// `hotcore` where that group exists, else 0600; removed at exit). Exit status 0, or 1
// when it cannot serve (not root, socket in use).
int guard_main();

}  // namespace hotcore::tools
