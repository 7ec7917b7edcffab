"""Image decoding: every input mode to RGB, EXIF orientation, corrupt data, pixel limits, base64 forms."""

import base64
import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import simplejpeg
from PIL import Image, ImageOps

from hailo_scrfd.errors import ImageTooLarge, InvalidBase64, InvalidImage, MissingImage
from hailo_scrfd.vision.decode import decode_base64_image, decode_image, decode_image_reduced, decode_into_canvas

LIMIT = 40_000_000


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w=64, h=48) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w)[None]
    arr[..., 1] = np.linspace(0, 255, h)[:, None]
    arr[..., 2] = 128
    return Image.fromarray(arr)


class TestBase64:
    payload = bytes(range(256)) * 3

    @pytest.mark.parametrize("transform", [
        lambda b: base64.b64encode(b).decode(),
        lambda b: "data:image/jpeg;base64," + base64.b64encode(b).decode(),
        lambda b: "DATA:image/png;charset=utf-8;base64," + base64.b64encode(b).decode(),
        lambda b: "\n".join(base64.encodebytes(b).decode().split("\n")) + "  \n",
        lambda b: base64.urlsafe_b64encode(b).decode(),
        lambda b: base64.b64encode(b).decode().rstrip("="),
    ], ids=["plain", "data-uri", "data-uri-params", "whitespace", "urlsafe", "no-padding"])
    def test_accepted_forms(self, transform):
        assert decode_base64_image(transform(self.payload)) == self.payload

    def test_invalid(self):
        with pytest.raises(InvalidBase64):
            decode_base64_image("not base64 at all!!")
        with pytest.raises(InvalidBase64):
            decode_base64_image("QUJDR")  # impossible length
        with pytest.raises(MissingImage):
            decode_base64_image("data:image/png;base64,")


class TestModes:
    def test_rgb_formats_round_trip(self):
        src = np.asarray(gradient())
        for fmt in ("PNG", "BMP", "TIFF", "WEBP"):
            extra = {"lossless": True} if fmt == "WEBP" else {}
            out = decode_image(encode(gradient(), fmt, **extra), max_pixels=LIMIT)
            np.testing.assert_array_equal(out, src, err_msg=fmt)
        jpeg = decode_image(encode(gradient(), "JPEG", quality=95), max_pixels=LIMIT)
        assert jpeg.shape == (48, 64, 3) and np.abs(jpeg.astype(int) - src).mean() < 3

    @pytest.mark.parametrize("mode", ["L", "P", "1", "LA", "CMYK", "YCbCr", "I", "F"])
    def test_every_mode_becomes_rgb_uint8(self, mode):
        img = gradient().convert(mode) if mode not in ("I", "F") else gradient().convert("L").convert(mode)
        fmt = "TIFF" if mode in ("CMYK", "YCbCr", "I", "F") else "PNG"
        if mode == "YCbCr":
            fmt = "JPEG"
        out = decode_image(encode(img, fmt), max_pixels=LIMIT)
        assert out.dtype == np.uint8 and out.shape == (48, 64, 3)

    def test_cmyk_jpeg(self):
        out = decode_image(encode(gradient().convert("CMYK"), "JPEG", quality=95), max_pixels=LIMIT)
        assert out.shape == (48, 64, 3)
        assert abs(int(out[:, -1, 0].mean()) - 255) < 20  # the red ramp survives CMYK

    def test_16bit_png_keeps_top_bits(self):
        arr = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
        out = decode_image(encode(Image.fromarray(arr), "PNG"), max_pixels=LIMIT)
        np.testing.assert_array_equal(out[..., 0], (arr >> 8).astype(np.uint8))

    def test_transparency_becomes_black(self):
        rgba = Image.new("RGBA", (10, 10), (255, 255, 255, 0))
        rgba.putpixel((0, 0), (255, 255, 255, 255))
        out = decode_image(encode(rgba, "PNG"), max_pixels=LIMIT)
        assert out[0, 0].tolist() == [255] * 3 and out[5, 5].tolist() == [0] * 3

    def test_animated_gif_gives_first_frame(self):
        frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
        buf = io.BytesIO()
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
        out = decode_image(buf.getvalue(), max_pixels=LIMIT)
        assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50

    def test_exif_orientation_is_applied(self):
        img = gradient(64, 48)
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise on display
        out = decode_image(encode(img, "JPEG", exif=exif.tobytes()), max_pixels=LIMIT)
        assert out.shape == (64, 48, 3)

    @pytest.mark.parametrize("size", [(1, 1), (20000, 10)])
    def test_tiny_and_extreme_sizes(self, size):
        out = decode_image(encode(Image.new("RGB", size, (9, 9, 9)), "PNG"), max_pixels=LIMIT)
        assert out.shape == (size[1], size[0], 3)


def pillow_upright(data: bytes, reduce_to: tuple[int, int] | None = None) -> np.ndarray:
    """What Pillow alone makes of a JPEG: the reference for the libjpeg-turbo fast path."""
    image = Image.open(io.BytesIO(data))
    if reduce_to:
        image.draft(None, reduce_to)
    return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


class TestJpegFastPath:
    """Plain JPEGs decode through simplejpeg; the result must be exactly Pillow's."""

    def test_real_photo_is_bit_identical_to_pillow(self, shared):
        data = (shared / "images" / "t1.jpg").read_bytes()
        np.testing.assert_array_equal(decode_image(data, max_pixels=LIMIT), pillow_upright(data))
        pixels, original = decode_image_reduced(data, max_pixels=LIMIT, long_side=640)
        assert pixels.shape == (443, 640, 3) and original == (1280, 886)
        np.testing.assert_array_equal(pixels, pillow_upright(data, (640, 443)))

    @pytest.mark.parametrize("orientation", range(1, 9))
    @pytest.mark.parametrize("mode", ["RGB", "L"])
    def test_every_exif_orientation_matches_pillow(self, orientation, mode):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = encode(gradient(1600, 1000).convert(mode), "JPEG", quality=90, exif=exif.tobytes())
        np.testing.assert_array_equal(decode_image(data, max_pixels=LIMIT), pillow_upright(data))
        pixels, original = decode_image_reduced(data, max_pixels=LIMIT, long_side=640)
        transposed = orientation >= 5
        assert original == ((1000, 1600) if transposed else (1600, 1000))
        assert pixels.shape[:2] == ((800, 500) if transposed else (500, 800))  # 1/2: the long side stays >= 640
        assert pixels.ndim == (2 if mode == "L" else 3)
        expected = pillow_upright(data, (800, 500))
        np.testing.assert_array_equal(pixels, expected[..., 0] if mode == "L" else expected)

    def test_reduction_keeps_the_long_side(self):
        data = encode(gradient(4000, 3000), "JPEG", quality=80)
        pixels, original = decode_image_reduced(data, max_pixels=LIMIT, long_side=640)
        assert pixels.shape == (750, 1000, 3) and original == (4000, 3000)  # 1/4, not 1/8 (500 < 640)

    def test_decoded_straight_into_the_canvas_when_it_is_as_wide(self, shared):
        data = (shared / "images" / "t1.jpg").read_bytes()
        asked = []

        def canvas_hw(hw):
            asked.append(hw)
            return (448, 640)

        pixels, original, canvas = decode_into_canvas(data, max_pixels=LIMIT, long_side=640, canvas_hw=canvas_hw)
        assert asked == [(443, 640)] and original == (1280, 886) and canvas.shape == (448, 640, 3)
        assert np.shares_memory(pixels, canvas) and pixels.shape == (443, 640, 3)
        np.testing.assert_array_equal(canvas[:443], pillow_upright(data, (640, 443)))
        assert canvas[443:].max() == 0

    @pytest.mark.parametrize("case", ["narrower canvas", "resized", "rotated", "grey", "png"])
    def test_no_canvas_where_it_would_not_be_the_input(self, case):
        exif = Image.Exif()
        exif[0x0112] = 6 if case == "rotated" else 1
        image = gradient(1280, 720).convert("L" if case == "grey" else "RGB")
        data = encode(image, "PNG" if case == "png" else "JPEG", quality=90, exif=exif.tobytes())
        wanted = {"narrower canvas": (384, 608), "resized": None}.get(case, (384, 640))
        pixels, _, canvas = decode_into_canvas(data, max_pixels=LIMIT, long_side=640, canvas_hw=lambda hw: wanted)
        assert canvas is None
        np.testing.assert_array_equal(pixels, decode_image_reduced(data, max_pixels=LIMIT, long_side=640)[0])

    def test_corrupt_but_decodable_jpeg_is_left_to_pillow(self):
        data = bytearray(encode(gradient(256, 256), "JPEG", quality=90))
        data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64  # libjpeg only warns about this
        with pytest.raises(ValueError, match="Corrupt JPEG"):
            simplejpeg.decode_jpeg(bytes(data), strict=True)
        np.testing.assert_array_equal(decode_image(bytes(data), max_pixels=LIMIT), pillow_upright(bytes(data)))


class TestBadData:
    @pytest.mark.parametrize("data", [b"hello world", b"\x89PNG\r\n\x1a\n garbage", b"\xff\xd8\xff" + b"\0" * 50])
    def test_not_an_image(self, data):
        with pytest.raises(InvalidImage):
            decode_image(data, max_pixels=LIMIT)

    def test_empty(self):
        with pytest.raises(MissingImage):
            decode_image(b"", max_pixels=LIMIT)

    @pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
    def test_truncated(self, fmt):
        data = encode(gradient(256, 256), fmt)
        with pytest.raises(InvalidImage):
            decode_image(data[: len(data) // 2], max_pixels=LIMIT)

    def test_pixel_limit_is_checked_from_the_header(self):
        with pytest.raises(ImageTooLarge, match="over the limit"):
            decode_image(encode(Image.new("RGB", (100, 100)), "PNG"), max_pixels=9999)

    def test_decompression_bomb_is_refused_fast_without_decoding(self):
        # A valid PNG header claiming 100000 x 100000 pixels, with one tiny IDAT: ~100 bytes.
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
        tracemalloc.start()
        try:
            with pytest.raises(ImageTooLarge):
                decode_image(bomb, max_pixels=LIMIT)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 5_000_000  # decoding it would need 30 GB
