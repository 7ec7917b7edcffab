"""The JPEG header read without Pillow's parser: the same size, mode and orientation as Pillow's, and None
wherever Pillow must judge the file itself."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image

from hailo_scrfd.vision.jpeg import JpegHeader, exif_segment, plain_jpeg_header


def jpeg(mode="RGB", size=(96, 64), **save) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def pillow_says(data: bytes) -> JpegHeader:
    image = Image.open(io.BytesIO(data))
    return JpegHeader(image.width, image.height, image.mode == "L",
                      image.getexif().get(ExifTags.Base.Orientation, 1))


def exif_bytes(orientation: int, **tags) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    for tag, value in tags.items():
        exif[getattr(ExifTags.Base, tag)] = value
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_the_same_as_pillow(orientation, mode):
    data = jpeg(mode, (123, 45), exif=exif_bytes(orientation, Make="Cam", Model="X"))
    assert plain_jpeg_header(data) == pillow_says(data)


def test_no_exif_is_upright_and_an_icc_profile_is_skipped():
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for data in (jpeg(), jpeg(icc_profile=icc), jpeg(comment=b"hello", progressive=True)):
        assert plain_jpeg_header(data) == pillow_says(data) == JpegHeader(96, 64, False, 1)


def test_real_photos(shared):
    for path in sorted((shared / "images").glob("*.jpg")) + sorted((shared / "pose" / "images").glob("*.jpg"))[:20]:
        data = path.read_bytes()
        assert plain_jpeg_header(data) == pillow_says(data), path.name


def test_left_to_pillow():
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><tiff:Orientation>6</tiff:Orientation></x:xmpmeta>"
    plain = jpeg()
    with_xmp = plain[:2] + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + plain[2:]
    mpf = b"MPF\x00" + b"\0" * 20
    with_mpf = plain[:2] + b"\xff\xe2" + (len(mpf) + 2).to_bytes(2, "big") + mpf + plain[2:]
    for data in (jpeg("CMYK"), with_xmp, with_mpf, plain[:40], b"\xff\xd8\xff", b"GIF89a" + plain,
                 plain[:2] + b"\x00\x00" + plain[2:]):
        assert plain_jpeg_header(data) is None


def test_the_first_exif_segment_counts():
    first, second = exif_bytes(6), exif_bytes(3)
    plain = jpeg()
    segments = b"".join(b"\xff\xe1" + (len(e) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + e for e in (first, second))
    data = plain[:2] + segments + plain[2:]
    assert exif_segment(data).endswith(first)
    assert plain_jpeg_header(data).orientation == 6 == pillow_says(data).orientation


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_corrupt_exif_block_is_upright():
    plain = jpeg()
    junk = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff"
    data = plain[:2] + b"\xff\xe1" + (len(junk) + 2).to_bytes(2, "big") + junk + plain[2:]
    assert plain_jpeg_header(data) == JpegHeader(96, 64, False, 1)
