"""A real `hailo-scrfd serve` process on 127.0.0.1, driven over HTTP with real photos."""

import base64
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from hailo_scrfd.vision.decode import decode_image, decode_image_reduced

from support.server import ServerProcess, clean_env

pytestmark = pytest.mark.e2e

EXPECTED = {"t1.jpg": 6, "selfie.jpg": 151, "solvay_conference_1927.png": 29, "gauss.png": 1, "newton.png": 1,
            "s_l.jpg": 2, "aligned_112_tom_hanks.png": 0}  # the reference's counts (fixed mode, full decode)
# A close-up the single pass misses: fast mode's rescue pass finds it over HTTP (issue 11).
RESCUED = {"aligned_112_tom_hanks.png": 1}
BORDERLINE = {"selfie.jpg"}  # a crowd with many faces near the threshold: decoders and modes flip a few
MIME = {"jpg": "image/jpeg", "png": "image/png"}


@pytest.fixture(scope="module")
def photos(shared):
    return {name: (shared / "images" / name).read_bytes() for name in EXPECTED}


@pytest.fixture(scope="module")
def in_process(model, photos):
    """What the default pipeline (fit mode, reduced JPEG decode) finds in-process, per photo."""
    out = {}
    for name, data in photos.items():
        pixels, original = decode_image_reduced(data, max_pixels=10**8, long_side=640)
        out[name] = len(model.detect_faces(pixels, original_size=original).faces)
    return out


def post_raw(url, name, data, path="/v1/detect", session=requests):
    return session.post(url + path, data=data, headers={"Content-Type": MIME[name.rsplit(".", 1)[1]]}, timeout=60)


def test_health(server):
    body = requests.get(server.url + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["model"]["loaded"] and body["model"]["name"] == "scrfd_2.5g_bnkps"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_photos_raw(server, photos, in_process, name):
    resp = post_raw(server.url, name, photos[name])
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == RESCUED.get(name, in_process[name])
    assert resp.json()["timings_ms"]["passes"] == (2 if name in RESCUED else 1)
    if name in BORDERLINE:
        assert abs(in_process[name] - EXPECTED[name]) <= 0.05 * EXPECTED[name]
    else:
        assert in_process[name] == EXPECTED[name]


def test_multipart_and_json_and_align(server, photos, in_process):
    resp = requests.post(server.url + "/v1/detect", files={"image": ("selfie.jpg", photos["selfie.jpg"])},
                         data={"threshold": "0.5"}, timeout=60)
    assert resp.status_code == 200 and resp.json()["count"] == in_process["selfie.jpg"]
    resp = requests.post(server.url + "/v1/align",
                         json={"image": "data:image/jpeg;base64," + base64.b64encode(photos["t1.jpg"]).decode()},
                         timeout=60)
    body = resp.json()
    assert resp.status_code == 200 and body["count"] == 6
    assert all(base64.b64decode(f["aligned"]["image"])[:4] == b"\x89PNG" for f in body["faces"])


def test_errors_over_real_http(server):
    resp = requests.post(server.url + "/v1/detect", data=b"\0" * (21 * 1024 * 1024),
                         headers={"Content-Type": "image/jpeg"}, timeout=60)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for _ in range(22):
            yield b"\0" * (1024 * 1024)
    resp = requests.post(server.url + "/v1/detect", data=chunks(), headers={"Content-Type": "image/jpeg"},
                         timeout=60)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    resp = requests.post(server.url + "/v1/detect", data=b"not an image", headers={"Content-Type": "image/png"},
                         timeout=10)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_image"
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


def test_heic_and_avif_over_real_http(server, photos):
    """iPhone- and web-style files made from t1.jpg at run time: a HEIC stored sideways with orientation 6 (sent
    chunked), an AVIF; the faces of the JPEG's pixels, upright, within 1 px (tests/api/test_heif_api.py)."""
    from PIL import Image

    from ..api.test_heif_api import max_difference
    from ..unit.test_heif import encode

    upright = Image.fromarray(decode_image(photos["t1.jpg"], max_pixels=10**8))
    png = io.BytesIO()
    upright.save(png, "PNG")
    expected = requests.post(server.url + "/v1/detect", data=png.getvalue(), headers={"Content-Type": "image/png"},
                             timeout=60).json()["faces"]
    heic = encode(upright.transpose(Image.Transpose.ROTATE_90), "HEIF", 6)
    avif = encode(upright, "AVIF")
    for data, mime, chunked in ((heic, "image/heic", True), (avif, "image/avif", False), (heic, "", False)):
        body = iter([data[:1000], data[1000:]]) if chunked else data
        if mime:
            resp = requests.post(server.url + "/v1/detect", data=body, headers={"Content-Type": mime}, timeout=60)
        else:
            resp = requests.post(server.url + "/v1/detect", files={"image": ("IMG_0001.HEIC", data)}, timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.json()["image"] == {"width": 1280, "height": 886}
        assert max_difference(resp.json()["faces"], expected) < 1.0
    resp = requests.post(server.url + "/v1/detect", data=heic[:len(heic) // 2], headers={"Content-Type": "image/heic"},
                         timeout=60)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_image"


def test_8_threads_x_20_requests_all_correct(server, photos):
    """Every response carries its own image's faces: sizes and counts differ per image, so a crossed result shows."""
    names = ["t1.jpg", "s_l.jpg", "newton.png", "gauss.png"]
    baseline = {n: post_raw(server.url, n, photos[n]).json() for n in names}
    failures = []
    lock = threading.Lock()

    def client(worker):
        session = requests.Session()
        for i in range(20):
            name = names[(worker + i) % len(names)]
            resp = post_raw(server.url, name, photos[name], session=session)
            body = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else {}
            if (resp.status_code != 200 or body.get("image") != baseline[name]["image"]
                    or body.get("faces") != baseline[name]["faces"]):
                with lock:
                    failures.append((worker, i, name, resp.status_code, resp.text[:200]))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    assert failures == []


def test_sigterm_stops_cleanly(model_path, photos):
    srv = ServerProcess(model_path)
    try:
        srv.wait_ready()
        assert post_raw(srv.url, "t1.jpg", photos["t1.jpg"]).json()["count"] == 6
    finally:
        code = srv.stop()
    assert code == 0, srv.log()
    assert "server stopped" in srv.log() and "Traceback" not in srv.log()


def test_missing_model_exits_2_with_one_line(tmp_path):
    srv = ServerProcess(tmp_path / "absent.onnx")
    code = srv.proc.wait(60)
    log = srv.log().strip()
    srv.stop()
    assert code == 2
    assert log.splitlines()[-1] == f"hailo-scrfd: error: model file not found: {tmp_path / 'absent.onnx'}"
    assert "Traceback" not in log


def test_port_in_use_exits_1(server, model_path):
    other = ServerProcess(model_path, port=server.port)
    code = other.proc.wait(60)
    log = other.log()
    other.stop()
    assert code == 1 and "address already in use" in log and "Traceback" not in log


def test_model_from_environment(shared):
    srv = ServerProcess(None, env=clean_env(HAILO_SCRFD_MODEL=str(shared / "models" / "scrfd_500m_bnkps.onnx")))
    try:
        assert srv.wait_ready()["model"]["name"] == "scrfd_500m_bnkps"
    finally:
        assert srv.stop() == 0


def test_a_body_cut_short_is_a_400_and_the_server_carries_on(server, photos):
    """A client that sends fewer bytes than its Content-Length and then stops sending gets a JSON 400 that says
    so, never a 422 about a truncated image: the server read what came and knows it is not the whole body."""
    import socket

    data = photos["t1.jpg"]
    head = (f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + data[:50_000])
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 400 " in status_line, reply[:300]
    assert b'"bad_request"' in rest and f"after 50000 of its {len(data)} bytes".encode() in rest
    assert post_raw(server.url, "t1.jpg", data).json()["count"] == 6
