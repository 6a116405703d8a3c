// SPDX-License-Identifier: MIT
// tests/headers_test.cpp — the public headers: each compiles alone (the generated
// header_alone_*.cpp sources built with this program), and the state enum keeps the
// spec's layout: three sections, 20 dynamic PREPARE and 40 dynamic ONLINE states.
#include <doctest/doctest.h>

#include "hotcore/hotcore.h"

using namespace hotcore;

static_assert(OFFLINE == 0 && INVALID == -1);
static_assert(PREPARE_DYN_END - PREPARE_DYN == 20);
static_assert(ONLINE_DYN_END - ONLINE_DYN == 40);

TEST_CASE("The state space is linear from CPUHP_OFFLINE to CPUHP_ONLINE, in three sections: "
          "PREPARE up to BRINGUP_CPU, STARTING up to AP_ONLINE, ONLINE up to CPUHP_ONLINE") {
  CHECK(OFFLINE < THREADS_PREPARE);
  CHECK(THREADS_PREPARE < ARENA_PREPARE);
  CHECK(TIMERS_PREPARE < PREPARE_DYN);
  CHECK(CPU_PHYSICAL < BRINGUP_CORE);
  CHECK(BRINGUP_CORE < AP_SCHED_STARTING);
  CHECK(AP_ONLINE < AP_WORKERS_ONLINE);
  CHECK(ONLINE_DYN_END == AP_SCHED_ACTIVE);
  CHECK(AP_SCHED_ACTIVE + 1 == ONLINE);
  CHECK(ONLINE + 1 == NR_STATES);
  for (int s = OFFLINE; s <= BRINGUP_CORE; ++s) CHECK(section_of(s) == section::prepare);
  for (int s = BRINGUP_CORE + 1; s <= AP_ONLINE; ++s) CHECK(section_of(s) == section::starting);
  for (int s = AP_ONLINE + 1; s <= ONLINE; ++s) CHECK(section_of(s) == section::online);
}

TEST_CASE("Only the PREPARE and ONLINE sections provide a dynamic allocation range") {
  int prepare = 0, starting = 0, online = 0;
  for (int s = OFFLINE; s < NR_STATES; ++s) {
    if (!is_dynamic(s)) continue;
    switch (section_of(s)) {
      case section::prepare: ++prepare; break;
      case section::starting: ++starting; break;
      case section::online: ++online; break;
    }
  }
  CHECK(prepare == 20);
  CHECK(starting == 0);
  CHECK(online == 40);
  CHECK(is_dynamic(PREPARE_DYN));
  CHECK_FALSE(is_dynamic(PREPARE_DYN_END));
  CHECK(is_dynamic(ONLINE_DYN));
  CHECK_FALSE(is_dynamic(ONLINE_DYN_END));
  CHECK_FALSE(is_dynamic(INVALID));
  CHECK_FALSE(is_dynamic(NR_STATES));
}

TEST_CASE("instance_node starts detached, trace_event starts empty") {
  instance_node n;
  CHECK(n.attached_state == -1);
  trace_event ev;
  CHECK(ev.state == -1);
  CHECK(ev.instance == nullptr);
  CHECK_FALSE(ev.injected);
  CHECK_FALSE(ev.rollback);
  runtime_options o;
  CHECK(o.cores.empty());
  CHECK(o.online_at_start);
}
