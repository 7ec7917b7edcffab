"""POST /v1/draw and /v1/redact through Flask's test client with the real ONNX model, checked pixel by pixel:
the drawn boxes sit where /v1/detect says, redacted faces are gone for the detector, nothing else changes,
and no metadata of the upload survives."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from hailo_scrfd.http.pictures import redact_defaults
from hailo_scrfd.options import DetectOptions, RedactOptions, RenderOptions
from hailo_scrfd.vision import draw
from hailo_scrfd.vision.decode import decode_image
from support.faces import faces_from_json

PHOTOS = ("t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "s_l.jpg")


@pytest.fixture(scope="module")
def photo(shared):
    return lambda name: (shared / "images" / name).read_bytes()


def detect(client, data: bytes, query: str = ""):
    resp = client.post(f"/v1/detect{query}", data=data, content_type="application/octet-stream")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return faces_from_json(resp.get_json()["faces"])


def picture(resp) -> np.ndarray:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return np.asarray(Image.open(io.BytesIO(resp.data)).convert("RGB"))


def region_mask(shape, regions) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in regions:
        mask[y1:y2, x1:x2] = True
    return mask


def outline(mask: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The mask's values along the 1-px rectangle through the rounded xyxy ``box`` (clipped to the image)."""
    height, width = mask.shape
    x1, y1, x2, y2 = np.round(box).astype(int)
    x1, x2 = np.clip([x1, x2], 0, width - 1)
    y1, y2 = np.clip([y1, y2], 0, height - 1)
    return np.concatenate([mask[y1, x1:x2 + 1], mask[y2, x1:x2 + 1], mask[y1:y2 + 1, x1], mask[y1:y2 + 1, x2]])


def exif_photo(pixels: np.ndarray) -> bytes:
    """A JPEG of ``pixels`` stored rotated, with EXIF orientation 6 (rotate 90 degrees clockwise to show),
    GPS and camera tags, an ICC profile and a comment: everything redaction must not let through."""
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(pixels, k=1)))  # 90 degrees counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6                                      # Orientation
    exif[0x010F], exif[0x0110] = "SecretCam", "Model X"   # Make, Model
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 17.0)}  # GPS IFD
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95, exif=exif, icc_profile=icc, comment=b"SecretComment")
    return out.getvalue()


def smallest_label_width() -> int:
    """The width of a score tab ("0.00") at the smallest font scale draw uses, padding and a pixel included."""
    (width, height), _ = cv2.getTextSize("0.00", cv2.FONT_HERSHEY_SIMPLEX, draw.MIN_LABEL_SCALE, 1)
    return width + 2 * max(1, round(height * 0.25)) + 2


class TestDraw:
    @pytest.mark.parametrize("name", PHOTOS)
    def test_boxes_are_drawn_where_detect_says_and_nothing_far_from_them_changes(self, client, photo, name):
        data = photo(name)
        faces = detect(client, data)
        assert len(faces) > 0
        out = picture(client.post("/v1/draw?format=png", data=data, content_type="application/octet-stream"))
        original = decode_image(data, max_pixels=10**8)
        assert out.shape == original.shape
        on_colour = np.abs(out.astype(int) - draw.BOX_COLOR).max(axis=2) <= 2
        # Each box's outline runs in the box colour where /v1/detect puts it. In a crowd, the boxes, dots and
        # score labels drawn later cover parts of earlier outlines: most of each, and nearly all in sum, shows.
        visible = np.array([outline(on_colour, box).mean() for box in faces.xyxy])
        assert visible.min() > 0.4 and visible.mean() > 0.9, (name, visible.min(), visible.mean())
        # 8 px inside the outline (more than half the thickest line) is not the line.
        large = faces.xyxy[(faces.xyxy[:, 2:] - faces.xyxy[:, :2]).min(axis=1) > 24]
        shifted = np.array([outline(on_colour, box + [8, 8, -8, -8]).mean() for box in large])
        assert len(large) and shifted.mean() < 0.2, (name, shifted.mean())
        # Far from every box (and from the score label above it), every pixel is the decoded original's.
        grown = draw.redaction_regions(faces.xyxy, (out.shape[1], out.shape[0]), margin=0.6)
        grown[:, 1] = np.maximum(grown[:, 1] - 60, 0)
        # A small face's score tab, at the smallest readable size, can be wider than the face and its margin.
        reach = np.floor(faces.xyxy[:, 0]).astype(int) + smallest_label_width()
        grown[:, 2] = np.minimum(np.maximum(grown[:, 2], reach), out.shape[1])
        outside = ~region_mask(out.shape, grown)
        assert outside.mean() > 0.2
        assert np.array_equal(out[outside], original[outside])

    def test_max_side_scales_the_picture_and_the_boxes(self, client, photo):
        data = photo("t1.jpg")
        faces = detect(client, data)
        out = picture(client.post("/v1/draw", data=data, content_type="image/jpeg",
                                  query_string={"max_side": 640, "format": "png"}))
        assert max(out.shape[:2]) == 640
        scale = 640 / 1280
        on_colour = np.abs(out.astype(int) - draw.BOX_COLOR).max(axis=2) <= 2
        assert np.mean([outline(on_colour, box).mean() for box in faces.xyxy * scale]) > 0.9

    def test_exif_rotated_upload_is_drawn_upright(self, client, photo):
        upright = decode_image(photo("t1.jpg"), max_pixels=10**8)
        rotated = exif_photo(upright)
        out = picture(client.post("/v1/draw", data=rotated, content_type="image/jpeg"))
        assert out.shape == upright.shape
        a = detect(client, rotated).xyxy
        b = detect(client, photo("t1.jpg")).xyxy
        assert len(a) == len(b) and np.abs(np.sort(a, axis=0) - np.sort(b, axis=0)).max() < 6

    @pytest.mark.parametrize("accept, query, media", [
        (None, "", "image/jpeg"), ("image/png", "", "image/png"), ("*/*", "", "image/jpeg"),
        ("image/png;q=0.5, image/jpeg", "", "image/jpeg"), ("image/jpeg;q=0.2, image/png", "", "image/png"),
        ("image/png", "?format=jpg", "image/jpeg"), (None, "?format=png", "image/png"),
    ])
    def test_format_from_parameter_else_accept(self, client, photo, accept, query, media):
        headers = {"Accept": accept} if accept else {}
        resp = client.post(f"/v1/draw{query}", data=photo("t1.jpg"), content_type="image/jpeg", headers=headers)
        assert resp.status_code == 200 and resp.mimetype == media
        assert Image.open(io.BytesIO(resp.data)).format == {"image/jpeg": "JPEG", "image/png": "PNG"}[media]
        assert resp.headers["X-Face-Count"] == "6"
        assert "inference;dur=" in resp.headers["Server-Timing"]

    def test_same_input_forms_and_parameters_as_detect(self, client, photo):
        data = photo("t1.jpg")
        as_json = client.post("/v1/draw", json={"image": base64.b64encode(data).decode(), "threshold": 0.8,
                                                "format": "png"})
        as_form = client.post("/v1/draw", data={"image": (io.BytesIO(data), "t1.jpg"), "threshold": "0.8",
                                                "format": "png"})
        expected = str(len(detect(client, data, "?threshold=0.8")))
        assert as_json.headers["X-Face-Count"] == as_form.headers["X-Face-Count"] == expected
        assert np.array_equal(picture(as_json), picture(as_form))

    @pytest.mark.parametrize("path", ["/v1/draw", "/v1/redact"])
    @pytest.mark.parametrize("query, code", [
        ("?format=gif", "invalid_parameter"), ("?max_side=-1", "invalid_parameter"),
        ("?style=swirl", "invalid_parameter"), ("?size=112", "invalid_parameter"),
    ])
    def test_bad_parameters_are_400_json(self, client, photo, path, query, code):
        resp = client.post(path + query, data=photo("t1.jpg"), content_type="image/jpeg")
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == code

    def test_draw_has_no_style_and_no_batches(self, client, photo):
        data = photo("t1.jpg")
        assert client.post("/v1/draw?style=blur", data=data, content_type="image/jpeg").status_code == 400
        resp = client.post("/v1/draw", json={"images": [base64.b64encode(data).decode()]})
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "missing_image"
        resp = client.post("/v1/redact", data={"images": (io.BytesIO(data), "a.jpg")})
        assert resp.status_code == 400

    def test_a_query_value_the_form_overrides_must_still_be_valid(self, client, photo):
        resp = client.post("/v1/redact?style=swirl", data={"image": (io.BytesIO(photo("t1.jpg")), "a.jpg"),
                                                          "style": "fill"})
        assert resp.status_code == 400 and "'style'" in resp.get_json()["error"]["message"]

    def test_not_an_image_is_422_json(self, client):
        resp = client.post("/v1/draw", data=b"<svg>not an image</svg>", content_type="image/png")
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_image"


class TestRedact:
    @pytest.mark.parametrize("style", draw.REDACT_STYLES)
    @pytest.mark.parametrize("name", PHOTOS)
    def test_detector_finds_nothing_inside_and_nothing_else_changes(self, client, photo, name, style):
        data = photo(name)
        faces = detect(client, data, "?mode=full")  # redaction's own default mode
        assert len(faces) > 0
        resp = client.post("/v1/redact", data=data, content_type="application/octet-stream",
                           query_string={"style": style, "format": "png"})
        out = picture(resp)
        assert resp.headers["X-Face-Count"] == str(len(faces))
        original = decode_image(data, max_pixels=10**8)
        assert out.shape == original.shape
        regions = draw.redaction_regions(faces.xyxy, (out.shape[1], out.shape[0]))
        covered = region_mask(out.shape, regions)
        assert np.array_equal(out[~covered], original[~covered])  # outside the regions: unchanged
        assert not np.array_equal(out[covered], original[covered])
        if style == "fill":
            assert (out[covered] == 0).all()
        # The detector, run on the redacted picture in full mode at the default threshold, finds no face in any
        # region.
        png = io.BytesIO()
        Image.fromarray(out).save(png, "PNG")
        found = detect(client, png.getvalue(), "?mode=full")
        centres = (found.xyxy[:, :2] + found.xyxy[:, 2:]) / 2
        inside = [(x1 <= cx < x2 and y1 <= cy < y2) for cx, cy in centres for x1, y1, x2, y2 in regions]
        assert not any(inside), (name, style, found.scores)

    def test_metadata_is_stripped_and_the_picture_is_upright(self, client, photo):
        upright = decode_image(photo("t1.jpg"), max_pixels=10**8)
        rotated = exif_photo(upright)
        source = Image.open(io.BytesIO(rotated))
        assert source.getexif().get(0x0112) == 6 and "icc_profile" in source.info  # the upload has them
        for fmt in ("jpeg", "png"):
            resp = client.post(f"/v1/redact?format={fmt}", data=rotated, content_type="image/jpeg")
            assert resp.status_code == 200
            out = Image.open(io.BytesIO(resp.data))
            assert (out.height, out.width) == upright.shape[:2]
            assert not out.getexif() and not {"exif", "icc_profile", "xmp", "comment", "dpi"} & set(out.info)
            for secret in (b"Exif", b"SecretCam", b"SecretComment", b"GPS", b"ICC_PROFILE", b"eXIf", b"iCCP"):
                assert secret not in resp.data, (fmt, secret)

    def test_max_side_applies_to_the_redacted_picture(self, client, photo):
        resp = client.post("/v1/redact", data=photo("solvay_conference_1927.png"), content_type="image/png",
                           query_string={"max_side": 1000})
        out = picture(resp)
        assert max(out.shape[:2]) == 1000 and resp.mimetype == "image/jpeg"


def test_redact_default_mode_is_full_and_a_request_may_choose(client, photo, monkeypatch):
    """/v1/redact detects with mode full unless the request names a mode; /v1/draw keeps the service's."""
    assert redact_defaults(DetectOptions(threshold=0.3)) == DetectOptions(threshold=0.3, mode="full")
    seen = []
    pipeline = client.application.extensions["hailo_scrfd"].pipeline
    real = pipeline.find
    monkeypatch.setattr(pipeline, "find", lambda image, options, quality, **kw: seen.append(options.mode)
                        or real(image, options, quality, **kw))
    data = photo("t1.jpg")
    for path in ("/v1/redact", "/v1/redact?mode=fast", "/v1/draw", "/v1/draw?mode=full"):
        pipeline.cache.clear()  # each request finds its faces (the cache would answer /v1/draw from the second)
        assert client.post(path, data=data, content_type="image/jpeg").status_code == 200
    assert seen == ["full", "fast", "fast", "full"]


def test_choices_agree_with_the_drawing_module():
    from hailo_scrfd.options import declarations
    assert declarations(RedactOptions)["style"]["choices"] == draw.REDACT_STYLES
    assert declarations(RenderOptions)["format"]["choices"] == draw.IMAGE_FORMATS
