"""Unusual but valid images go all the way through /v1/detect and /v1/align with a 200."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


from ..unit.test_heif import declare_size, encode as encode_heif, register_writer



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
        **heif_cases(face),
    }


def heif_cases(face):
    """HEIC and AVIF as phones and browsers send them: rotated by their orientation, greyscale, with alpha,
    a burst whose primary image is not the first."""
    register_writer()
    burst = io.BytesIO()
    face.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(burst, "HEIF", save_all=True, append_images=[face],
                                                         primary_index=1, quality=90,
                                                         enc_params={"preset": "ultrafast"})
    return {
        "HEIC, orientation 6": ("image/heic", encode_heif(face.transpose(Image.Transpose.ROTATE_90), "HEIF", 6), 6),
        "AVIF, orientation 8": ("image/avif", encode_heif(face.transpose(Image.Transpose.ROTATE_270), "AVIF", 8), 6),
        "greyscale HEIC": ("image/heif", encode_heif(face.convert("L"), "HEIF"), 6),
        "RGBA AVIF": ("image/avif", encode_heif(face.convert("RGBA"), "AVIF"), 6),
        "HEIC burst (primary image second)": ("image/heic", burst.getvalue(), 6),
        "1x1 AVIF": ("image/avif", encode_heif(Image.new("RGB", (1, 1)), "AVIF"), 0),
    }


def hostile_heif(face):
    """Broken HEIC and AVIF files: each must get a 4xx JSON error, never a 5xx."""
    out = {}
    for fmt in ("HEIF", "AVIF"):
        data = encode_heif(face.resize((320, 222)), fmt)
        out.update({
            f"{fmt} cut at 30 bytes": data[:30], f"{fmt} cut in half": data[:len(data) // 2],
            f"{fmt} with its image data zeroed": data[:len(data) // 3] + bytes(len(data) - len(data) // 3),
            f"{fmt} declaring 100000x100000": declare_size(data, 100_000, 100_000),
            f"{fmt} declaring 0x0": declare_size(data, 0, 0),
            f"{fmt} declaring 60000x3": declare_size(data, 60_000, 3),
            f"{fmt} ftyp box alone": data[:data.index(b"meta") - 4] if b"meta" in data else data[:24],
        })
    return out


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


@pytest.mark.parametrize("mime", ["image/heic", "application/octet-stream"])
def test_hostile_heic_and_avif_get_a_4xx(client, face, mime):
    """A 422 with the reason; only zeroed image data may decode (HEVC and AV1 decoders conceal it: grey)."""
    for name, data in hostile_heif(face).items():
        resp = client.post("/v1/detect", data=data, content_type=mime)
        if resp.status_code == 200 and "zeroed" in name:
            continue
        assert resp.status_code == 422 and resp.is_json, (name, resp.status_code)
        code = resp.get_json()["error"]["code"]
        assert code == ("image_too_large" if name == "HEIF declaring 100000x100000" else "invalid_image"), name
