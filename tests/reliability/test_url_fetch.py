"""{"url": ...} bodies: off by default; when on, fenced by allow-lists, no redirects, deadlines and size limits."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hailo_scrfd.http.app import create_app


@pytest.fixture(scope="module")
def origin(shared):
    """A local image server on 127.0.0.1 with good and bad endpoints."""
    photo = (shared / "images" / "t1.jpg").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/t1.jpg":
                self._send(200, photo, {"Content-Type": "image/jpeg"})
            elif self.path == "/redirect":
                self._send(302, b"", {"Location": "/t1.jpg"})
            elif self.path == "/big":
                self._send(200, b"\0" * 1_000_000, {})
            elif self.path == "/endless":
                self.send_response(200)
                self.end_headers()
                for _ in range(200):  # 2 MB without a Content-Length
                    self.wfile.write(b"\0" * 10_000)
            elif self.path == "/slow":
                time.sleep(3)
                self._send(200, photo, {})
            else:
                self._send(404, b"no", {})

        def _send(self, status, body, headers):
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *_: None  # clients that hang up on /endless are the point of the test
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def client(app_factory):
    """This module's client fetches from the test's own HTTP server on 127.0.0.1."""
    return app_factory(url_fetch__enabled=True, url_fetch__allowed_schemes=("http",),
                       url_fetch__allowed_hosts=("127.0.0.1",), url_fetch__allow_private_addresses=True,
                       url_fetch__timeout_s=1.0, url_fetch__max_mb=0.5)


def error(resp):
    return resp.status_code, resp.get_json()["error"]["code"]


def test_off_by_default(model, origin):
    client = create_app(model.config, model).test_client()
    resp = client.post("/v1/detect", json={"url": origin + "/t1.jpg"})
    assert error(resp) == (400, "invalid_parameter") and "disabled" in resp.get_json()["error"]["message"]


def test_fetches_an_allowed_url(client, origin):
    body = client.post("/v1/detect", json={"url": origin + "/t1.jpg", "threshold": 0.5}).get_json()
    assert body["count"] == 6 and body["image"] == {"width": 1280, "height": 886}


@pytest.mark.parametrize("url,expected", [
    ("ftp://127.0.0.1/t1.jpg", (400, "invalid_parameter")),
    ("file:///etc/passwd", (400, "invalid_parameter")),
    ("http://localhost:{port}/t1.jpg", (400, "invalid_parameter")),        # host not allow-listed
    ("http://user:pw@127.0.0.1:{port}/t1.jpg", (400, "invalid_parameter")),  # credentials
    ("http://127.0.0.1:{port}/redirect", (422, "fetch_failed")),          # redirects are not followed
    ("http://127.0.0.1:{port}/missing", (422, "fetch_failed")),
    ("http://127.0.0.1:{port}/big", (413, "payload_too_large")),          # Content-Length over the limit
    ("http://127.0.0.1:{port}/endless", (413, "payload_too_large")),      # no Content-Length: counted
    ("http://127.0.0.1:1/t1.jpg", (422, "fetch_failed")),                 # nothing listens there
])
def test_refusals(client, origin, url, expected):
    resp = client.post("/v1/detect", json={"url": url.format(port=origin.rsplit(":", 1)[1])})
    assert error(resp) == expected, resp.get_json()


def test_slow_origin_is_cut_off(client, origin):
    start = time.monotonic()
    resp = client.post("/v1/detect", json={"url": origin + "/slow"})
    assert error(resp) == (422, "fetch_failed") and time.monotonic() - start < 2.5


def test_private_addresses_need_an_explicit_opt_in(model, origin):
    config = model.config.override(url_fetch__enabled=True, url_fetch__allowed_schemes=("http",),
                                   url_fetch__allowed_hosts=("127.0.0.1",))
    resp = create_app(config, model).test_client().post("/v1/detect", json={"url": origin + "/t1.jpg"})
    assert error(resp) == (400, "invalid_parameter") and "private" in resp.get_json()["error"]["message"]


def test_image_and_url_together_is_a_400(client, origin):
    assert error(client.post("/v1/detect", json={"url": origin + "/t1.jpg", "image": "aGk="}))[0] == 400
