"""10 000 malformed requests against a live server: no 5xx, still healthy afterwards, memory flat."""

from __future__ import annotations

import base64
import http.client
import random
import socket
import threading

import pytest
import requests

from support.server import ServerProcess

pytestmark = pytest.mark.e2e

TOTAL = 10_000
CLIENTS = 4


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def malformed(rng: random.Random, jpeg: bytes, png: bytes) -> tuple[str, str, dict, bytes]:
    """(method, path, headers, body) of one malformed request, drawn from many kinds of mistakes."""
    b64 = base64.b64encode(jpeg).decode()
    kind = rng.randrange(16)
    path = rng.choice(["/v1/detect", "/v1/align"])
    if kind == 0:
        return "POST", path, {"Content-Type": "image/jpeg"}, jpeg[: rng.randrange(1, len(jpeg))]
    if kind == 1:
        return "POST", path, {"Content-Type": "image/png"}, png[: rng.randrange(1, len(png))]
    if kind == 2:
        corrupt = bytearray(jpeg)
        for _ in range(20):
            corrupt[rng.randrange(200, len(corrupt))] = rng.randrange(256)
        return "POST", path, {"Content-Type": "image/jpeg"}, bytes(corrupt)
    if kind == 3:
        return "POST", path, {"Content-Type": "image/jpeg"}, rng.randbytes(rng.randrange(0, 512))
    if kind == 4:
        return "POST", path, {"Content-Type": "application/json"}, rng.randbytes(rng.randrange(0, 200))
    if kind == 5:
        cut = b64[:rng.randrange(10, 900)].encode()
        return "POST", path, {"Content-Type": "application/json"}, b'{"image": "' + cut + b'"}'
    if kind == 6:
        value = rng.choice(['"x"', "NaN", "-1", "1e308", "[]", "{}", "true", "null", '"0.5"', "2", "-Infinity"])
        param = rng.choice(["threshold", "nms_threshold", "max_faces", "min_face_size", "size", "format", "bogus"])
        return "POST", path, {"Content-Type": "application/json"}, f'{{"image": "{b64}", "{param}": {value}}}'.encode()
    if kind == 7:
        wrong = rng.choice([b"1", b"[]", b"{}", b"null"])
        return "POST", path, {"Content-Type": "application/json"}, b'{"image": ' + wrong + b"}"
    if kind == 8:
        boundary = "b0undary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"threshold\"\r\n\r\n0.5\r\n--{boundary}--\r\n")
        return "POST", path, {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body.encode()
    if kind == 9:
        return "POST", path, {"Content-Type": "multipart/form-data; boundary=x"}, rng.randbytes(100)
    if kind == 10:
        return "POST", path, {"Content-Type": rng.choice(["text/plain", "application/xml", "video/mp4"])}, b"hello"
    if kind == 11:
        query = rng.choice(["threshold=abc", "max_faces=-3", "size=100", "format=gif", "threshold=inf", "x=1"])
        return "POST", f"{path}?{query}", {"Content-Type": "image/jpeg"}, jpeg
    if kind == 12:
        return rng.choice(["GET", "PUT", "DELETE", "PATCH"]), path, {}, b""
    if kind == 13:
        return "POST", rng.choice(["/v2/detect", "/../etc/passwd", "/v1/detect/" + "a" * 300]), {}, b""
    if kind == 14:
        return "POST", path, {"Content-Type": "application/json"}, b'{"image": "' + b"A" * 5 + b'"' + b"}" * 3
    return "POST", path, {"Content-Type": "application/json"}, b'{"image": "' + base64.b64encode(
        rng.randbytes(300)).replace(b"=", b"") + b'"}'


def garbage_http(port: int, rng: random.Random) -> None:
    """Raw bytes that are not HTTP at all, or broken HTTP: the server must shrug them off."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(rng.choice([b"\x00\xff" * 50 + b"\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                                 b"POST /v1/detect HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                 b"BREW /coffee HTCPCP/1.0\r\n\r\n"]))
        try:
            sock.recv(1024)
        except OSError:
            pass


def flood(port: int, jpeg: bytes, png: bytes, total: int, seed: int) -> tuple[int, list, list]:
    """Send ``total`` malformed requests from CLIENTS keep-alive clients; (answered, 5xx, non-JSON errors)."""
    server_errors, non_json, counts = [], [], [0] * CLIENTS

    def client(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(total // CLIENTS):
            if i % 250 == 0:
                garbage_http(port, rng)
            method, path, headers, body = malformed(rng, jpeg, png)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            counts[index] += 1
            if resp.status >= 500:
                server_errors.append((resp.status, method, path, payload[:200]))
            elif resp.status >= 400 and not payload.startswith(b'{"error"'):
                non_json.append((resp.status, path, payload[:100]))
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return sum(counts), server_errors, non_json


def test_ten_thousand_malformed_requests(shared, tmp_path):
    jpeg = (shared / "images" / "s_l.jpg").read_bytes()
    png = (shared / "images" / "newton.png").read_bytes()
    # The result cache off: RSS must stay flat, and the cache would keep up to cache.max_mb of the variants.
    config = tmp_path / "no-cache.yaml"
    config.write_text("cache:\n  enabled: false\n")
    srv = ServerProcess(shared / "models" / "scrfd_500m_bnkps.onnx", "--config", str(config))
    try:
        srv.wait_ready()
        # Warm up with the same mix, so that allocator pools and per-shape engine buffers reach
        # their working size first (RSS plateaus after ~1000 such requests; a leak would keep growing).
        flood(srv.port, jpeg, png, 1000, seed=1)
        rss_before = rss_kb(srv.proc.pid)
        answered, server_errors, non_json = flood(srv.port, jpeg, png, TOTAL, seed=2)
        rss_after = rss_kb(srv.proc.pid)
        health = requests.get(srv.url + "/health", timeout=5)
        ok = requests.post(srv.url + "/v1/detect", data=jpeg, headers={"Content-Type": "image/jpeg"}, timeout=30)
    finally:
        assert srv.stop() == 0
    assert answered >= TOTAL * 0.99, answered
    assert server_errors == [] and non_json == [], (server_errors[:3], non_json[:3])
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ok.status_code == 200 and ok.json()["count"] == 2
    assert rss_after <= rss_before * 1.10, (rss_before, rss_after)
    print(f"\n{answered} malformed requests, 0 server errors, RSS {rss_before} -> {rss_after} kB "
          f"({(rss_after / rss_before - 1) * 100:+.1f}%)")
