"""HEIC, HEIF and AVIF decoding (vision/heif.py): brands, orientation, the primary image, limits before decoding."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import AvifImagePlugin, Image

from hailo_scrfd.errors import ImageTooLarge, InvalidImage
from hailo_scrfd.vision.decode import decode_image, decode_image_reduced
from hailo_scrfd.vision.heif import container_format

LIMIT = 50_000_000
FORMATS = ["HEIF", "AVIF"]


def register_writer():
    import pillow_heif
    pillow_heif.register_heif_opener()  # for Image.save(..., "HEIF") in the tests; the service never registers it


def encode(img: Image.Image, fmt: str, orientation: int = 1, **kw) -> bytes:
    """HEIC (x265) or AVIF at high quality; ``orientation`` becomes irot/imir (and EXIF), as an iPhone writes."""
    register_writer()
    exif = Image.Exif()
    if orientation != 1:
        exif[274] = orientation
    buf = io.BytesIO()
    fast = {"enc_params": {"preset": "ultrafast"}} if fmt == "HEIF" else {"speed": 8}
    img.save(buf, fmt, quality=95, exif=exif.tobytes(), **{**fast, **kw})
    return buf.getvalue()


def scene(width=96, height=64) -> Image.Image:
    """A smooth gradient with a distinct corner, so that rotations and mirrors are told apart."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=2).astype(np.uint8)
    rgb[:16, :16] = (250, 20, 20)
    return Image.fromarray(rgb)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


@pytest.mark.parametrize("head,expected", [
    (ftyp(b"heic", b"mif1", b"heic"), "HEIF"), (ftyp(b"heix", b"mif1"), "HEIF"), (ftyp(b"mif1", b"heic"), "HEIF"),
    (ftyp(b"msf1", b"hevc"), "HEIF"), (ftyp(b"hevc", b"msf1"), "HEIF"), (ftyp(b"mif1", b"miaf"), "HEIF"),
    (ftyp(b"avif", b"mif1", b"miaf"), "AVIF"), (ftyp(b"avis", b"msf1"), "AVIF"), (ftyp(b"mif1", b"avif"), "AVIF"),
    (ftyp(b"isom", b"mp41"), None), (ftyp(b"qt  "), None), (b"\xff\xd8\xff", None),
])
def test_sniffed_by_the_ftyp_brands(head, expected):
    assert container_format(head + b"\0" * 16) == expected
    assert container_format(head[:15]) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_is_close_to_the_source(fmt):
    src = scene()
    pixels = decode_image(encode(src, fmt), max_pixels=LIMIT)
    assert pixels.shape == (64, 96, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - np.asarray(src)).mean() < 3


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation,stored", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                (3, Image.Transpose.ROTATE_180)])
def test_orientation_is_applied_once(fmt, orientation, stored):
    """Stored sideways with the tag that shows it upright: decoded upright (libheif applies irot itself and
    pillow-heif resets the EXIF tag; libavif does not, and Pillow applies it), never twice or not at all."""
    src = scene()
    data = encode(src.transpose(stored), fmt, orientation)
    pixels = decode_image(data, max_pixels=LIMIT)
    assert pixels.shape == (64, 96, 3)
    assert np.abs(pixels.astype(int) - np.asarray(src)).mean() < 3
    reduced, original = decode_image_reduced(data, max_pixels=LIMIT, long_side=48)
    assert original == (96, 64) and reduced.shape[:2] == (64, 96)


def test_a_burst_gives_its_primary_image():
    register_writer()
    first, primary = scene(), scene().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buf = io.BytesIO()
    first.save(buf, "HEIF", save_all=True, append_images=[primary], primary_index=1, quality=95,
               enc_params={"preset": "ultrafast"})
    pixels = decode_image(buf.getvalue(), max_pixels=LIMIT)
    assert np.abs(pixels.astype(int) - np.asarray(primary)).mean() < 3


def test_greyscale_and_alpha():
    grey = decode_image(encode(scene().convert("L"), "HEIF"), max_pixels=LIMIT)
    assert grey.shape == (64, 96, 3) and (grey[..., 0] == grey[..., 2]).all()
    rgba = scene().convert("RGBA")
    rgba.putalpha(0)
    for fmt in FORMATS:
        assert decode_image(encode(rgba, fmt), max_pixels=LIMIT).max() < 8  # transparent is black


@pytest.mark.parametrize("fmt", FORMATS)
def test_pixel_limit_is_checked_from_the_container_before_decoding(fmt, monkeypatch):
    data = encode(scene(), fmt)

    def no_decoding(self):
        raise AssertionError("pixels decoded before the limit was checked")
    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", no_decoding)
    from pillow_heif.as_plugin import HeifImageFile
    monkeypatch.setattr(HeifImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLarge, match="96x64 = 6144 pixels, over the limit of 6000"):
        decode_image(data, max_pixels=6000)


def declare_size(data: bytes, width: int, height: int) -> bytes:
    """The file with its ``ispe`` box (the image's declared size) rewritten."""
    at = data.index(b"ispe")
    return data[:at + 8] + struct.pack(">II", width, height) + data[at + 16:]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_declared_bomb_is_refused_without_decoding(fmt):
    data = declare_size(encode(scene(), fmt), 100_000, 100_000)
    with pytest.raises((ImageTooLarge, InvalidImage)):  # HEIC: our limit; AVIF: libavif's own (16384 x 16384)
        decode_image(data, max_pixels=LIMIT)
    with pytest.raises(ImageTooLarge):
        decode_image(declare_size(encode(scene(), fmt), 9000, 9000), max_pixels=LIMIT)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_and_corrupt_are_invalid_images(fmt):
    data = encode(scene(160, 120), fmt)
    for cut in (12, 20, 40, 100, 300, len(data) // 2):
        with pytest.raises(InvalidImage):
            decode_image(data[:cut], max_pixels=LIMIT)
    # Cut within its last bytes: libavif refuses it; libheif hands libde265 the short bitstream, which decodes it.
    for bad in (declare_size(data, 0, 0), declare_size(data, 1, 1), data[:40] + b"\xff" * (len(data) - 40),
                data[:-20], data[:-1]):
        try:
            decode_image(bad, max_pixels=LIMIT)
        except InvalidImage:
            pass


def test_the_reason_is_in_the_message():
    with pytest.raises(InvalidImage, match=r"^the HEIC/HEIF image cannot be read: .*\(Invalid input"):
        decode_image(ftyp(b"heic", b"mif1") + b"\0" * 64, max_pixels=LIMIT)
    with pytest.raises(InvalidImage, match=r"^the AVIF image cannot be read: .*\(Failed to decode image"):
        decode_image(ftyp(b"avif", b"mif1") + b"\0" * 64, max_pixels=LIMIT)
