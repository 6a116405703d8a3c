// SPDX-License-Identifier: MIT
// tests/cgroup_test.cpp — Description: cgroup discovery and contents for the quota
// follower: /proc/self/cgroup and mountinfo (v1 and v2, mounted anywhere, nested, a
// namespaced mount root), cpu.max / cfs_quota_us / cpu lists with every bad input, the
// tightest quota over the ancestors, the core target with its rounding policies and
// hysteresis, and the leave orders.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>

#include "cgroup_tree.h"
#include "hotcore/cgroup.h"
#include "hotcore/quota.h"
#include "runner.h"

using namespace hotcore;

namespace {

// This machine's files (hybrid mode: v1 controllers, and the unified hierarchy).
constexpr const char* hybrid_cgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/a8280ba2\n3:cpuset:/\n"
    "2:cpuacct:/\n1:cpu:/\n0::/\n";
constexpr const char* hybrid_mountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

cpu_limit lim(std::int64_t q, std::int64_t p = 100000) { return cpu_limit{q, p}; }

// cpu_cgroup_of() is where find_cgroup() finds the cpu controller's group in these
// /proc/self/cgroup and mountinfo contents; REQUIREs that it finds it.
cgroup_location cpu_cgroup_of(const char* cgroup, const char* mountinfo) {
  cgroup_error err;
  const cgroup_location loc = find_cgroup("cpu", cgroup, mountinfo, err);
  REQUIRE_MESSAGE(!err, err.message);
  return loc;
}

}  // namespace

TEST_CASE("Discovery: /proc/self/cgroup in hybrid mode gives the v1 cpu and cpuset groups, "
          "and the v2 line for what v1 does not have") {
  cgroup_error err;
  const auto lines = parse_proc_cgroup(hybrid_cgroup, err);
  REQUIRE_FALSE(err);
  REQUIRE(lines.size() == 7);
  CHECK(lines[2].hierarchy == 4);
  CHECK(lines[2].path == "/process_api/a8280ba2");
  CHECK(lines[6].hierarchy == 0);
  CHECK(lines[6].controllers.empty());

  const cgroup_location cpu = find_cgroup("cpu", hybrid_cgroup, hybrid_mountinfo, err);
  REQUIRE_FALSE(err);
  CHECK(cpu.version == cgroup_version::v1);
  CHECK(cpu.mount_point == "/sys/fs/cgroup/cpu");  // not cpuacct, not cpuset
  CHECK(cpu.dir() == "/sys/fs/cgroup/cpu");
  const cgroup_location cpuset = find_cgroup("cpuset", hybrid_cgroup, hybrid_mountinfo, err);
  REQUIRE_FALSE(err);
  CHECK(cpuset.mount_point == "/sys/fs/cgroup/cpuset");
  // A controller v1 does not have goes to the unified hierarchy.
  const cgroup_location io = find_cgroup("io", hybrid_cgroup, hybrid_mountinfo, err);
  REQUIRE_FALSE(err);
  CHECK(io.version == cgroup_version::v2);
  CHECK(io.mount_point == "/sys/fs/cgroup/unified");
}

TEST_CASE("Discovery: v1 cpu,cpuacct co-mounted anywhere, nested, with the mount root of a "
          "namespaced mount taken off the path") {
  const cgroup_location loc = cpu_cgroup_of(
      "5:cpu,cpuacct:/kubepods/burstable/pod7/c1\n0::/\n",
      "50 40 0:44 /kubepods/burstable /mnt/my\\040cgroups/cpu rw - cgroup cgroup rw,cpuacct,cpu\n");
  CHECK(loc.version == cgroup_version::v1);
  CHECK(loc.mount_point == "/mnt/my cgroups/cpu");  // \040 unescaped
  CHECK(loc.mount_root == "/kubepods/burstable");
  CHECK(loc.dir() == "/mnt/my cgroups/cpu/pod7/c1");
  const std::vector<std::string> levels = loc.levels();
  REQUIRE(levels.size() == 3);
  CHECK(levels[0] == "/mnt/my cgroups/cpu/pod7/c1");
  CHECK(levels[1] == "/mnt/my cgroups/cpu/pod7");
  CHECK(levels[2] == "/mnt/my cgroups/cpu");
}

TEST_CASE("Discovery: v2 only, nested path, optional fields in mountinfo") {
  const cgroup_location loc = cpu_cgroup_of(
      "0::/system.slice/app.service\n",
      "22 1 0:21 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n");
  CHECK(loc.version == cgroup_version::v2);
  CHECK(loc.dir() == "/sys/fs/cgroup/system.slice/app.service");
  CHECK(loc.levels().size() == 3);
}

TEST_CASE("Discovery errors name what was wrong: no hierarchy, not mounted, outside the "
          "mount root, malformed lines") {
  cgroup_error err;
  (void)find_cgroup("cpu", "3:cpuset:/\n", hybrid_mountinfo, err);
  CHECK(err.code == cgroup_errc::no_hierarchy);
  CHECK(err.message.find("cpu") != std::string::npos);

  (void)find_cgroup("cpu", "1:cpu:/\n", "25 1 253:1 / / rw - ext4 /dev/vda rw\n", err);
  CHECK(err.code == cgroup_errc::no_hierarchy);
  CHECK(err.message.find("not mounted") != std::string::npos);

  // "/a" does not contain "/ab": prefixes count on whole components.
  (void)find_cgroup("cpu", "1:cpu:/ab/c\n",
                    "32 31 0:29 /a /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", err);
  CHECK(err.code == cgroup_errc::not_under_mount_root);

  (void)parse_proc_cgroup("garbage\n", err);
  CHECK(err.code == cgroup_errc::malformed);
  CHECK(err.message.find("garbage") != std::string::npos);
  (void)parse_proc_cgroup("x:cpu:/\n", err);
  CHECK(err.code == cgroup_errc::malformed);
  (void)parse_mountinfo("32 31 0:29 / /sys/fs/cgroup/cpu rw cgroup cgroup rw,cpu\n", err);
  CHECK(err.code == cgroup_errc::malformed);  // no " - " separator
}

TEST_CASE("cpu.max: \"max 100000\" is no limit, \"50000 100000\" is half a CPU") {
  cgroup_error err;
  CHECK(parse_cpu_max("max 100000\n", err).unlimited());
  CHECK_FALSE(err);
  const cpu_limit half = parse_cpu_max("50000 100000\n", err);
  CHECK_FALSE(err);
  CHECK(half.quota_us == 50000);
  CHECK(half.period_us == 100000);
  CHECK(half.cpus() == doctest::Approx(0.5));
  CHECK(parse_cpu_max("150000 50000", err).cpus() == doctest::Approx(3.0));
  CHECK_FALSE(err);
}

TEST_CASE("cpu.max bad input: empty, `max` alone, not a number, a third field, a quota "
          "below the kernel's 1 ms, a period over 1 s") {
  for (const hotcore_test::bad_cpu_max& r : hotcore_test::bad_cpu_max_rows()) {
    CAPTURE(r.text);
    cgroup_error err;
    (void)parse_cpu_max(r.text, err);
    CHECK(err.code == r.code);
    CHECK(err.message.find(r.says) != std::string::npos);
    CHECK(err.message.find('"') != std::string::npos);  // quotes the contents
  }
}

TEST_CASE("v1 cfs_quota_us/cfs_period_us: -1 is no limit; `max`, garbage, two numbers and "
          "out-of-range values are errors") {
  cgroup_error err;
  CHECK(parse_cfs("-1\n", "100000\n", err).unlimited());
  CHECK_FALSE(err);
  CHECK(parse_cfs("200000\n", "100000\n", err).cpus() == doctest::Approx(2.0));
  CHECK_FALSE(err);
  (void)parse_cfs("max\n", "100000\n", err);
  CHECK(err.code == cgroup_errc::malformed);
  (void)parse_cfs("50000 7\n", "100000\n", err);
  CHECK(err.code == cgroup_errc::extra_field);
  (void)parse_cfs("", "100000\n", err);
  CHECK(err.code == cgroup_errc::malformed);
  (void)parse_cfs("-5\n", "100000\n", err);
  CHECK(err.code == cgroup_errc::out_of_range);
  (void)parse_cfs("999\n", "100000\n", err);
  CHECK(err.code == cgroup_errc::out_of_range);
}

TEST_CASE("cpu lists like \"0-3,5\" parse to cpus; bad lists are errors") {
  cgroup_error err;
  CHECK(parse_cpu_list("0-3,5\n", err) == std::vector<unsigned>{0, 1, 2, 3, 5});
  CHECK_FALSE(err);
  CHECK(parse_cpu_list("1,1,0", err) == std::vector<unsigned>{0, 1});
  CHECK_FALSE(err);
  for (const char* bad : {"", "\n", "3-1", "0-1023:2/256", "a", "1,,2", "-1"}) {
    CAPTURE(bad);
    (void)parse_cpu_list(bad, err);
    CHECK(err.code == cgroup_errc::malformed);
  }
}

TEST_CASE("The tightest limit wins: any limit is tighter than none, compared as quota/period") {
  CHECK(tighter(lim(50000), cpu_limit{}));
  CHECK_FALSE(tighter(cpu_limit{}, lim(50000)));
  CHECK(tighter(lim(50000, 100000), lim(60000, 100000)));
  CHECK(tighter(lim(90000, 100000), lim(100000, 50000)));  // 0.9 < 2
  CHECK_FALSE(tighter(lim(100000, 100000), lim(50000, 50000)));  // equal
  // Big quotas do not overflow the comparison.
  CHECK(tighter(lim((std::int64_t{1} << 44) - 2, 1000000), lim((std::int64_t{1} << 44) - 1, 1000000)));
}

namespace {
// locate() is the cpu group of the tree's process, found as the follower finds it.
cgroup_location locate(const hotcore_test::cgroup_tree& tree) {
  cgroup_error err;
  const cgroup_location loc =
      find_cgroup("cpu", slurp(tree.proc + "/cgroup"), slurp(tree.proc + "/mountinfo"), err);
  REQUIRE_MESSAGE(!err, err.message);
  return loc;
}
}  // namespace

TEST_CASE("Reading a v2 tree: the quota of the group and every ancestor, the tightest wins; "
          "a level without the cpu controller sets no limit; messages name the file") {
  hotcore_test::cgroup_tree tree("/a/b/c");
  cgroup_error err;
  const cgroup_location loc = locate(tree);
  CHECK(read_cpu_limit(loc, err).unlimited());
  CHECK_FALSE(err);
  tree.set("/a", "cpu.max", "150000 100000\n");
  tree.set("/a/b/c", "cpu.max", "300000 100000\n");
  cpu_limit l = read_cpu_limit(loc, err);
  CHECK_FALSE(err);
  CHECK(l == lim(150000));  // the grandparent is tighter
  tree.set("/a/b", "cpu.max", "50000 100000\n");
  CHECK(read_cpu_limit(loc, err) == lim(50000));
  // /a/b does not have the cpu controller: no cpu.max there, no limit from it.
  std::filesystem::remove(tree.dir("/a/b") + "/cpu.max");
  tree.set("/a/b", "cgroup.controllers", "memory\n");
  CHECK(read_cpu_limit(loc, err) == lim(150000));
  CHECK_FALSE(err);
  // With the controller listed, a missing cpu.max is an error naming the file.
  tree.set("/a/b", "cgroup.controllers", "cpu memory\n");
  (void)read_cpu_limit(loc, err);
  CHECK(err.code == std::errc::no_such_file_or_directory);
  CHECK(err.message.find(tree.dir("/a/b") + "/cpu.max") != std::string::npos);
  tree.set("/a/b", "cpu.max", "50000 100000 1\n");
  (void)read_cpu_limit(loc, err);
  CHECK(err.code == cgroup_errc::extra_field);
  CHECK(err.message.find(tree.dir("/a/b") + "/cpu.max: \"50000 100000 1\\n\"") == 0);
  // cpuset.cpus.effective of the nearest level that has one.
  bool found = false;
  CHECK(read_cpuset(loc, found, err) == std::vector<unsigned>{0, 1});
  CHECK(found);
  tree.set("/a/b", "cpuset.cpus.effective", "1\n");
  CHECK(read_cpuset(loc, found, err) == std::vector<unsigned>{1});
}

TEST_CASE("cpu.stat: v1 (throttled_time in ns) and v2 (throttled_usec) give the same "
          "counters; no bandwidth fields is no bandwidth; bad lines and half sets are errors") {
  cgroup_error err;
  cpu_throttling t = parse_cpu_stat(
      "nr_periods 60\nnr_throttled 7\nthrottled_time 1500000\nnr_bursts 0\nburst_time 0\n", err);
  CHECK_FALSE(err);
  CHECK(t.bandwidth);
  CHECK(t.periods == 60);
  CHECK(t.throttled_periods == 7);
  CHECK(t.throttled_ns == 1500000);
  t = parse_cpu_stat("usage_usec 10\nuser_usec 5\nsystem_usec 5\nnr_periods 60\n"
                     "nr_throttled 7\nthrottled_usec 1500\n", err);
  CHECK_FALSE(err);
  CHECK(t.throttled_ns == 1500000);
  CHECK(t.periods == 60);
  t = parse_cpu_stat("usage_usec 10\nuser_usec 5\nsystem_usec 5\n", err);  // v2, no cpu controller
  CHECK_FALSE(err);
  CHECK_FALSE(t.bandwidth);
  CHECK(t.periods == 0);
  for (const char* bad : {"nr_periods\n", "nr_periods x\n", "nr_periods 1 2\n", "nr_periods -1\n",
                          "nr_periods 1\nnr_throttled 0\n"}) {
    CAPTURE(bad);
    t = parse_cpu_stat(bad, err);
    CHECK(err.code == cgroup_errc::malformed);
    CHECK_FALSE(t.bandwidth);
  }
}

TEST_CASE("read_cpu_stat() reads the group's own cpu.stat in a v2 tree; a missing or bad "
          "file is an error naming it") {
  hotcore_test::cgroup_tree tree("/a/b");
  cgroup_error err;
  const cgroup_location loc = locate(tree);
  (void)read_cpu_stat(loc, err);
  CHECK(err.code == std::errc::no_such_file_or_directory);
  CHECK(err.message.find(tree.dir("/a/b") + "/cpu.stat") == 0);
  tree.set("/a", "cpu.stat", "nr_periods 9\nnr_throttled 9\nthrottled_usec 9\n");
  tree.set("/a/b", "cpu.stat",
           "usage_usec 4\nuser_usec 2\nsystem_usec 2\nnr_periods 40\nnr_throttled 3\n"
           "throttled_usec 2500\n");
  const cpu_throttling t = read_cpu_stat(loc, err);
  REQUIRE_MESSAGE(!err, err.message);
  CHECK(t.bandwidth);
  CHECK(t.periods == 40);
  CHECK(t.throttled_periods == 3);
  CHECK(t.throttled_ns == 2500000);
  tree.set("/a/b", "cpu.stat", "nr_periods 40\nnr_throttled x\n");
  (void)read_cpu_stat(loc, err);
  CHECK(err.code == cgroup_errc::malformed);
  CHECK(err.message.find(tree.dir("/a/b") + "/cpu.stat: ") == 0);
}

TEST_CASE("The real cgroups of this process are found and read (v1 here; v2 elsewhere)") {
  cgroup_error err;
  const std::string cg = slurp("/proc/self/cgroup");
  const cgroup_location loc = find_cgroup("cpu", cg, slurp("/proc/self/mountinfo"), err);
  if (err) {
    SKIP_CASE("no cpu cgroup on this machine: " + err.message);
  }
  CHECK(std::filesystem::is_directory(loc.dir()));
  CHECK(loc.levels().back() == loc.mount_point);
  const cpu_limit l = read_cpu_limit(loc, err);
  CHECK_MESSAGE(!err, err.message);
  MESSAGE("cpu group " << loc.dir() << ": " << limit_text(l));
}

TEST_CASE("Target: ceil by default, floor or headroom selectable, never below 1, never "
          "above the allowed cores; no limit is 0") {
  const quota_policy ceil_p{};
  quota_policy floor_p;
  floor_p.rounding = quota_rounding::floor;
  quota_policy head_p;
  head_p.rounding = quota_rounding::headroom;  // reserve 0.25 CPU
  CHECK(quota_cores(cpu_limit{}, ceil_p, 0) == 0);
  CHECK(quota_cores(lim(150000), ceil_p, 0) == 2);
  CHECK(quota_cores(lim(200000), ceil_p, 0) == 2);
  CHECK(quota_cores(lim(200001), ceil_p, 0) == 3);
  CHECK(quota_cores(lim(50000), ceil_p, 0) == 1);
  CHECK(quota_cores(lim(180000), floor_p, 0) == 1);
  CHECK(quota_cores(lim(200000), floor_p, 0) == 2);
  CHECK(quota_cores(lim(50000), floor_p, 0) == 1);  // never below 1
  CHECK(quota_cores(lim(220000), head_p, 0) == 1);   // floor(1.95)
  CHECK(quota_cores(lim(225000), head_p, 0) == 2);   // floor(2.0)
  CHECK(core_target(0, 2) == 2);
  CHECK(core_target(3, 2) == 2);
  CHECK(core_target(1, 2) == 1);
  CHECK(core_target(5, 0) == 1);
}

TEST_CASE("Target in 64 bits: a quota of 2^32 CPUs or more is every allowed core, never a "
          "wrapped small count") {
  const quota_policy ceil_p{};
  quota_policy floor_p;
  floor_p.rounding = quota_rounding::floor;
  const std::int64_t period = 100000;
  for (const std::int64_t cpus : {std::int64_t{1} << 32, (std::int64_t{1} << 32) + 1,
                                  std::int64_t{1} << 40, std::int64_t{1} << 46}) {  // 2^46 * 10^5 < 2^63
    CAPTURE(cpus);
    const cpu_limit huge{cpus * period, period};
    CHECK(quota_cores(huge, ceil_p, 0) == std::numeric_limits<unsigned>::max());
    CHECK(quota_cores(huge, floor_p, 2) == std::numeric_limits<unsigned>::max());
    CHECK(core_target(quota_cores(huge, ceil_p, 0), 2) == 2);  // all cores
  }
  const cpu_limit just_below{(std::int64_t{1} << 32) / 2 * period, period};
  CHECK(quota_cores(just_below, ceil_p, 0) == 1u << 31);
}

TEST_CASE("An unreadable quota file is an error naming the file, never \"no limit\" (fail "
          "closed)") {
  hotcore_test::cgroup_tree tree("/a");
  cgroup_error err;
  const cgroup_location loc =
      find_cgroup("cpu", slurp(tree.proc + "/cgroup"), slurp(tree.proc + "/mountinfo"), err);
  REQUIRE_MESSAGE(!err, err.message);
  // cpu.max that cannot be read (a directory in its place: read() fails with EISDIR, as
  // root too).
  std::filesystem::remove(tree.dir("/a") + "/cpu.max");
  std::filesystem::create_directory(tree.dir("/a") + "/cpu.max");
  const cpu_limit l = read_cpu_limit(loc, err);
  CHECK(err.code == std::errc::is_a_directory);
  CHECK(err.message.find(tree.dir("/a") + "/cpu.max") != std::string::npos);
  (void)l;
}

TEST_CASE("Hysteresis: a quota hovering at a boundary does not flap the core count, and an "
          "exact quota still gives its count at once") {
  const quota_policy p{};  // ceil, 0.1 CPU band
  unsigned n = quota_cores(lim(200000), p, 0);
  CHECK(n == 2);
  for (std::int64_t q : {205000, 195000, 209000, 199000, 210000}) {
    n = quota_cores(lim(q), p, n);
    CHECK_MESSAGE(n == 2, "quota " << q);
  }
  CHECK(quota_cores(lim(211000), p, 2) == 3);  // past the band: up
  CHECK(quota_cores(lim(205000), p, 3) == 3);  // still ceil's answer: stays
  CHECK(quota_cores(lim(200000), p, 3) == 2);  // exactly 2 CPUs: down at once
  quota_policy none = p;
  none.hysteresis_millicpus = 0;
  CHECK(quota_cores(lim(201000), none, 2) == 3);  // without the band it would flap

  quota_policy f;
  f.rounding = quota_rounding::floor;
  unsigned m = quota_cores(lim(200000), f, 0);
  for (std::int64_t q : {199000, 205000, 191000, 200000}) {
    m = quota_cores(lim(q), f, m);
    CHECK_MESSAGE(m == 2, "quota " << q);
  }
  CHECK(quota_cores(lim(189000), f, 2) == 1);  // below the band: down
  CHECK(quota_cores(lim(199000), f, 1) == 1);  // floor's answer: stays
  CHECK(quota_cores(lim(200000), f, 1) == 2);  // exactly 2 CPUs: up at once
}

TEST_CASE("Leave order: highest ids first by default; keep_together keeps SMT siblings and "
          "NUMA nodes together") {
  CHECK(highest_first({0, 1, 2, 3}) == std::vector<unsigned>{3, 2, 1, 0});
  // Two NUMA nodes of two physical cores with two SMT siblings each, numbered like Linux
  // does (siblings n and n+4): node 0 = cores {0,4} {1,5}; node 1 = {2,6} {3,7}.
  topology topo;
  for (unsigned id = 0; id < 8; ++id) {
    pu_info pu;
    pu.os_index = id;
    pu.core = static_cast<int>(id % 4);
    pu.numa_node = static_cast<int>((id % 4) / 2);
    pu.allowed = true;
    topo.pus.push_back(pu);
  }
  const std::vector<unsigned> all{0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<unsigned> order = keep_together_order(topo, all);
  REQUIRE(order.size() == 8);
  // The first two to leave are siblings, the first four a whole node.
  CHECK(order[0] % 4 == order[1] % 4);
  std::set<int> first_node;
  for (int i = 0; i < 4; ++i) first_node.insert(topo.pus[order[i]].numa_node);
  CHECK(first_node.size() == 1);
  CHECK(order[2] % 4 == order[3] % 4);
  // With node 1 already partly down, node 1 goes on leaving first.
  const std::vector<unsigned> partial = keep_together_order(topo, {0, 1, 4, 5, 2, 6});
  CHECK((partial[0] == 6 || partial[0] == 2));
  CHECK(partial[0] % 4 == partial[1] % 4);
  // Cores the topology does not know leave first.
  CHECK(keep_together_order(topo, {0, 99})[0] == 99);
  // The default is the governor's, highest first; highest_first() says the same.
  CHECK(highest_first({5, 1, 3}) == std::vector<unsigned>{5, 3, 1});
}
