"""HEIC, HEIF and AVIF through the service (Flask's test client, the real ONNX model), made at run time from the
../shared photos: the faces of the JPEG's own pixels, in upright coordinates, in every input form.

Tolerance: re-encoded at quality 95 (x265 'ultrafast', libaom speed 8, as here), t1.jpg and s_l.jpg give the faces
of the JPEG's decoded pixels (sent as a lossless PNG) within 0.12 px (HEIC) and 0.27 px (AVIF), box corners and
landmarks, upright or stored sideways with orientation 6 or 8 (x265 and libaom at their default speeds: 0.20 and
0.37 px; a lossless 4:4:4 HEIC: 0.008 px); the tests allow 1 px.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from hailo_scrfd.vision.decode import decode_image

from ..unit.test_heif import encode

PHOTOS = {"t1.jpg": 6, "s_l.jpg": 2}
TOLERANCE_PX = 1.0
MIME = {"HEIF": "image/heic", "AVIF": "image/avif"}
# Stored sideways; the orientation tag (irot/imir, and EXIF) shows it upright again.
STORED = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.fixture(scope="module")
def upright(shared) -> dict[str, Image.Image]:
    """Each photo's decoded JPEG pixels: the reference every re-encoding is compared with."""
    return {name: Image.fromarray(decode_image((shared / "images" / name).read_bytes(), max_pixels=10**8))
            for name in PHOTOS}


@pytest.fixture(scope="module")
def files(upright) -> dict[tuple[str, str, int], bytes]:
    """(photo, format, orientation) -> the file: every photo upright, t1 also stored sideways with its tag."""
    out = {(name, fmt, 1): encode(img, fmt) for name, img in upright.items() for fmt in MIME}
    for fmt in MIME:
        for orientation, stored in STORED.items():
            out["t1.jpg", fmt, orientation] = encode(upright["t1.jpg"].transpose(stored), fmt, orientation)
    return out


@pytest.fixture(scope="module")
def jpeg_faces(client, upright) -> dict[str, list[dict]]:
    out = {}
    for name, img in upright.items():
        png = io.BytesIO()
        img.save(png, "PNG")
        out[name] = faces(client.post("/v1/detect", data=png.getvalue(), content_type="image/png"))
    return out


def faces(resp) -> list[dict]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["faces"]


def points(face: dict) -> np.ndarray:
    x, y, w, h = face["bbox"]
    return np.array([[x, y], [x + w, y + h], *face["landmarks"].values()], dtype=np.float64)


def max_difference(got: list[dict], expected: list[dict]) -> float:
    """The largest coordinate difference, each expected face paired with the found face nearest to it."""
    assert len(got) == len(expected)
    found = [points(f) for f in got]
    return max(min(np.abs(p - q).max() for q in found) for p in map(points, expected))


@pytest.mark.parametrize("fmt", list(MIME))
@pytest.mark.parametrize("name", list(PHOTOS))
def test_raw_body_gives_the_jpegs_faces(client, files, jpeg_faces, name, fmt):
    got = faces(client.post("/v1/detect", data=files[name, fmt, 1], content_type=MIME[fmt]))
    assert len(got) == PHOTOS[name]
    assert max_difference(got, jpeg_faces[name]) < TOLERANCE_PX


@pytest.mark.parametrize("fmt", list(MIME))
@pytest.mark.parametrize("orientation", list(STORED))
def test_orientation_gives_upright_coordinates(client, files, jpeg_faces, fmt, orientation):
    resp = client.post("/v1/detect", data=files["t1.jpg", fmt, orientation], content_type=MIME[fmt])
    assert resp.get_json()["image"] == {"width": 1280, "height": 886}
    assert max_difference(faces(resp), jpeg_faces["t1.jpg"]) < TOLERANCE_PX


@pytest.mark.parametrize("fmt", list(MIME))
def test_every_input_form_and_content_type(client, files, jpeg_faces, fmt):
    data = files["t1.jpg", fmt, 1]
    mime = MIME[fmt]
    b64 = base64.b64encode(data).decode()
    responses = [
        client.post("/v1/detect", data={"image": (io.BytesIO(data), "IMG_0001." + fmt.lower())},
                    content_type="multipart/form-data"),
        client.post("/v1/detect", json={"image": b64}),
        client.post("/v1/detect", json={"image": f"data:{mime};base64,{b64}"}),
        client.post("/v1/detect", data=data, content_type="application/octet-stream"),
        client.post("/v1/detect", data=data, content_type="image/heif" if fmt == "HEIF" else "image/heic"),
        client.post("/v1/detect", data=data, content_type="image/jpeg"),  # the bytes say what they are
    ]
    for resp in responses:
        assert max_difference(faces(resp), jpeg_faces["t1.jpg"]) < TOLERANCE_PX


def test_batch_align_draw_and_redact(client, files):
    heic, avif = files["t1.jpg", "HEIF", 6], files["s_l.jpg", "AVIF", 1]
    batch = client.post("/v1/detect", json={"images": [base64.b64encode(d).decode() for d in (heic, avif)]})
    assert [entry["count"] for entry in batch.get_json()["results"]] == [6, 2]
    aligned = client.post("/v1/align", data=heic, content_type="image/heic")
    assert aligned.status_code == 200 and aligned.get_json()["count"] == 6
    for path in ("/v1/draw?format=png", "/v1/redact?format=png"):
        resp = client.post(path, data=heic, content_type="image/heic")
        assert resp.status_code == 200 and Image.open(io.BytesIO(resp.data)).size == (1280, 886)


@pytest.mark.parametrize("fmt", list(MIME))
def test_limits_and_broken_files_are_4xx(app_factory, client, files, fmt):
    data = files["t1.jpg", fmt, 1]
    resp = app_factory(limits__max_image_pixels=1_000_000).post("/v1/detect", data=data, content_type=MIME[fmt])
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "image_too_large"
    assert "1280x886 = 1134080 pixels" in resp.get_json()["error"]["message"]
    small = app_factory(server__max_body_mb=len(data) / 2 / 2**20)
    resp = small.post("/v1/detect", data=data, content_type=MIME[fmt])
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    for broken in (data[:100], data[:len(data) // 2], data[:64] + bytes(len(data) - 64)):
        resp = client.post("/v1/detect", data=broken, content_type=MIME[fmt])
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_image", resp.get_json()
