"""cheroot's WSGI server with a stop that loses nothing, on a port it binds or a socket systemd passed.

cheroot's own ``stop()`` stops its accept loop (``ConnectionManager.stop()``), connects to its own port to wake
``accept()``, then closes the listening socket: every connection the kernel completed in between (the loop
stopped, the socket still open) sat in the listen backlog and is reset by that ``close()``, request and all
(``ConnectionResetError``, neither an answer nor a refusal). Idle keep-alive connections are closed too, even
one whose next request has just arrived. ``stop_gracefully`` replaces it:

1. draining: every response says ``Connection: close``; requests are still served (the caller waits
   ``server.drain_s`` here while ``/health`` answers 503 ``draining``);
2. on a socket we own, new connection attempts (bare SYNs) are dropped by a socket filter, so none can join
   the backlog: a client retries its SYN a second later and finds the port closed (refused, never reset);
3. the accept loop stops, the backlog is accepted to empty with non-blocking accepts and the listener
   closed;
4. the linger: a keep-alive connection gets ``LINGER_S`` from the moment it is idle for its next request,
   served (with ``Connection: close``) if one comes, else closed. That covers connections idle at the stop
   and those a worker hands back after it (a response whose headers went out, keep-alive, before the
   drain began: its client was never told to reconnect). cheroot would close the latter at once, and the
   client's next request would be reset. A request a client sends on an idle connection after its linger
   may find it closed: HTTP/1.1 lets clients retry such a request, and ``server.drain_s`` has already told
   them to reconnect;
5. in-flight requests get what is left of ``shutdown_timeout``, counted from the listener's close.

A socket systemd passed (socket activation) is shared with systemd, which keeps it open across restarts:
nothing is filtered and the backlog is left queued for the next process; only our descriptor is closed.

This reaches into cheroot's internals (``_connections`` and its selector and ``_from_server_socket``,
``requests`` and its workers' ``conn``, ``_unservicable_conns``), as of cheroot 10-11;
tests/reliability/test_drain.py and test_drain_keepalive.py fail if they change.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import select
import socket
import struct
import threading
import time

from cheroot import wsgi
from cheroot.server import _STOPPING_FOR_INTERRUPT

log = logging.getLogger(__name__)

SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
# Classic BPF, run on each TCP segment reaching the listener (data at the TCP header): drop a segment whose
# flags have SYN without ACK (a new connection attempt); pass everything else, so handshakes already under
# way complete and join the backlog.
_DROP_NEW_SYNS = (
    (0x30, 0, 0, 13),          # ldb [13]          the flags byte
    (0x54, 0, 0, 0x12),        # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),        # jeq #SYN, drop, pass
    (0x06, 0, 0, 0),           # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # pass: ret #-1
)
SETTLE_S = 0.05  # after the filter: time for handshakes under way (SYN-ACK sent) to complete
LINGER_S = 0.5  # after the listener closed: time for the next request on an idle keep-alive connection
POLL_S = 0.05  # the linger's poll: how soon it sees a connection handed back or a worker done


class DrainingServer(wsgi.Server):
    """A cheroot server that can be told to drain, serving on ``inherited`` (a listening socket) if given."""

    def __init__(self, bind_addr, app, *, inherited: socket.socket | None = None, **kwargs):
        super().__init__(bind_addr, app, **kwargs)
        self.inherited = inherited
        self.draining = False
        self._handed_back: queue.SimpleQueue = queue.SimpleQueue()  # keep-alive connections, after the stop
        # prepare() calls listen(request_queue_size): cheroot's 5 overflows under a burst, and a connection whose
        # handshake found the backlog full waits half-open, to be reset if the listener closes meanwhile. The
        # kernel's limit (net.core.somaxconn) also keeps a passed socket's Backlog= (systemd's default).
        self.request_queue_size = socket.SOMAXCONN

    def bind(self, family, type, proto=0):  # noqa: A002  # cheroot's signature
        """The inherited socket as it is, else cheroot's own bind."""
        if self.inherited is None:
            return super().bind(family, type, proto)
        if self.inherited.family in (socket.AF_INET, socket.AF_INET6):
            self.inherited.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket = self.inherited
        return self.socket

    @property
    def can_add_keepalive_connection(self) -> bool:
        return not self.draining and super().can_add_keepalive_connection

    def stop_gracefully(self) -> None:
        """Steps 2-5 above (call after the drain window); safe to call once, instead of ``stop()``."""
        if not self.ready:
            return
        self.draining = True
        owned = self.inherited is None
        filtered = owned and _refuse_new_connections(self.socket)
        if filtered:
            threading.Event().wait(SETTLE_S)
        self.ready = False
        self._connections.stop()  # the accept loop ends (within cheroot's 0.5 s select timeout)
        swept = self._accept_backlog() if owned else 0
        sock, self.socket = self.socket, None
        sock.close()
        end, taken = time.monotonic() + self.shutdown_timeout, 0
        try:
            taken = self._linger(min(LINGER_S, self.shutdown_timeout), end)
        finally:  # whatever happens, the workers (not daemon threads) are stopped and the process can exit
            log.info("listener closed: %d queued connections accepted, %d keep-alive connections taken%s",
                     swept, taken, "" if filtered or not owned else " (no SYN filter: a connection may be reset)")
            self._unservicable_conns.put(_STOPPING_FOR_INTERRUPT)
            self._connections.close()
            self.requests.stop(max(end - time.monotonic(), 0.0))
            while not self._handed_back.empty():  # a worker past the linger's end (its timeout): nothing more
                self._handed_back.get_nowait().close()

    def put_conn(self, conn) -> None:
        """A keep-alive connection a worker is done with: after the stop began, to the linger (cheroot's own
        ``put_conn`` closes it then, though its client was told it stays open). ``ready`` is read once: cheroot
        would read it again, and could see the stop begin in between."""
        if self.ready:
            self._connections.put(conn)
        else:
            self._handed_back.put(conn)

    def _accept_backlog(self) -> int:
        """Accept every connection in the listen backlog without blocking; each is queued for a worker."""
        self.socket.settimeout(0)
        count = 0
        while True:
            conn = self._connections._from_server_socket(self.socket)
            if conn is None:  # EAGAIN: the backlog is empty
                return count
            self.process_conn(conn)
            count += 1

    def _linger(self, linger_s: float, end: float) -> int:
        """Step 4: until no connection is idle and no worker busy (one may hand its connection back), or
        ``end``; each idle connection's next request, if it comes within ``linger_s``, goes to a worker."""
        selector = self._connections._selector
        idle: dict[int, tuple[object, float]] = {}
        poller = select.poll()
        taken = 0
        while True:
            # Busy first: a worker hands its connection back before it stops being busy, so when none is busy
            # now, the scan below sees every connection handed back.
            busy = self._workers_busy()
            now = time.monotonic()
            registered = [(fd, conn) for fd, conn in list(selector.connections) if conn is not self]
            for fd, _ in registered:
                selector.unregister(fd)
            came = [conn for _, conn in registered]
            while not self._handed_back.empty():
                came.append(self._handed_back.get_nowait())
            for conn in came:
                if conn.rfile.has_data():  # a pipelined request, already read into the buffer
                    self.process_conn(conn)
                    taken += 1
                    continue
                idle[conn.socket.fileno()] = conn, now
                poller.register(conn.socket.fileno(), select.POLLIN)
            for fd in [fd for fd, (_, since) in idle.items() if now - since >= linger_s or now >= end]:
                poller.unregister(fd)
                idle.pop(fd)[0].close()
            if not idle and (now >= end or not busy):
                return taken
            for fd, _ in poller.poll(POLL_S * 1000):
                poller.unregister(fd)
                self.process_conn(idle.pop(fd)[0])  # a request, or the client's close: a worker reads either
                taken += 1

    def _workers_busy(self) -> bool:
        return self.requests.qsize > 0 or any(worker.conn is not None and worker.is_alive()
                                              for worker in self.requests._threads)


def _refuse_new_connections(sock: socket.socket) -> bool:
    """Attach the SYN-dropping filter to ``sock``; False where the kernel does not allow it."""
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *insn) for insn in _DROP_NEW_SYNS))
    program = struct.pack("HP", len(_DROP_NEW_SYNS), ctypes.addressof(code))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, program)
    except OSError as exc:
        log.debug("cannot filter new connections on the listener: %s", exc)
        return False
    return True
