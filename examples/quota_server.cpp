// SPDX-License-Identifier: MIT
// examples/quota_server.cpp — a server turns on the quota follower: its worker cores follow
// the container's CPU quota (`docker update --cpus`, Kubernetes in-place resize) live,
// and it can switch the follower off and on while it runs.
#include <hotcore/hotcore.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

int main() {
  std::error_code ec;
  auto rt = hotcore::runtime::create({}, ec);
  if (!rt) {
    std::fprintf(stderr, "create: %s\n", ec.message().c_str());
    return 1;
  }
  hotcore::quota_follower_options opts;
  opts.policy.rounding = hotcore::quota_rounding::ceil;  // or floor, headroom
  opts.leave = hotcore::leave_policy::keep_together;     // keep NUMA nodes and SMT siblings whole
  opts.on_change = [](const hotcore::quota_change& c) {
    std::printf("quota %s: %u -> %u cores\n", hotcore::limit_text(c.new_limit).c_str(),
                c.old_cores, c.new_cores);
  };
  opts.on_error = [](const hotcore::cgroup_error& e) {  // the last good target is kept
    std::fprintf(stderr, "quota: %s\n", e.message.c_str());
  };
  auto follower = hotcore::quota_follower::create(*rt, opts, ec);
  if (!follower) {
    std::fprintf(stderr, "quota_follower: %s\n", ec.message().c_str());
    return 1;
  }
  if (int r = follower->enable(); r < 0) {  // reads the quota now, then follows it
    std::fprintf(stderr, "enable: %s\n", std::strerror(-r));
    return 1;
  }
  const hotcore::quota_status st = follower->status();
  std::printf("cgroup %s, quota %s, %zu of %zu cores up\n", st.cpu_group.dir().c_str(),
              hotcore::limit_text(st.limit).c_str(), rt->online_cores().size(), rt->cores().size());

  // ... serve requests with rt->submit(...) ...
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  follower->disable();              // maintenance window: no thread, nothing polls
  if (rt->set_core_limit(0) < 0) {  // and every core may run again
    std::fprintf(stderr, "set_core_limit(0) failed\n");
  }
  std::printf("follower off, %zu cores up; its CPU so far: %lld us\n", rt->online_cores().size(),
              static_cast<long long>(follower->status().cpu_ns / 1000));
  return follower->enable() == 0 ? 0 : 1;  // and on again; destroyed before the runtime
}
