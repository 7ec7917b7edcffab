"""Start and stop a real `hailo-scrfd serve` process on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A server binds it seconds later (once its model is
    loaded); a port from the range (bind to 0) could meanwhile become the local end of any outgoing connection."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 10000), low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port found below {low}")


# Kept when the rest of HAILO_SCRFD_* is dropped: the tests' own model cache, so that no cached INT8 or
# optimised model of the user's leaks into a test server, and the tests write nothing into the user's cache;
# and HAILO_SCRFD_AUTO_INT8, which the suite sets to off (no test server quantizes in the background).
KEPT = ("HAILO_SCRFD_MODEL_DIR", "HAILO_SCRFD_AUTO_INT8")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILO_SCRFD_") or k in KEPT}
    env.update(extra)
    return env


class ServerProcess:
    def __init__(self, model: Path | None, *args: str, port: int | None = None, env: dict | None = None,
                 preexec_fn=None, drain_s: float | None = 0.0):
        """``drain_s``: server.drain_s (--drain-s); 0 by default so that stopping a test server takes no drain
        window; None leaves the config's (auto: 3 s)."""
        self.port = port or free_port()
        args += ("--drain-s", str(drain_s)) if drain_s is not None else ()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hailo-scrfd-e2e-{self.port}.log"
        self._log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hailo_scrfd", "serve", *(["--model", str(model)] if model else []),
             "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env or clean_env(), preexec_fn=preexec_fn)

    def wait_ready(self, timeout_s: float = 60.0) -> dict:
        """Poll /health until it answers 200; ``self.probes`` counts the requests the server answered."""
        self.probes = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                resp = requests.get(self.url + "/health", timeout=10)  # the port opens once loaded: a slow
                # answer here is a loaded machine, and one given up on would be answered but not counted
                self.probes += 1
                if resp.status_code == 200:
                    return resp.json()
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready after {timeout_s}s:\n{self.log()}")

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()


@contextlib.contextmanager
def running(model: Path | None, *args: str, **kwargs):
    """A ready ``serve`` process, stopped on the way out even when it never became ready."""
    server = ServerProcess(model, *args, **kwargs)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
