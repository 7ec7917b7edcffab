"""Serve the WSGI app with cheroot, a production multi-threaded server, and stop gracefully.

cheroot binds in ``prepare()`` before serving, so the caller can load the model
first and report readiness only once the port is open. On SIGTERM or SIGINT the
listening socket closes at once and in-flight requests get
``server.shutdown_timeout_s`` to finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Callable

from cheroot import wsgi

from ..system.config import SCRFDServiceConfig

log = logging.getLogger(__name__)


class ServeError(Exception):
    """The server could not start (for example, the port is in use)."""


def serve(app, config: SCRFDServiceConfig, *, on_ready: Callable[[str, int], None] | None = None,
          on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT. ``on_ready(host, port)`` runs once the port is open, ``on_stop()``
    when the stop signal arrives."""
    host, port = config.server.host, config.server.port
    server = wsgi.Server(
        (host, port), app,
        numthreads=config.performance.worker_threads,
        shutdown_timeout=config.server.shutdown_timeout_s,
        server_name="hailo-scrfd",
    )
    try:
        server.prepare()
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {_bind_reason(exc)}") from None
    bound_host, bound_port = server.bind_addr[:2]

    stopper: list[threading.Thread] = []

    def _stop(signum, _frame):
        if not stopper:
            log.info("%s received: draining in-flight requests (up to %gs)",
                     signal.Signals(signum).name, config.server.shutdown_timeout_s)
            if on_stop:
                on_stop()
            stopper.append(threading.Thread(target=server.stop, name="scrfd-shutdown"))
            stopper[0].start()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info("listening on http://%s:%d", bound_host, bound_port)
        if on_ready:
            on_ready(bound_host, bound_port)
        server.serve()
    finally:
        if stopper:
            stopper[0].join()
        else:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("server stopped")


def _bind_reason(exc: OSError) -> str:
    text = str(exc)
    for known in ("Address already in use", "Permission denied", "Cannot assign requested address"):
        if known in text:
            return known.lower()
    return text
