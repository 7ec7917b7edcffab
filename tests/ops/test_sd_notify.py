"""sd_notify against real Unix datagram sockets, the health-gated watchdog, and `serve` under a notify socket."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest
import requests

from hailo_scrfd.system.systemd import Watchdog, notify, watchdog_interval_s

from support.server import ServerProcess, clean_env


@pytest.fixture
def path_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_socket():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"hailo-scrfd-test-{uuid.uuid4().hex}"
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield sock, "@" + name
    sock.close()


def test_notify_to_a_path_socket(path_socket):
    sock, path = path_socket
    assert notify("READY=1\nSTATUS=serving", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving"


def test_notify_to_an_abstract_socket(abstract_socket):
    sock, name = abstract_socket
    assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": name})
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_without_systemd_is_a_no_op(tmp_path):
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False  # logged, never raised


def test_watchdog_interval():
    pid = str(os.getpid())
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # for another process
    assert watchdog_interval_s({}) is None and watchdog_interval_s({"WATCHDOG_USEC": "x"}) is None


def drain(sock, seconds):
    end, got = time.monotonic() + seconds, []
    sock.settimeout(0.05)
    while time.monotonic() < end:
        try:
            got.append(sock.recv(4096))
        except socket.timeout:
            pass
    return got


def test_watchdog_pings_only_while_healthy(path_socket):
    sock, path = path_socket
    healthy = {"value": True}
    dog = Watchdog(lambda: healthy["value"], {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}).start()
    try:
        pings = drain(sock, 0.65)
        assert pings.count(b"WATCHDOG=1") >= 4  # every 0.1 s
        healthy["value"] = False
        drain(sock, 0.15)  # a ping sent as the flag turned may still be queued: read it
        assert drain(sock, 0.5) == []
        healthy["value"] = True
        assert b"WATCHDOG=1" in drain(sock, 0.3)
    finally:
        dog.stop()


@pytest.mark.e2e
def test_serve_notifies_ready_only_once_serving(shared, path_socket):
    sock, path = path_socket
    srv = ServerProcess(shared / "models" / "scrfd_2.5g_bnkps.onnx",
                        env=clean_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="400000"))
    try:
        sock.settimeout(60)
        messages = []
        while not any(m.startswith(b"READY=1") for m in messages):
            messages.append(sock.recv(4096))
        # READY=1 means the model is loaded and the port accepts: /health answers at once.
        assert requests.get(srv.url + "/health", timeout=2).json()["status"] == "ok"
        assert messages[0] == b"STATUS=loading the model"
        assert b"STATUS=serving scrfd_2.5g_bnkps on onnxruntime:CPUExecutionProvider" in messages[-1]
        assert b"WATCHDOG=1" in drain(sock, 0.6)
    finally:
        code = srv.stop()
    assert code == 0
    assert any(m.startswith(b"STOPPING=1") for m in drain(sock, 0.3))
