"""Unusual but valid images go all the way through /v1/detect and /v1/align with a 200."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image




@pytest.fixture(scope="module")
def face(shared):
    return Image.open(shared / "images" / "t1.jpg").convert("RGB")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def cases(face):
    grey16 = Image.fromarray((np.asarray(face.convert("L"), dtype=np.uint16) * 257))
    frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "animated GIF (first frame)": ("image/gif", gif.getvalue(), 6),
        "CMYK JPEG": ("image/jpeg", encode(face.convert("CMYK"), "JPEG", quality=95), 6),
        "16-bit greyscale PNG": ("image/png", encode(grey16, "PNG"), 6),
        "palette PNG": ("image/png", encode(face.convert("P"), "PNG"), None),
        "RGBA PNG": ("image/png", encode(face.convert("RGBA"), "PNG"), 6),
        "1x1": ("image/png", encode(Image.new("RGB", (1, 1)), "PNG"), 0),
        "20000x10": ("image/png", encode(Image.new("RGB", (20000, 10), (200, 180, 160)), "PNG"), 0),
        "10x20000": ("image/jpeg", encode(Image.new("RGB", (10, 20000), (200, 180, 160)), "JPEG"), 0),
    }


@pytest.mark.parametrize("path", ["/v1/detect", "/v1/align"])
def test_unusual_images(client, face, path):
    for name, (mime, data, expected) in cases(face).items():
        resp = client.post(path, data=data, content_type=mime)
        assert resp.status_code == 200, (name, resp.get_data(as_text=True)[:200])
        body = resp.get_json()
        if expected is not None:
            assert body["count"] == expected, (name, body["count"])
        else:
            assert body["count"] >= 4, name  # a 256-colour palette costs a little accuracy
        width, height = body["image"]["width"], body["image"]["height"]
        for f in body["faces"]:
            x, y, w, h = f["bbox"]
            assert 0 <= x and 0 <= y and x + w <= width + 1e-3 and y + h <= height + 1e-3, name
