"""systemd integration without a dependency: sd_notify(3) datagrams and a health-gated watchdog.

The protocol is one datagram of ``KEY=VALUE`` lines to the Unix socket named by
``$NOTIFY_SOCKET``; a leading ``@`` means the abstract namespace. Outside systemd
(no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping

log = logging.getLogger(__name__)


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to systemd; True if a socket was there to send to."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        log.warning("sd_notify to %r failed: %s", address, exc)
        return False
    return True


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for this process (``WatchdogSec=``), or None."""
    env = env if env is not None else os.environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


class Watchdog:
    """Sends ``WATCHDOG=1`` at half the timeout, but only while ``healthy()`` says so.

    When the inference path stays broken, the pings stop and systemd restarts the
    service after ``WatchdogSec``, which is the escalation we want beyond in-process
    recovery.
    """

    def __init__(self, healthy: Callable[[], bool], env: Mapping[str, str] | None = None):
        self._healthy = healthy
        self._env = env
        self._stop = threading.Event()
        self.interval_s = watchdog_interval_s(env)
        self._thread: threading.Thread | None = None

    def start(self) -> "Watchdog":
        if self.interval_s is not None:
            self._thread = threading.Thread(target=self._run, name="scrfd-watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        period = self.interval_s / 2
        while not self._stop.wait(period):
            if self._healthy():
                notify("WATCHDOG=1", self._env)
            else:
                log.warning("inference path unhealthy: withholding the systemd watchdog ping")
