"""Drawing, redaction and metadata-free encoding (hailo_scrfd.vision.draw), checked pixel by pixel on real photos."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.options import DetectOptions
from hailo_scrfd.vision import draw

# Photos from ../shared with faces from tiny (selfie, ~10 px) to large (gauss, ~400 px), and crowds.
REDACT_PHOTOS = ("t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg")
WIDER_CROWDS = ("2_Demonstration_Demonstration_Or_Protest_2_1.jpg", "5_Car_Accident_Accident_5_177.jpg",
                "23_Shoppers_Shoppers_23_10.jpg", "47_Matador_Bullfighter_matadorbullfighting_47_152.jpg")


@pytest.fixture(scope="module")
def wider_image(shared):
    def load(name: str) -> np.ndarray:
        path = next((shared / "widerface" / "WIDER_val" / "images").rglob(name))
        return decode_image(path.read_bytes(), max_pixels=10**8)
    return load


def region_mask(shape: tuple[int, ...], regions: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in regions:
        mask[y1:y2, x1:x2] = True
    return mask


def nearest_colour_error(image: np.ndarray, x: float, y: float, colour) -> int:
    """The smallest max-channel difference from ``colour`` among the pixels within 1 px of (x, y)."""
    cx, cy = int(round(x)), int(round(y))
    patch = image[max(cy - 1, 0):cy + 2, max(cx - 1, 0):cx + 2].reshape(-1, 3).astype(int)
    return int(np.abs(patch - np.asarray(colour)).max(axis=1).min())


def faces_inside(faces, regions: np.ndarray) -> np.ndarray:
    """Which detected faces have their centre inside any region."""
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    inside = ((centres[:, None, 0] >= regions[None, :, 0]) & (centres[:, None, 0] < regions[None, :, 2])
              & (centres[:, None, 1] >= regions[None, :, 1]) & (centres[:, None, 1] < regions[None, :, 3]))
    return inside.any(axis=1)


class TestRedact:
    @pytest.mark.parametrize("style", draw.REDACT_STYLES)
    @pytest.mark.parametrize("name", REDACT_PHOTOS + WIDER_CROWDS)
    def test_detector_finds_nothing_inside_and_nothing_else_changes(self, model, load_image, wider_image,
                                                                     name, style):
        image = wider_image(name) if name in WIDER_CROWDS else load_image(name)
        faces = model.detect_faces(image).faces
        assert len(faces) > 0
        out = draw.redact(image, faces.xyxy, style=style)
        regions = draw.redaction_regions(faces.xyxy, (image.shape[1], image.shape[0]))
        mask = region_mask(image.shape, regions)
        assert out.shape == image.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out[~mask], image[~mask])  # not one pixel outside the regions moves
        again = model.detect_faces(out, DetectOptions(threshold=0.5)).faces
        found = again[faces_inside(again, regions)]
        assert len(found) == 0, f"{len(found)} faces found again, scores {np.round(found.scores, 2)}"
        # Each region really changed: a face's own box is no longer what it was.
        for x1, y1, x2, y2 in np.round(faces.xyxy).astype(int):
            assert not np.array_equal(out[max(y1, 0):y2, max(x1, 0):x2], image[max(y1, 0):y2, max(x1, 0):x2])

    def test_regions_cover_the_box_with_margin_and_clip(self):
        boxes = np.array([[10.2, 20.7, 30.1, 60.0], [-5.0, -5.0, 4.0, 4.0], [90.0, 40.0, 130.0, 70.0]])
        regions = draw.redaction_regions(boxes, (100, 80), margin=0.3)
        assert regions.tolist() == [[4, 8, 37, 72], [0, 0, 7, 7], [78, 31, 100, 79]]
        tiny = draw.redaction_regions(np.array([[50.0, 50.0, 52.0, 52.0]]), (100, 100), margin=0.3)
        assert tiny.tolist() == [[49, 49, 53, 53]]  # at least one pixel around even a 2 px box

    def test_fill_paints_the_whole_region_one_colour(self, load_image):
        image = load_image("s_l.jpg")
        box = np.array([[100.0, 80.0, 160.0, 150.0]])
        out = draw.redact(image, box, style="fill", color=(255, 0, 255))
        x1, y1, x2, y2 = draw.redaction_regions(box, (image.shape[1], image.shape[0]))[0]
        assert (out[y1:y2, x1:x2] == (255, 0, 255)).all()
        np.testing.assert_array_equal(out[y1 - 1], image[y1 - 1])
        np.testing.assert_array_equal(out[:, x2], image[:, x2])

    def test_pixelate_leaves_few_blocks_and_small_faces_are_covered(self):
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
        big = draw.redact(image, np.array([[50.0, 50.0, 150.0, 150.0]]), style="pixelate", margin=0.0)
        block = big[49:151, 49:151].reshape(-1, 3)
        assert len(np.unique(block, axis=0)) <= 9  # 3 x 3 cells
        small = draw.redact(image, np.array([[10.0, 10.0, 16.0, 16.0]]), style="blur", margin=0.3)
        assert small[9:17, 9:17].std(axis=(0, 1)).max() < image[9:17, 9:17].std(axis=(0, 1)).min()

    def test_no_faces_is_an_unchanged_copy_and_input_untouched(self, load_image):
        image = load_image("t1.jpg")
        before = image.copy()
        out = draw.redact(image, np.zeros((0, 4)), style="blur")
        assert out is not image and np.array_equal(out, image)
        draw.redact(image, np.array([[10.0, 10.0, 200.0, 200.0]]), style="pixelate")
        assert np.array_equal(image, before)

    def test_bad_arguments(self):
        image = np.zeros((10, 10, 3), np.uint8)
        with pytest.raises(ValueError, match="style"):
            draw.redact(image, np.zeros((0, 4)), style="smudge")
        with pytest.raises(ValueError, match="uint8"):
            draw.redact(image.astype(np.float32), np.zeros((0, 4)))
        with pytest.raises(ValueError, match="margin"):
            draw.redaction_regions(np.zeros((1, 4)), (10, 10), margin=-1)


class TestAnnotate:
    def test_boxes_landmarks_and_scores_are_drawn_where_the_faces_are(self, model, load_image):
        image = load_image("t1.jpg")
        faces = model.detect_faces(image).faces
        out = draw.annotate(image, faces.xyxy, faces.scores, faces.landmarks)
        assert out.shape == image.shape and not np.array_equal(out, image)
        self._check_drawn(out, image, faces.xyxy, faces.landmarks, scale=1.0)
        # Each score sits on a dark tab right above its box.
        for x1, y1, _, _ in np.round(faces.xyxy).astype(int):
            tab = out[max(0, y1 - 12):y1 - 3, x1:x1 + 20]
            assert (tab == draw.OUTLINE_COLOR).all(axis=-1).mean() > 0.3
            assert (tab == draw.LABEL_TEXT_COLOR).all(axis=-1).any()

    def test_max_side_scales_the_picture_and_the_coordinates(self, model, load_image):
        image = load_image("solvay_conference_1927.png")  # 3000 x 2171
        faces = model.detect_faces(image).faces
        # Without scores, so that no label tab of a face below covers a box above (as in this group photo).
        out = draw.annotate(image, faces.xyxy, None, faces.landmarks, max_side=800)
        assert max(out.shape[:2]) == 800 and out.shape[:2] == (579, 800)
        resized, scale = draw.fit_max_side(image, 800)
        assert scale == pytest.approx(800 / 3000)
        self._check_drawn(out, resized, faces.xyxy * scale, faces.landmarks * scale, scale=scale)
        assert draw.annotate(image[:100, :100], np.zeros((0, 4)), max_side=800).shape == (100, 100, 3)  # no upscale

    @staticmethod
    def _check_drawn(out, base, boxes, landmarks, scale):
        changed = (out != base).any(axis=-1)
        for x1, y1, x2, y2 in boxes:
            # The middle of each box edge is painted in the box colour, within a pixel (antialiasing).
            for x, y in (((x1 + x2) / 2, y1), ((x1 + x2) / 2, y2), (x1, (y1 + y2) / 2), (x2, (y1 + y2) / 2)):
                assert nearest_colour_error(out, x, y, draw.BOX_COLOR) < 40, (x, y)
        for face in landmarks:
            for (x, y), color in zip(face, draw.LANDMARK_COLORS, strict=True):
                assert nearest_colour_error(out, x, y, color) < 40, (x, y, color)
        # Far from every face nothing is painted.
        margin = 0.6 * max(1.0, (boxes[:, 2:] - boxes[:, :2]).max()) if len(boxes) else 0
        near = np.zeros(changed.shape, bool)
        for x1, y1, x2, y2 in boxes:
            near[max(0, int(y1 - margin)):int(y2 + margin), max(0, int(x1 - margin)):int(x2 + margin)] = True
        assert not changed[~near].any()

    def test_mismatched_arrays_are_refused(self):
        image = np.zeros((20, 20, 3), np.uint8)
        with pytest.raises(ValueError, match="scores"):
            draw.annotate(image, np.zeros((2, 4)), np.zeros(3))
        with pytest.raises(ValueError, match="landmarks"):
            draw.annotate(image, np.zeros((2, 4)), None, np.zeros((2, 4, 2)))

    def test_grey_input_gives_rgb(self):
        out = draw.annotate(np.full((50, 60), 128, np.uint8), np.array([[10.0, 10.0, 40.0, 40.0]]), np.array([0.9]))
        assert out.shape == (50, 60, 3)


def jpeg_markers(data: bytes) -> list[int]:
    """The JPEG segment markers up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while pos < len(data):
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(data[pos + 4:pos + 8 + length]) == crc
        chunks.append(kind)
        pos += 12 + length
    return chunks


@pytest.fixture(scope="module")
def tagged_jpeg(shared) -> bytes:
    """t1.jpg re-saved with EXIF (orientation 6, GPS, camera), an ICC profile and a comment."""
    photo = Image.open(shared / "images" / "t1.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    icc = b"\x00" * 128  # presence is what matters
    buf = io.BytesIO()
    photo.save(buf, "JPEG", exif=exif, icc_profile=icc, comment=b"private note")
    return buf.getvalue()


class TestEncode:

    def test_the_tagged_input_really_carries_metadata(self, tagged_jpeg):
        markers = jpeg_markers(tagged_jpeg)
        assert 0xE1 in markers and 0xE2 in markers and 0xFE in markers

    def test_jpeg_output_has_no_metadata_and_is_upright(self, tagged_jpeg):
        pixels = decode_image(tagged_jpeg, max_pixels=10**8)
        assert pixels.shape[:2] == (1280, 886)  # orientation 6 applied: the EXIF-upright frame
        data = draw.encode_image(draw.redact(pixels, np.array([[100.0, 100.0, 200.0, 220.0]])), "jpeg")
        markers = jpeg_markers(data)
        assert set(markers) <= {0xE0, 0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA}, [hex(m) for m in markers]
        assert b"SecretCam" not in data and b"private note" not in data
        out = Image.open(io.BytesIO(data))
        assert out.size == (886, 1280) and not out.getexif() and "icc_profile" not in out.info

    def test_png_output_is_lossless_and_bare(self, load_image):
        pixels = load_image("s_l.jpg")
        data = draw.encode_image(pixels, "png")
        chunks = png_chunks(data)
        assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and set(chunks) == {b"IHDR", b"IDAT", b"IEND"}
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), pixels)

    def test_unknown_format(self):
        with pytest.raises(ValueError, match="format"):
            draw.encode_image(np.zeros((4, 4, 3), np.uint8), "gif")
