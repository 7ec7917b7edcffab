"""Serve the WSGI app with cheroot, a production multi-threaded server, and stop without losing a request.

The listening socket is one systemd passed (socket activation, sd_listen_fds(3): ``$LISTEN_PID`` is ours,
``$LISTEN_FDS`` counts the sockets from fd 3), else one cheroot binds in ``prepare()`` before serving, so the
caller can load the model first and report readiness only once the port is open.

On SIGTERM or SIGINT (see http/drain.py for the mechanics): ``on_stop()`` runs (/health answers 503
``draining``), requests are still served for ``server.drain_s``, then the listener closes with every
connection already queued in the kernel served, and in-flight requests get ``server.shutdown_timeout_s``.
A second signal ends the drain window at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from ..system import systemd
from ..system.config import SCRFDServiceConfig
from .drain import DrainingServer

log = logging.getLogger(__name__)

AUTO_DRAIN_S = 3.0  # server.drain_s -1 when serve binds the port itself


class ServeError(Exception):
    """The server could not start (for example, the port is in use)."""


def drain_seconds(configured: float, activated: bool) -> float:
    """``server.drain_s``, with -1 (auto) resolved: none under socket activation, else AUTO_DRAIN_S."""
    if configured >= 0:
        return configured
    return 0.0 if activated else AUTO_DRAIN_S


def serve(app, config: SCRFDServiceConfig, *, on_ready: Callable[[str, int], None] | None = None,
          on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT. ``on_ready(host, port)`` runs once the port is open, ``on_stop()``
    when the stop signal arrives, before the drain window."""
    server = _server(app, config)
    activated = server.inherited is not None
    drain_s = drain_seconds(config.server.drain_s, activated)
    stopper: list[threading.Thread] = []
    cut_short = threading.Event()

    def _stop(signum, _frame):
        if stopper:
            cut_short.set()
            return
        log.info("%s received: draining: /health answers 503, requests are served %gs more, then the listener "
                 "closes and in-flight requests get up to %gs", signal.Signals(signum).name, drain_s,
                 config.server.shutdown_timeout_s)
        if on_stop:
            on_stop()
        stopper.append(threading.Thread(target=_drain_then_stop, args=(server, drain_s, cut_short),
                                        name="scrfd-shutdown"))
        stopper[0].start()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        bound_host, bound_port = server.bind_addr[:2]
        log.info("listening on http://%s:%d%s", _url_host(bound_host), bound_port,
                 " (socket from systemd)" if activated else "")
        if on_ready:
            on_ready(bound_host, bound_port)
        server.serve()
    finally:
        if stopper:
            stopper[0].join()
        else:
            server.stop_gracefully()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("server stopped")


def _server(app, config: SCRFDServiceConfig) -> DrainingServer:
    """A prepared server: on the socket systemd passed, else on ``server.host:server.port``."""
    try:
        fds = systemd.listen_fds()
        inherited = systemd.listening_socket(fds) if fds else None
    except systemd.ActivationError as exc:
        raise ServeError(str(exc)) from None
    host, port = inherited.getsockname()[:2] if inherited else (config.server.host, config.server.port)
    server = DrainingServer((host, port), app, inherited=inherited, numthreads=config.performance.worker_threads,
                            shutdown_timeout=config.server.shutdown_timeout_s, server_name="hailo-scrfd")
    try:
        server.prepare()
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {_bind_reason(exc)}") from None
    return server


def _drain_then_stop(server: DrainingServer, drain_s: float, cut_short: threading.Event) -> None:
    server.draining = True  # responses say Connection: close from now on
    if drain_s > 0 and cut_short.wait(drain_s):
        log.info("second stop signal: drain window cut short")
    server.stop_gracefully()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind_reason(exc: OSError) -> str:
    text = str(exc)
    for known in ("Address already in use", "Permission denied", "Cannot assign requested address"):
        if known in text:
            return known.lower()
    return text
