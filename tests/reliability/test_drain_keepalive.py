"""The drain's keep-alive edges, made to happen on purpose with a bare WSGI app on ``DrainingServer``.

A response whose headers went out (``keep-alive``) before the stop began, whose worker hands the connection back
after it: the client's next request on that connection must be answered, not reset. CI met this once in about
500 requests across socket-activated restarts (drain_s 0), where the stop begins with responses in flight.
"""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from hailo_scrfd.http import drain
from hailo_scrfd.http.drain import LINGER_S, DrainingServer

pytestmark = pytest.mark.e2e


class SplitApp:
    """``/split`` sends its headers and a first byte, then waits for ``release`` before the rest; ``/`` answers."""

    def __init__(self):
        self.headers_sent = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        if environ["PATH_INFO"] == "/split":
            return self._split()
        return [b"ok"]

    def _split(self):
        yield b"o"
        self.headers_sent.set()
        assert self.release.wait(10)
        yield b"k"


@pytest.fixture
def server():
    app = SplitApp()
    srv = DrainingServer(("127.0.0.1", 0), app, numthreads=4, shutdown_timeout=5)
    srv.prepare()
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    srv.app_under_test = app
    yield srv
    srv.stop_gracefully()
    thread.join(10)


def begin_stop(srv: DrainingServer) -> threading.Thread:
    """What serve's SIGTERM does with drain_s 0: draining, then the graceful stop, in its own thread."""
    srv.draining = True
    stopper = threading.Thread(target=srv.stop_gracefully)
    stopper.start()
    deadline = time.monotonic() + 5
    while srv.ready and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not srv.ready
    return stopper


def get(conn: http.client.HTTPConnection, path: str = "/") -> http.client.HTTPResponse:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.body = resp.read()
    return resp


@pytest.fixture
def long_linger(monkeypatch):
    """A linger a stalled test thread cannot outlast (the tests below are about who gets one, not its length)."""
    monkeypatch.setattr(drain, "LINGER_S", 5.0)


def test_a_response_begun_before_the_stop_keeps_its_connection_for_the_next_request(server, long_linger):
    port = server.bind_addr[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/split")
    resp = conn.getresponse()  # the headers: keep-alive, sent before the stop
    assert server.app_under_test.headers_sent.wait(5)
    assert resp.getheader("Connection") is None
    stopper = begin_stop(server)
    server.app_under_test.release.set()
    assert resp.read() == b"ok" and not resp.will_close
    nxt = get(conn)  # the client may reuse the connection: it was never told otherwise
    assert (nxt.status, nxt.body, nxt.getheader("Connection")) == (200, b"ok", "close")
    stopper.join(10)
    assert not stopper.is_alive()


def test_an_idle_connection_whose_request_comes_within_the_linger_is_answered(server, long_linger):
    port = server.bind_addr[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(conn).status == 200
    stopper = begin_stop(server)
    time.sleep(0.3)
    nxt = get(conn)
    assert (nxt.status, nxt.getheader("Connection")) == (200, "close")
    stopper.join(10)
    assert not stopper.is_alive()


def test_an_idle_connection_that_stays_silent_is_closed_after_the_linger(server):
    port = server.bind_addr[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(conn).status == 200
    start = time.monotonic()
    begin_stop(server).join(10)
    took = time.monotonic() - start
    assert LINGER_S * 0.9 <= took < LINGER_S + 2.5, took  # + the accept loop's 0.5 s select timeout
    assert conn.sock.recv(1) == b""  # closed by the server: an orderly FIN, not a reset


class HandBackDuringBusyCheck(DrainingServer):
    """The worker of a response begun before the stop finishes while the linger asks whether any worker is busy:
    the interleaving where the hand-back lands between the linger's look at its connections and that question."""

    def _workers_busy(self) -> bool:
        if not getattr(self, "fired", False) and self.app_under_test.headers_sent.is_set():
            self.fired = True
            self.app_under_test.release.set()
            deadline = time.monotonic() + 10
            while any(w.conn is not None for w in self.requests._threads) and time.monotonic() < deadline:
                time.sleep(0.001)
        return super()._workers_busy()


def test_a_connection_handed_back_while_the_linger_checks_the_workers_still_gets_its_linger(long_linger):
    app = SplitApp()
    srv = HandBackDuringBusyCheck(("127.0.0.1", 0), app, numthreads=4, shutdown_timeout=5)
    srv.app_under_test = app
    srv.prepare()
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.bind_addr[1], timeout=10)
        conn.request("GET", "/split")
        resp = conn.getresponse()
        assert app.headers_sent.wait(5)
        stopper = begin_stop(srv)  # the linger's first busy check releases the response
        assert resp.read() == b"ok" and not resp.will_close
        nxt = get(conn)
        assert (nxt.status, nxt.getheader("Connection")) == (200, "close")
        stopper.join(10)
        assert not stopper.is_alive()
    finally:
        srv.stop_gracefully()
        thread.join(10)
