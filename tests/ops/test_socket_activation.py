"""The sd_listen_fds(3) protocol as serve reads it, and the drain window it implies (no processes)."""

from __future__ import annotations

import os
import socket

import pytest

from hailo_scrfd.http.server import AUTO_DRAIN_S, drain_seconds
from hailo_scrfd.system.systemd import ActivationError, listen_fds, listening_socket

PID = 4242


def env(**values: str) -> dict[str, str]:
    return {"PATH": "/usr/bin", **values}


def test_no_variables_no_sockets():
    assert listen_fds(env(), pid=PID) == []


def test_one_socket_and_the_variables_are_removed():
    e = env(LISTEN_PID=str(PID), LISTEN_FDS="1")
    assert listen_fds(e, pid=PID) == [(3, "unknown")]
    assert e == {"PATH": "/usr/bin"}  # a child process (or cheroot) must not take fd 3 as its own


def test_another_process_pid_means_not_ours():
    e = env(LISTEN_PID=str(PID + 1), LISTEN_FDS="1", LISTEN_FDNAMES="http")
    assert listen_fds(e, pid=PID) == []
    assert "LISTEN_PID" not in e and "LISTEN_FDS" not in e and "LISTEN_FDNAMES" not in e


def test_zero_fds():
    assert listen_fds(env(LISTEN_PID=str(PID), LISTEN_FDS="0"), pid=PID) == []


def test_two_fds_with_names():
    e = env(LISTEN_PID=str(PID), LISTEN_FDS="2", LISTEN_FDNAMES="http:metrics")
    assert listen_fds(e, pid=PID) == [(3, "http"), (4, "metrics")]


@pytest.mark.parametrize("values, message", [
    ({"LISTEN_PID": "x", "LISTEN_FDS": "1"}, "must be numbers"),
    ({"LISTEN_PID": str(PID)}, "must be numbers"),
    ({"LISTEN_PID": str(PID), "LISTEN_FDS": "-1"}, "is negative"),
    ({"LISTEN_PID": str(PID), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "http"}, "has 1 names for 2 sockets"),
])
def test_malformed_variables_are_errors(values, message):
    with pytest.raises(ActivationError, match=message):
        listen_fds(env(**values), pid=PID)


def test_the_real_pid_is_the_default(monkeypatch):
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    monkeypatch.setenv("LISTEN_FDS", "1")
    assert listen_fds() == [(3, "unknown")]
    assert "LISTEN_PID" not in os.environ


def test_listening_socket_takes_one_tcp_listener():
    with socket.socket() as original:
        original.bind(("127.0.0.1", 0))
        original.listen(4)
        address = original.getsockname()
        fd = os.dup(original.fileno())
    sock = listening_socket([(fd, "http")])
    try:
        assert sock.getsockname() == address and not sock.get_inheritable()
    finally:
        sock.close()


def test_listening_socket_refuses_the_wrong_kinds():
    with pytest.raises(ActivationError, match="systemd passed 2 sockets \\(http, metrics\\)"):
        listening_socket([(3, "http"), (4, "metrics")])
    with socket.socket() as unbound:  # a TCP socket that does not listen
        fd = os.dup(unbound.fileno())
    with pytest.raises(ActivationError, match="is not a listening TCP socket"):
        listening_socket([(fd, "http")])
    os.close(fd)
    read, write = os.pipe()
    with pytest.raises(ActivationError, match="is not a socket"):
        listening_socket([(read, "http")])
    os.close(read)
    os.close(write)


def test_drain_window_auto_is_none_under_socket_activation():
    assert drain_seconds(-1, activated=True) == 0
    assert drain_seconds(-1, activated=False) == AUTO_DRAIN_S == 3
    assert drain_seconds(1.5, activated=True) == 1.5 and drain_seconds(0, activated=False) == 0


def test_activation_and_restart_messages_are_documented():
    from ..conftest import ROOT

    doc = (ROOT / "docs" / "troubleshooting.md").read_text()
    messages = []
    for values in ({"LISTEN_PID": "x", "LISTEN_FDS": "1"}, {"LISTEN_PID": str(PID), "LISTEN_FDS": "-1"},
                   {"LISTEN_PID": str(PID), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "http"}):
        with pytest.raises(ActivationError) as info:
            listen_fds(env(**values), pid=PID)
        messages.append(str(info.value))
    read, write = os.pipe()
    try:
        for fds in ([(3, "http"), (4, "metrics")], [(read, "http")]):
            with pytest.raises(ActivationError) as info:
                listening_socket(fds)
            messages.append(str(info.value).replace(f"fd {read} ", "fd 3 "))
    finally:
        os.close(read)
        os.close(write)
    with socket.socket() as unbound:
        fd = os.dup(unbound.fileno())
    with pytest.raises(ActivationError) as info:
        listening_socket([(fd, "http")])
    os.close(fd)
    messages.append(str(info.value).replace(f"fd {fd} ", "fd 3 "))
    for message in messages:
        assert f"hailo-scrfd: error: {message}" in doc, message
    script = (ROOT / "scripts" / "rolling-restart.sh").read_text()
    for line in ('rolling-restart: hailo-scrfd@$n is not ready after ${ready_timeout}s: stopping here',
                 "rolling-restart: no active hailo-scrfd@N.service to restart"):
        assert line in script and line.replace("$n", "2").replace("${ready_timeout}", "180") in doc


def test_health_says_draining_once_stopping(app_factory):
    client = app_factory()
    assert client.get("/health").status_code == 200
    client.application.extensions["hailo_scrfd"].draining.set()  # what serve's SIGTERM handler does first
    resp = client.get("/health")
    assert resp.status_code == 503 and resp.json["status"] == "draining" and "stopping" in resp.json["reason"]
    assert client.post("/v1/detect", data=b"", headers={"Content-Type": "image/jpeg"}).status_code == 400  # served
