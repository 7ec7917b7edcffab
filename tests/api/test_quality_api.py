"""Face quality over HTTP: the quality block, min_quality, order with max_faces, and /v1/best, on real photos."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from hailo_scrfd.http.app import create_app

KEYS = {"pose", "sharpness", "sharpness_norm", "size", "brightness", "contrast", "score", "issues"}


def photo(shared, name):
    return (shared / "images" / name).read_bytes()


def post(client, path, data, query=""):
    return client.post(f"{path}{query}", data=data, content_type="image/jpeg" if data[:2] == b"\xff\xd8" else
                       "image/png")


def blurred_jpeg(shared, name, sigma):
    image = cv2.imdecode(np.frombuffer(photo(shared, name), np.uint8), cv2.IMREAD_COLOR)
    ok, buf = cv2.imencode(".jpg", cv2.GaussianBlur(image, (0, 0), sigma))
    return buf.tobytes()


def test_quality_block_only_when_asked(client, shared):
    plain = post(client, "/v1/detect", photo(shared, "t1.jpg")).get_json()
    assert all("quality" not in f for f in plain["faces"]) and "quality" not in plain["timings_ms"]
    assert "quality_inference" not in plain["timings_ms"]  # detection alone runs no refinement cells
    body = post(client, "/v1/detect", photo(shared, "t1.jpg"), "?quality=true").get_json()
    assert body["count"] == plain["count"] == 6 and "quality" in body["timings_ms"]
    assert 0 < body["timings_ms"]["quality_inference"] <= body["timings_ms"]["quality"]
    for face, same in zip(body["faces"], plain["faces"], strict=True):
        # quality decodes in full (crops need every pixel), detection alone may decode reduced: a fraction of a px
        assert set(face["quality"]) == KEYS and face["bbox"] == pytest.approx(same["bbox"], abs=0.5)
        assert 0 <= face["quality"]["score"] <= 1 and face["quality"]["size"]["short_side"] == pytest.approx(
            min(face["bbox"][2:]), abs=0.1)


def test_quality_enabled_by_config(model, shared):
    client = create_app(model.config.override(quality__enabled=True), model).test_client()
    faces = post(client, "/v1/detect", photo(shared, "newton.png")).get_json()["faces"]
    assert len(faces) == 1 and faces[0]["quality"]["issues"] == []
    off = post(client, "/v1/detect", photo(shared, "newton.png"), "?quality=false").get_json()["faces"]
    assert "quality" not in off[0]


def test_min_quality_drops_the_worse_faces(client, shared):
    everyone = post(client, "/v1/detect", photo(shared, "selfie.jpg"), "?quality=true").get_json()["faces"]
    scores = sorted(f["quality"]["score"] for f in everyone)
    k = next(i for i in range(len(scores) // 2, len(scores)) if scores[i] - scores[i - 1] >= 0.002)
    cut = (scores[k - 1] + scores[k]) / 2  # between two scores, clear of the response's 3-decimal rounding
    kept = post(client, "/v1/detect", photo(shared, "selfie.jpg"), f"?quality=1&min_quality={cut}").get_json()
    assert 0 < kept["count"] < len(everyone)
    assert all(f["quality"]["score"] >= cut for f in kept["faces"])
    assert kept["count"] == sum(s >= cut for s in scores)


@pytest.mark.parametrize("order", ["area", "score", "center", "quality"])
def test_order_decides_which_face_max_faces_keeps(client, shared, order):
    faces = post(client, "/v1/detect", photo(shared, "t1.jpg"), "?quality=true").get_json()["faces"]
    key = {"area": lambda f: -f["bbox"][2] * f["bbox"][3], "score": lambda f: -f["score"],
           "quality": lambda f: -f["quality"]["score"],
           "center": lambda f: np.hypot(f["bbox"][0] + f["bbox"][2] / 2 - 640, f["bbox"][1] + f["bbox"][3] / 2 - 443)}
    best = min(key[order](f) for f in faces)
    # quality scores come rounded to 3 decimals: faces tied there may be either side of the true order
    tied = [f for f in faces if key[order](f) <= best + (0.001 if order == "quality" else 0.0)]
    one = post(client, "/v1/detect", photo(shared, "t1.jpg"), f"?max_faces=1&order={order}").get_json()
    assert one["count"] == 1 and any(one["faces"][0]["bbox"] == pytest.approx(f["bbox"], abs=0.5) for f in tied)
    two = post(client, "/v1/detect", photo(shared, "t1.jpg"), f"?max_faces=2&order={order}").get_json()["faces"]
    assert [f["score"] for f in two] == sorted((f["score"] for f in two), reverse=True)  # listed by score


def test_best_returns_one_aligned_face_with_quality(client, shared):
    body = post(client, "/v1/best", photo(shared, "newton.png")).get_json()
    assert body["count"] == 1 and body["faces"][0]["quality"]["issues"] == []
    crop = Image.open(io.BytesIO(__import__("base64").b64decode(body["faces"][0]["aligned"]["image"])))
    assert crop.size == (112, 112)
    group = post(client, "/v1/best", photo(shared, "t1.jpg"), "?size=224&format=jpeg").get_json()
    everyone = post(client, "/v1/detect", photo(shared, "t1.jpg"), "?quality=true").get_json()["faces"]
    usable = [f for f in everyone if not f["quality"]["issues"]]
    top = max(f["quality"]["score"] for f in usable)  # rounded to 3 decimals: ties there may go either way
    assert group["faces"][0]["bbox"] in [f["bbox"] for f in usable if f["quality"]["score"] >= top - 0.001]
    assert group["faces"][0]["aligned"]["size"] == 224


def test_best_says_why_no_face_is_usable(client, shared):
    resp = post(client, "/v1/best", blurred_jpeg(shared, "newton.png", 6.0))
    body = resp.get_json()
    assert resp.status_code == 422 and body["error"]["code"] == "no_usable_face"
    assert body["error"]["details"]["faces"] and all("blurry" in f["issues"] for f in body["error"]["details"]["faces"])
    buf = io.BytesIO()
    Image.new("RGB", (200, 150), (90, 120, 150)).save(buf, "PNG")  # no face at all
    none = client.post("/v1/best", data=buf.getvalue(), content_type="image/png")
    assert none.status_code == 422 and none.get_json()["error"]["details"] == {"faces": []}


def test_quality_parameters_are_validated(client, shared):
    for query in ("?quality=maybe", "?min_quality=2", "?order=biggest"):
        resp = post(client, "/v1/detect", photo(shared, "t1.jpg"), query)
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_parameter"
    resp = client.post("/v1/detect", json={"image": "", "quality": "yes"})
    assert resp.status_code == 400
