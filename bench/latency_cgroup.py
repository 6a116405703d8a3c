# SPDX-License-Identifier: MIT
# bench/latency_cgroup.py — the CPU cgroup a benchmarked server runs in: made as
# hotcore-bench-*, limited through cgroup v1 (cpu.cfs_quota_us/cfs_period_us, cpuacct for
# usage) or v2 (cpu.max), read through cpu.stat, and removed with whatever still runs in it.
import os
import signal
import time

ROOT = "/sys/fs/cgroup"
PERIOD_US = 100000


def cgroup_v2():
    try:
        with open(os.path.join(ROOT, "cgroup.controllers")) as f:
            return "cpu" in f.read().split()
    except OSError:
        return False


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = int(parts[1])
    return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class CpuGroup:
    """A hotcore-bench-<name> group in the cpu (and, on v1, cpuacct) hierarchy."""

    def __init__(self, name, leaf=None):
        """leaf: the group's exact name (one runc made); else hotcore-bench-<name>-<pid>."""
        self.v2 = cgroup_v2()
        leaf = leaf or "hotcore-bench-%s-%d" % (name, os.getpid())
        if self.v2:
            try:  # the root must hand the cpu controller down
                write(os.path.join(ROOT, "cgroup.subtree_control"), "+cpu")
            except OSError:
                pass
            self.dirs = [os.path.join(ROOT, leaf)]
        else:
            if not os.path.exists(os.path.join(ROOT, "cpu", "cpu.cfs_quota_us")):
                raise RuntimeError("no cgroup v1 cpu controller at %s/cpu, no v2 cpu.max" % ROOT)
            self.dirs = [os.path.join(ROOT, "cpu", leaf)]
            if os.path.isdir(os.path.join(ROOT, "cpuacct")) and not os.path.samefile(
                    os.path.join(ROOT, "cpuacct"), os.path.join(ROOT, "cpu")):
                self.dirs.append(os.path.join(ROOT, "cpuacct", leaf))
        for d in self.dirs:
            os.makedirs(d, exist_ok=True)
        self.cpu_dir = self.dirs[0]
        # Ten times the default weight: on a shared machine, builds elsewhere do not stand in
        # front of the server (the quota, not the weight, is what is measured).
        if self.v2:
            write(os.path.join(self.cpu_dir, "cpu.weight"), "1000")
        else:
            write(os.path.join(self.cpu_dir, "cpu.shares"), "10240")

    def set_limit(self, cpus):
        """cpus: a float, or None for no limit."""
        if self.v2:
            quota = "max" if cpus is None else str(int(round(cpus * PERIOD_US)))
            write(os.path.join(self.cpu_dir, "cpu.max"), "%s %d" % (quota, PERIOD_US))
        else:
            write(os.path.join(self.cpu_dir, "cpu.cfs_period_us"), str(PERIOD_US))
            quota = -1 if cpus is None else int(round(cpus * PERIOD_US))
            write(os.path.join(self.cpu_dir, "cpu.cfs_quota_us"), str(quota))

    def join(self):
        """Moves the calling process in (a Popen preexec_fn: the server joins before exec)."""
        for d in self.dirs:
            write(os.path.join(d, "cgroup.procs"), "0")

    def pids(self):
        with open(os.path.join(self.cpu_dir, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def snapshot(self):
        """cpu.stat's counters in common units: periods, throttled periods and time (us),
        CPU usage (us) and the processes' utime+stime (us), at a monotonic time."""
        st = read_kv(os.path.join(self.cpu_dir, "cpu.stat"))
        if self.v2:
            usage_us, throttled_us = st.get("usage_usec", 0), st.get("throttled_usec", 0)
        else:
            throttled_us = st.get("throttled_time", 0) // 1000
            acct = self.dirs[-1] if len(self.dirs) > 1 else self.cpu_dir
            with open(os.path.join(acct, "cpuacct.usage")) as f:
                usage_us = int(f.read()) // 1000
        return {"t": time.monotonic(), "nr_periods": st.get("nr_periods", 0),
                "nr_throttled": st.get("nr_throttled", 0), "throttled_us": throttled_us,
                "usage_us": usage_us, "proc_us": self.proc_cpu_us()}

    def proc_cpu_us(self):
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return total * 1000000 // tick

    def remove(self):
        """Kills what still runs in the group, then removes it (retries while it empties)."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        left = [int(x) for x in f.read().split()]
                except OSError:
                    break
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.05)


def delta(before, after):
    return {k: after[k] - before[k] for k in before}
