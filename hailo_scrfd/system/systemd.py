"""systemd integration without a dependency: sd_notify(3) datagrams, a health-gated watchdog, and the
sockets of socket activation (sd_listen_fds(3)).

The notify protocol is one datagram of ``KEY=VALUE`` lines to the Unix socket named by
``$NOTIFY_SOCKET``; a leading ``@`` means the abstract namespace. Outside systemd
(no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping, MutableMapping

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


LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START: the first passed socket is fd 3, the next 4, ...
LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(ValueError):
    """systemd's socket-activation variables are set for this process but cannot be used."""


def listen_fds(env: MutableMapping[str, str] | None = None, pid: int | None = None) -> list[tuple[int, str]]:
    """The sockets systemd passed to this process, ``[(fd, name)]`` from fd 3 on, as sd_listen_fds_with_names(3)
    reads them; ``[]`` when none were passed, or when ``$LISTEN_PID`` names another process (the variables
    were inherited, not meant for us).

    The variables are removed from ``env`` (``os.environ`` by default) in every case, so that no child process,
    nor cheroot (which takes fd 3 whenever ``$LISTEN_PID`` is set), reads them as its own. Names come from
    ``$LISTEN_FDNAMES`` (colon-separated, one per fd); without it every name is ``unknown``, as in systemd.
    """
    env = os.environ if env is None else env
    raw_pid, raw_fds, raw_names = (env.pop(name, None) for name in LISTEN_VARIABLES)
    if raw_pid is None and raw_fds is None:
        return []
    try:
        listen_pid, count = int(raw_pid or ""), int(raw_fds or "")
    except ValueError:
        raise ActivationError(f"socket activation: LISTEN_PID={raw_pid!r} and LISTEN_FDS={raw_fds!r} must be "
                              "numbers") from None
    if listen_pid != (os.getpid() if pid is None else pid):
        return []
    if count < 0:
        raise ActivationError(f"socket activation: LISTEN_FDS={count} is negative")
    names = raw_names.split(":") if raw_names else ["unknown"] * count
    if len(names) != count:
        raise ActivationError(f"socket activation: LISTEN_FDNAMES has {len(names)} names for {count} sockets")
    return [(LISTEN_FDS_START + i, name) for i, name in enumerate(names)]


def listening_socket(fds: list[tuple[int, str]]) -> socket.socket:
    """The one TCP listening socket among ``fds``; ActivationError if there is not exactly one usable."""
    if len(fds) != 1:
        raise ActivationError(f"socket activation: systemd passed {len(fds)} sockets "
                              f"({', '.join(name for _, name in fds) or 'none'}); serve takes exactly one: "
                              "give the socket unit a single ListenStream=")
    fd, name = fds[0]
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ActivationError(f"socket activation: fd {fd} ({name}) is not a socket: {exc.strerror}") from None
    sock.set_inheritable(False)  # FD_CLOEXEC, as sd_listen_fds() sets it
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise ActivationError(f"socket activation: fd {fd} ({name}) is not a listening TCP socket: "
                              "use ListenStream=ADDRESS:PORT in the socket unit")
    return sock
