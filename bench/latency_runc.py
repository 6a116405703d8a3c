# SPDX-License-Identifier: MIT
# bench/latency_runc.py — a runc container for a benchmarked server: a bundle whose rootfs
# is read-only bind mounts of the host's /usr, /lib, /lib64, /bin, /etc and the build dir,
# the host's network (loopback works), a hotcore-* cgroup; resized by `runc update`.
#   latency_runc.py bundle DIR BUILD_DIR CGROUP_LEAF QUOTA_US -- CMD...  writes DIR/config.json
import json
import os
import subprocess
import sys

PERIOD_US = 100000


def config(build_dir, leaf, quota_us, args):
    ro = ["rbind", "ro", "nosuid", "nodev"]
    binds = [d for d in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc") if os.path.exists(d)]
    mounts = [{"destination": "/proc", "type": "proc", "source": "proc"},
              {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
              {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
              # /sys read-only: hwloc's topology and the cgroup files the follower reads
              {"destination": "/sys", "type": "bind", "source": "/sys", "options": ro + ["noexec"]}]
    mounts += [{"destination": d, "type": "bind", "source": d, "options": ro} for d in binds]
    build = os.path.realpath(build_dir)
    mounts.append({"destination": build, "type": "bind", "source": build, "options": ro})
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
                    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "noNewPrivileges": True,
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "hotcore-bench",
        "mounts": mounts,
        "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                  "cgroupsPath": "/" + leaf,
                  "resources": {"cpu": {"quota": quota_us, "period": PERIOD_US}}},
    }


def write_bundle(bundle, build_dir, leaf, quota_us, args):
    os.makedirs(os.path.join(bundle, "rootfs"), exist_ok=True)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config(build_dir, leaf, quota_us, args), f, indent=1)


class Container:
    """`runc run -d` of a bundle; always deleted (runc delete --force) on exit."""

    def __init__(self, bundle, name, log_path):
        self.name = name
        with open(log_path, "ab") as log:
            subprocess.run(["runc", "run", "-d", "--bundle", bundle, name], stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log, check=True, timeout=30)

    def update(self, cpus):
        subprocess.run(["runc", "update", "--cpu-period", str(PERIOD_US), "--cpu-quota",
                        str(int(round(cpus * PERIOD_US))), self.name], check=True, timeout=10)

    def delete(self):
        subprocess.run(["runc", "delete", "--force", self.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()


def main(argv):
    if len(argv) < 7 or argv[0] != "bundle" or argv[5] != "--":
        sys.exit("usage: latency_runc.py bundle DIR BUILD_DIR CGROUP_LEAF QUOTA_US -- CMD...")
    if not argv[3].startswith("hotcore-"):
        sys.exit("latency_runc.py: the cgroup leaf must be named hotcore-*, got %r" % argv[3])
    write_bundle(argv[1], argv[2], argv[3], int(argv[4]), argv[6:])


if __name__ == "__main__":
    main(sys.argv[1:])
