"""Socket activation without systemd: a holder keeps a listening socket and starts ``serve`` processes on it in
turn, passing it as fd 3 with ``LISTEN_FDS``/``LISTEN_PID`` the way systemd does across a restart.

systemd sets ``LISTEN_PID`` to the pid of the process it is about to exec; a parent cannot know that pid before
fork, so a tiny wrapper (WRAPPER) moves the socket to fd 3, sets ``LISTEN_PID`` to its own pid and execs the
command, keeping that pid.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from .server import clean_env

WRAPPER = ("import os, sys\n"
           "fd = int(sys.argv[1])\n"
           "if fd != 3:\n"
           "    os.dup2(fd, 3)\n"
           "    os.close(fd)\n"
           "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='http')\n"
           "os.execv(sys.argv[2], sys.argv[2:])\n")


class SocketHolder:
    """A listening socket on 127.0.0.1 that outlives the ``serve`` processes started on it."""

    def __init__(self, backlog: int = socket.SOMAXCONN):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs: list[Path] = []

    def start(self, *serve_args: str, log: Path) -> subprocess.Popen:
        """``hailo-scrfd serve`` on the socket; its output goes to ``log``."""
        self.logs.append(log)
        out = open(log, "w")
        try:
            return subprocess.Popen(
                [sys.executable, "-c", WRAPPER, str(self.sock.fileno()), sys.executable, "-m", "hailo_scrfd",
                 "serve", *serve_args], pass_fds=(self.sock.fileno(),), stdout=out, stderr=subprocess.STDOUT,
                env=clean_env())
        finally:
            out.close()

    def wait_ready(self, proc: subprocess.Popen, timeout_s: float = 120) -> float:
        """Seconds until ``proc`` answers /health 200 (the request waits in the backlog while it loads)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}:\n{self.logs[-1].read_text()}")
            try:
                if requests.get(self.url + "/health", timeout=timeout_s).status_code == 200:
                    return time.monotonic() - start
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(self.logs[-1].read_text())

    @staticmethod
    def stop(proc: subprocess.Popen, timeout_s: float = 60) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        self.sock.close()


def activated_env() -> dict[str, str]:
    """The environment ``systemd-socket-activate -E`` should pass on (it passes almost nothing by itself)."""
    keep = ("PATH", "HOME", "HAILO_SCRFD_MODEL_DIR", "PYTHONPATH", "TMPDIR")
    return {k: v for k, v in clean_env().items() if k in keep or k.startswith("OMP_")}
