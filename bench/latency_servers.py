# SPDX-License-Identifier: MIT
# bench/latency_servers.py — the servers the latency driver compares, each started inside
# a cgroup (joined before exec) on a loopback port and stopped whatever happens: pool_server
# with a following, polling or fixed hotcore pool or a oneTBB arena, and nginx (a config
# in a temp dir serving the same bytes).
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BODY = "Hello from hotcore\\n"  # nginx's escape of examples/http_request.h's body

# name: pool_server flags (None: nginx)
SERVERS = {
    "hotcore-follow": ["--pool", "hotcore"],
    "hotcore-poll1s": ["--pool", "hotcore", "--poll-ms", "1000"],
    "hotcore-paced": ["--pool", "hotcore", "--pace"],
    "hotcore-floor": ["--pool", "hotcore", "--rounding", "floor"],
    "hotcore-headroom": ["--pool", "hotcore", "--rounding", "headroom"],
    "hotcore-fixed": ["--pool", "hotcore", "--cores", "2"],
    "tbb": ["--pool", "tbb", "--cores", "2"],
    "nginx": None,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %d before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server not listening on %d after %.0f s" % (port, timeout))


NGINX_CONF = """worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type text/plain; return 200 "{body}"; }}
  }}
}}
"""


class Server:
    """One server process (tree) in `group`; a context manager that always stops it."""

    def __init__(self, name, group, build_dir, server_args, seconds, log_path):
        self.name, self.group, self.port = name, group, free_port()
        self.tmp = tempfile.mkdtemp(prefix="hotcore-bench-")
        self.log = open(log_path, "ab")
        flags = SERVERS[name]
        if flags is None:
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, port=self.port, body=BODY))
            cmd = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", self.tmp,
                   "-e", os.path.join(self.tmp, "error.log")]
        else:
            cmd = [os.path.join(build_dir, "bench", "pool_server"), *flags, *server_args,
                   "--port", str(self.port), "--seconds", str(int(seconds))]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=group.join, start_new_session=True)

    def __enter__(self):
        try:
            wait_listening(self.port, self.proc)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            try:  # nginx: SIGTERM is its fast shutdown; pool_server drains and exits
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
