"""What the decoder needs from a plain JPEG's header, read without Pillow's marker parser.

Pillow's ``Image.open`` parses every header segment in Python, quantisation and Huffman tables included, and
with its EXIF read that is several times slower than libjpeg-turbo's own header read (simplejpeg) when the
caches are cold after an engine run (docs/performance.md). The EXIF orientation comes from the first APP1
``Exif`` segment, found by walking the segment headers up to the first scan, and is read by Pillow's EXIF
parser. Anything else is left to Pillow, as before: XMP (Pillow also takes an orientation from it),
multi-picture files (Pillow's MPO plugin), CMYK, and any header that is not laid out as expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import simplejpeg
from PIL import ExifTags, Image

_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # TEM, RST0-7 and SOI carry no length


@dataclass(frozen=True)
class JpegHeader:
    """A JPEG's stored size, whether it is greyscale, and its EXIF orientation (1-8; 1 is upright)."""

    width: int
    height: int
    grey: bool
    orientation: int = 1


def plain_jpeg_header(data: bytes) -> JpegHeader | None:
    """The header of a YCbCr, RGB or greyscale JPEG whose only APP1 segment is EXIF, or None (ask Pillow)."""
    segment = exif_segment(data)
    if segment is None:
        return None
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if colorspace not in ("YCbCr", "RGB", "Gray") or width < 1 or height < 1:
        return None
    return JpegHeader(width, height, colorspace == "Gray", exif_orientation(segment))


def exif_segment(data: bytes) -> bytes | None:
    """The payload of the first APP1 ``Exif`` segment before the first scan (``b""`` when there is none), or
    None when the header holds something only Pillow should judge, or is not laid out as expected."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos, end, found = 2, len(data), b""
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the header is over
            return found
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            return None
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1:
            if not body.startswith(b"Exif\x00\x00"):
                return None  # XMP or another APP1
            found = found or body  # the first one counts, as for Pillow
        elif marker == 0xE2 and body.startswith(b"MPF\x00"):
            return None
        pos += 2 + length
    return None


def exif_orientation(segment: bytes) -> int:
    """The Orientation tag of an EXIF segment's first IFD; 1 when there is none, or the segment is corrupt."""
    if not segment:
        return 1
    try:
        exif = Image.Exif()
        exif.load(segment)
        return int(exif.get(ExifTags.Base.Orientation, 1))
    except Exception:  # a corrupt EXIF block must not cost the whole image
        return 1
