"""The HTTP API through Flask's test client, with the real ONNX model: input forms, parameters, errors."""

import base64
import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from hailo_scrfd.vision.align import estimate_transform
from hailo_scrfd.http.app import create_app
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.runtime.model import SCRFDModel
from support.faces import faces_from_json

from hailo_scrfd.pipeline.response import LANDMARK_NAMES

T1_FACES = 6


@pytest.fixture(scope="module")
def t1_bytes(shared):
    return (shared / "images" / "t1.jpg").read_bytes()


def post_json(client, path, body, **kw):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json
    body = resp.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in body["error"]["message"]


class TestHealth:
    def test_ok(self, client, model):
        resp = client.get("/health")
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["status"] == "ok" and body["version"] and body["uptime_s"] >= 0
        assert body["model"] == {"name": "scrfd_2.5g_bnkps", "path": model.path,
                                 "backend": "onnxruntime:CPUExecutionProvider", "input_size": [640, 640],
                                 "loaded": True, "precision": {"precision": "fp32", "calibration": None}}

    def test_loading_and_error_are_503(self, shared, tmp_path):
        config = SCRFDServiceConfig().override(model__path=str(tmp_path / "missing.onnx"))
        unloaded = SCRFDModel(config)
        client = create_app(config, unloaded).test_client()
        resp = client.get("/health")
        assert resp.status_code == 503 and resp.get_json()["status"] == "loading"
        assert_error(client.post("/v1/detect", data=b"x", content_type="image/jpeg"), 503, "model_not_ready")
        with pytest.raises(ModelLoadError):
            unloaded.load()
        body = client.get("/health").get_json()
        assert body["status"] == "error" and "not found" in body["reason"] and body["model"]["loaded"] is False


class TestInputForms:
    def check_t1(self, resp):
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        assert body["count"] == T1_FACES == len(body["faces"])
        assert body["image"] == {"width": 1280, "height": 886}
        assert body["model"] == "scrfd_2.5g_bnkps" and body["backend"] == "onnxruntime:CPUExecutionProvider"
        assert {"decode", "inference", "postprocess", "total"} <= set(body["timings_ms"])
        scores = [f["score"] for f in body["faces"]]
        assert scores == sorted(scores, reverse=True)
        for face in body["faces"]:
            x, y, w, h = face["bbox"]
            assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1280 and y + h <= 886
            assert list(face["landmarks"]) == list(LANDMARK_NAMES)
            assert face["landmarks"]["left_eye"][0] < face["landmarks"]["right_eye"][0]
        return body

    def test_json_base64(self, client, t1_bytes):
        self.check_t1(post_json(client, "/v1/detect", {"image": b64(t1_bytes)}))

    def test_json_data_uri(self, client, t1_bytes):
        self.check_t1(post_json(client, "/v1/detect", {"image": "data:image/jpeg;base64," + b64(t1_bytes)}))

    def test_multipart(self, client, t1_bytes):
        resp = client.post("/v1/detect", data={"image": (io.BytesIO(t1_bytes), "t1.jpg")},
                           content_type="multipart/form-data")
        self.check_t1(resp)

    @pytest.mark.parametrize("fmt,mime", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
                                          ("BMP", "image/bmp"), ("TIFF", "image/tiff")])
    def test_raw(self, client, t1_bytes, fmt, mime):
        buf = io.BytesIO()
        Image.open(io.BytesIO(t1_bytes)).save(buf, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
        self.check_t1(client.post("/v1/detect", data=buf.getvalue(), content_type=mime))

    def test_all_forms_agree(self, client, t1_bytes):
        raw = client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg").get_json()
        js = post_json(client, "/v1/detect", {"image": b64(t1_bytes)}).get_json()
        assert raw["faces"] == js["faces"]


class TestParameters:
    def test_threshold(self, client, t1_bytes):
        strict = client.post("/v1/detect?threshold=0.9", data=t1_bytes, content_type="image/jpeg").get_json()
        assert 0 < strict["count"] < T1_FACES and all(f["score"] >= 0.9 for f in strict["faces"])
        loose = post_json(client, "/v1/detect", {"image": b64(t1_bytes), "threshold": 0.05}).get_json()
        assert loose["count"] >= T1_FACES

    def test_nms_threshold(self, client, t1_bytes):
        # At threshold 0.3 the default NMS leaves the 6 faces; at 0.95 their near-duplicates survive.
        merged = post_json(client, "/v1/detect", {"image": b64(t1_bytes), "threshold": 0.3}).get_json()
        kept = post_json(client, "/v1/detect", {"image": b64(t1_bytes), "threshold": 0.3,
                                                "nms_threshold": 0.95}).get_json()
        assert merged["count"] == T1_FACES and kept["count"] > T1_FACES

    def test_max_faces_keeps_largest(self, client, t1_bytes):
        all_faces = client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg").get_json()["faces"]
        areas = sorted((f["bbox"][2] * f["bbox"][3] for f in all_faces), reverse=True)
        two = client.post("/v1/detect", data={"image": (io.BytesIO(t1_bytes), "t1.jpg"), "max_faces": "2"},
                          content_type="multipart/form-data").get_json()
        assert two["count"] == 2
        assert sorted((f["bbox"][2] * f["bbox"][3] for f in two["faces"]), reverse=True) == areas[:2]
        assert [f["score"] for f in two["faces"]] == sorted((f["score"] for f in two["faces"]), reverse=True)

    def test_min_face_size(self, client, t1_bytes):
        body = post_json(client, "/v1/detect", {"image": b64(t1_bytes), "min_face_size": 105}).get_json()
        assert 0 < body["count"] < T1_FACES
        assert all(min(f["bbox"][2:]) >= 105 for f in body["faces"])

    def test_config_defaults_apply(self, app_factory, t1_bytes):
        client = app_factory(detection__max_faces=1)
        assert client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg").get_json()["count"] == 1


class TestAlign:
    def test_align_crops_and_transforms(self, client, t1_bytes):
        body = post_json(client, "/v1/align", {"image": b64(t1_bytes)}).get_json()
        assert body["count"] == T1_FACES and "align" in body["timings_ms"]
        for face in body["faces"]:
            aligned = face["aligned"]
            assert aligned["format"] == "png" and aligned["size"] == 112
            crop = cv2.imdecode(np.frombuffer(base64.b64decode(aligned["image"]), np.uint8), cv2.IMREAD_COLOR)
            assert crop.shape == (112, 112, 3)
            landmarks = np.array([face["landmarks"][n] for n in LANDMARK_NAMES])
            # Landmarks in the response are rounded, so compare where they land in the crop, not raw matrices.
            ours, recomputed = np.array(aligned["transform"]), estimate_transform(landmarks, 112)
            np.testing.assert_allclose(landmarks @ ours[:, :2].T + ours[:, 2],
                                       landmarks @ recomputed[:, :2].T + recomputed[:, 2], atol=0.01)

    @pytest.mark.parametrize("size", [224, 128, 256])
    def test_other_sizes_and_jpeg(self, client, t1_bytes, size):
        resp = client.post(f"/v1/align?size={size}&format=jpeg", data=t1_bytes, content_type="image/jpeg")
        face = resp.get_json()["faces"][0]["aligned"]
        data = base64.b64decode(face["image"])
        assert data[:2] == b"\xff\xd8" and face["size"] == size and face["format"] == "jpeg"
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (size, size, 3)

    @pytest.mark.parametrize("size", [100, 0, 2048, "abc"])
    def test_bad_size_is_400(self, client, t1_bytes, size):
        assert_error(client.post(f"/v1/align?size={size}", data=t1_bytes, content_type="image/jpeg"),
                     400, "invalid_parameter")

    def test_detect_rejects_align_fields(self, client, t1_bytes):
        assert_error(post_json(client, "/v1/detect", {"image": b64(t1_bytes), "size": 112}), 400, "invalid_parameter")


def test_no_face_image(client):
    buf = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, 112, dtype=np.uint8), (112, 1))).save(buf, "PNG")  # a grey ramp
    body = client.post("/v1/align", data=buf.getvalue(), content_type="image/png").get_json()
    assert body["count"] == 0 and body["faces"] == [] and body["image"] == {"width": 112, "height": 112}
    assert body["timings_ms"]["passes"] == 2  # nothing found: the rescue pass ran too, and found nothing either


def test_closeup_is_rescued_in_fast_mode(client, shared):
    """The already-aligned 112x112 crop fills the frame: the single pass misses it, the rescue pass finds it."""
    data = (shared / "images" / "aligned_112_tom_hanks.png").read_bytes()
    body = client.post("/v1/detect", data=data, content_type="image/png").get_json()
    assert body["count"] == 1 and [p["name"] for p in body["passes"]] == ["base", "rescue"]
    face = body["faces"][0]
    assert 0.4 * 112 < face["bbox"][2] <= 112 and face["landmarks"]["left_eye"][0] < face["landmarks"]["right_eye"][0]


def test_faces_round_trip_through_json(app_factory, t1_bytes, model, load_image):
    client = app_factory(performance__reduced_decode=False)  # the same pixels as load_image's full decode
    body = client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg").get_json()
    direct = model.detect_faces(load_image("t1.jpg")).faces
    parsed = faces_from_json(body["faces"])
    np.testing.assert_allclose(parsed.xyxy, direct.xyxy, atol=2e-3)
    np.testing.assert_allclose(parsed.landmarks, direct.landmarks, atol=2e-3)


class TestErrors:
    @pytest.mark.parametrize("body,code", [
        (b"{not json", "malformed_json"),
        (b"", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b'{"image": "aGk=", "threshold": NaN}', "malformed_json"),
        (b'{"threshold": 0.5}', "missing_image"),
        (b'{"image": 12}', "bad_request"),
        (b'{"image": "***"}', "invalid_base64"),
        (b'{"image": ""}', "missing_image"),
        (b'{"image": "aGk=", "threshold": "0.5"}', "invalid_parameter"),
        (b'{"image": "aGk=", "threshold": 1.5}', "invalid_parameter"),
        (b'{"image": "aGk=", "threshold": true}', "invalid_parameter"),
        (b'{"image": "aGk=", "max_faces": 2.5}', "invalid_parameter"),
        (b'{"image": "aGk=", "max_faces": -1}', "invalid_parameter"),
        (b'{"image": "aGk=", "max_faces": [1]}', "invalid_parameter"),
        (b'{"image": "aGk=", "nms_threshold": {"a": 1}}', "invalid_parameter"),
        (b'{"image": "aGk=", "treshold": 0.5}', "invalid_parameter"),
    ])
    def test_json_400s(self, client, body, code):
        assert_error(client.post("/v1/detect", data=body, content_type="application/json"), 400, code)

    def test_query_400s(self, client, t1_bytes):
        for query in ("threshold=abc", "threshold=inf", "max_faces=1.5", "min_face_size=-1", "foo=1",
                      "threshold=0.5&threshold=0.6"):
            assert_error(client.post(f"/v1/detect?{query}", data=t1_bytes, content_type="image/jpeg"),
                         400, "invalid_parameter")
        assert_error(post_json(client, "/v1/detect?threshold=2", {"image": b64(t1_bytes), "threshold": 0.5}),
                     400, "invalid_parameter")  # a bad query value is rejected even where the body overrides it

    def test_body_value_wins_over_the_query(self, client, t1_bytes):
        """A parameter in both places is schema-valid (OpenAPI cannot forbid it), so it is accepted, and the
        body's value is used (issue 10: this was a 400 before)."""
        one = post_json(client, "/v1/detect?max_faces=5", {"image": b64(t1_bytes), "max_faces": 1}).get_json()
        form = client.post("/v1/detect?max_faces=5", data={"image": (io.BytesIO(t1_bytes), "t1.jpg"),
                                                            "max_faces": "1"}, content_type="multipart/form-data")
        assert one["count"] == 1 and form.get_json()["count"] == 1

    def test_multipart_without_file(self, client):
        assert_error(client.post("/v1/detect", data={"threshold": "0.5"}, content_type="multipart/form-data"),
                     400, "missing_image")

    def test_empty_raw_body(self, client):
        assert_error(client.post("/v1/detect", data=b"", content_type="image/jpeg"), 400, "missing_image")

    def test_413(self, app_factory):
        client = app_factory(server__max_body_mb=0.01)
        assert_error(client.post("/v1/detect", data=b"\0" * 20000, content_type="image/jpeg"), 413,
                     "payload_too_large")

    def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413(self, app_factory):
        client = app_factory(server__max_body_mb=0.01)
        limit = int(0.01 * 1024 * 1024)
        assert_error(client.post("/v1/detect", data=b"\0" * limit, content_type="image/jpeg"), 422, "invalid_image")
        assert_error(client.post("/v1/detect", data=b"\0" * (limit + 1), content_type="image/jpeg"), 413,
                     "payload_too_large")

    def test_a_body_shorter_than_its_content_length_is_400(self, client, t1_bytes):
        short = t1_bytes[:1000]
        resp = client.post("/v1/detect", data=short, content_type="image/jpeg",
                           environ_overrides={"CONTENT_LENGTH": str(len(t1_bytes))})
        assert_error(resp, 400, "bad_request")
        assert f"after 1000 of its {len(t1_bytes)} bytes" in resp.get_json()["error"]["message"]

    def test_json_is_compact_utf8_in_order_with_a_final_newline(self, client, t1_bytes):
        resp = client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg")
        body = resp.get_data()
        assert resp.mimetype == "application/json" and body.endswith(b"}\n") and b": " not in body
        assert list(json.loads(body)) == ["faces", "count", "image", "model", "backend", "timings_ms", "passes"]

    @pytest.mark.parametrize("ctype", ["text/plain", "application/xml", None])
    def test_415(self, client, ctype):
        kw = {"content_type": ctype} if ctype else {}
        resp = client.post("/v1/detect", data=b"hello", **kw)
        assert_error(resp, 415, "unsupported_media_type")
        assert "(image/jpeg, png, webp, bmp, tiff, heic, heif, avif)" in resp.get_json()["error"]["message"]

    def test_422_not_an_image(self, client):
        assert_error(client.post("/v1/detect", data=b"hello", content_type="image/png"), 422, "invalid_image")
        assert_error(post_json(client, "/v1/align", {"image": b64(b"plain text")}), 422, "invalid_image")

    def test_422_pixel_limit(self, app_factory, t1_bytes):
        client = app_factory(limits__max_image_pixels=1000)
        assert_error(client.post("/v1/detect", data=t1_bytes, content_type="image/jpeg"), 422, "image_too_large")

    def test_404_405(self, client):
        assert_error(client.get("/nope"), 404, "not_found")
        resp = client.get("/v1/detect")
        assert_error(resp, 405, "method_not_allowed")
        assert "POST" in resp.headers["Allow"]

    def test_security_headers(self, client):
        resp = client.get("/health")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
