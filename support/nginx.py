"""Run Debian's nginx as a non-daemon child with deploy/nginx/hailo-scrfd.conf in front of given ports.

The deployed file is used as it is, except for the addresses: its upstream ``server`` lines are replaced by
the test instances' ports and ``listen`` by a free loopback port. Temp files, pid and logs stay in a
private prefix directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import requests

from .data import ROOT
from .server import free_port

DEPLOYED = ROOT / "deploy" / "nginx" / "hailo-scrfd.conf"
SERVER_LINES = re.compile(r"(?:    server 127\.0\.0\.1:\d+ (max_fails=\S+ fail_timeout=\S+);\n)+")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def site_config(ports: list[int], listen_port: int) -> str:
    """The deployed server config, pointed at ``ports`` and listening on ``127.0.0.1:listen_port``."""
    text = DEPLOYED.read_text()

    def servers(m: re.Match) -> str:
        return "".join(f"    server 127.0.0.1:{p} {m.group(1)};\n" for p in ports)

    text, n = SERVER_LINES.subn(servers, text)
    assert n == 3, "the deployed config should have three upstream blocks"
    text = text.replace("    listen [::]:80;\n", "").replace("    listen 80;", f"    listen 127.0.0.1:{listen_port};")
    return text


class Nginx:
    def __init__(self, prefix: Path, ports: list[int]):
        self.prefix, self.port = prefix, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "hailo-scrfd.conf").write_text(site_config(ports, self.port))
        temp = "\n".join(f"    {k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                           "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the private prefix
        (prefix / "nginx.conf").write_text(f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstreams '$status "$request_uri" $upstream_addr $upstream_status';
    access_log {prefix}/access.log upstreams;
{temp}
    include {prefix}/hailo-scrfd.conf;
}}
""")
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                      "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stdout.read().decode()}\n{self.error_log()}")
            try:
                requests.get(self.url + "/metrics", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError("nginx did not start:\n" + self.error_log())

    def access_log(self) -> list[str]:
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
