"""GET /health?deep=1 on ONNX Runtime: the probe passes and reports engine time, checks a configured photo's
faces, caches its result, runs one probe at a time, and the output checks fail on each kind of garbage."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hailo_scrfd.errors import ConfigError
from hailo_scrfd.http.app import create_app
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.runtime.probe import infer_image
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.vision.sanity import check_outputs, synthetic_probe_image
from hailo_scrfd.vision.scrfd import StrideOutput

PROBE_FIELDS = {"ok", "image", "backend", "engine_ms", "total_ms", "sane", "problems", "max_score", "faces",
                "expected_faces", "cached", "age_s"}


def app_for(model: SCRFDModel, **health):
    config = model.config.override(**{f"health__{key}": value for key, value in health.items()})
    return create_app(config, model)


def probe_of(app):
    return app.extensions["hailo_scrfd"].probe


def test_plain_health_runs_no_probe_and_deep_passes_with_engine_time(model):
    app = app_for(model)
    client = app.test_client()
    for query in ("", "?deep=0", "?deep=false"):
        resp = client.get("/health" + query)
        assert resp.status_code == 200 and "probe" not in resp.get_json()
    assert probe_of(app).runs == 0
    resp = client.get("/health?deep=1")
    body = resp.get_json()
    probe = body["probe"]
    assert resp.status_code == 200 and body["status"] == "ok" and "reason" not in body
    assert set(probe) == PROBE_FIELDS
    assert probe["ok"] and probe["sane"] and probe["problems"] == [] and probe["image"] == "synthetic"
    assert probe["backend"] == body["model"]["backend"] and probe["backend"].startswith("onnxruntime")
    assert 0 < probe["engine_ms"] <= probe["total_ms"] < 3000
    assert 0 < probe["max_score"] < 1 and probe["faces"] >= 0 and probe["expected_faces"] is None
    assert client.get("/health?deep=true").get_json()["probe"]["ok"]


@pytest.mark.parametrize("value", ["", "2", "yes", "TRUE", "1.0", "deep"])
def test_other_deep_values_are_400(model, value):
    resp = app_for(model).test_client().get("/health", query_string={"deep": value})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_parameter"


def test_configured_photo_with_its_expected_faces(model, shared):
    photo = str(shared / "images" / "t1.jpg")  # 6 faces; read from ../shared at test time, never copied
    resp = app_for(model, probe_image=photo, probe_expected_faces=6).test_client().get("/health?deep=1")
    probe = resp.get_json()["probe"]
    assert resp.status_code == 200 and probe["ok"] and probe["image"] == "configured"
    assert probe["faces"] == probe["expected_faces"] == 6
    resp = app_for(model, probe_image=photo, probe_expected_faces=5).test_client().get("/health?deep=1")
    body = resp.get_json()
    assert resp.status_code == 503 and body["status"] == "ok" and not body["probe"]["ok"]
    assert body["probe"]["sane"] and body["probe"]["faces"] == 6
    assert body["reason"] == "deep health probe failed: found 6 faces on health.probe_image, expected 5"
    # Without an expected count the photo is only checked for sane outputs.
    resp = app_for(model, probe_image=photo).test_client().get("/health?deep=1")
    assert resp.status_code == 200 and resp.get_json()["probe"]["expected_faces"] is None


def test_expected_faces_without_a_probe_image_are_ignored(model, caplog):
    resp = app_for(model, probe_expected_faces=3).test_client().get("/health?deep=1")
    assert resp.status_code == 200 and resp.get_json()["probe"]["expected_faces"] is None
    assert "health.probe_expected_faces is ignored without health.probe_image" in caplog.text


def test_an_unusable_probe_image_stops_the_start_with_one_line(model, tmp_path):
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ConfigError, match=f"^health.probe_image {missing} cannot be read: No such file"):
        app_for(model, probe_image=str(missing))
    text = tmp_path / "probe.jpg"
    text.write_text("not an image")
    with pytest.raises(ConfigError, match=f"^health.probe_image {text} is not a usable image: "):
        app_for(model, probe_image=str(text))


def test_results_are_cached_for_probe_cache_s(model):
    app = app_for(model, probe_cache_s=4.0)  # the 20 polls below fit well inside it, even on a loaded machine
    client = app.test_client()
    first = client.get("/health?deep=1").get_json()["probe"]
    again = [client.get("/health?deep=1").get_json()["probe"] for _ in range(20)]
    assert probe_of(app).runs == 1 and not first["cached"]
    assert all(p["cached"] and p["total_ms"] == first["total_ms"] and 0 <= p["age_s"] < 4.0 for p in again)
    time.sleep(4.05)
    fresh = client.get("/health?deep=1").get_json()["probe"]
    assert probe_of(app).runs == 2 and not fresh["cached"] and fresh["ok"]


def test_concurrent_polls_run_one_probe(model):
    app = app_for(model, probe_cache_s=30)  # polls during the probe share it, later ones get its cached result
    barrier = threading.Barrier(8)
    answers: list = []

    def poll():
        client = app.test_client()
        barrier.wait()
        resp = client.get("/health?deep=1")
        answers.append((resp.status_code, resp.get_json()["probe"]))

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8 and all(code == 200 for code, _ in answers)
    assert probe_of(app).runs == 1, "polls that arrived while a probe ran must share it"
    assert sum(not p["cached"] for _, p in answers) >= 1
    assert len({p["total_ms"] for _, p in answers}) == 1


def test_a_model_that_is_not_loaded_is_not_probed(tmp_path):
    config = SCRFDServiceConfig().override(model__path=str(tmp_path / "none.onnx"))
    resp = create_app(config, SCRFDModel(config)).test_client().get("/health?deep=1")
    body = resp.get_json()
    assert resp.status_code == 503 and body["status"] == "loading" and not body["probe"]["ok"]
    assert body["probe"]["reason"] == "not run: the model is not ready (loading)"


# -- the output checks on real outputs, and on garbage made from them ------------------------------------------


@pytest.fixture(scope="module")
def real_outputs(model, load_image):
    """Raw outputs of the real model on the synthetic scene, a group photo, a crowd and a blank canvas."""
    images = [synthetic_probe_image(), load_image("t1.jpg"), load_image("selfie.jpg"),
              np.zeros((480, 640, 3), np.uint8)]
    return [infer_image(model, image)[0] for image in images]


def test_real_outputs_are_sane(real_outputs):
    for raw in real_outputs:
        sanity = check_outputs(raw.outputs, raw.input_hw)
        assert sanity.sane, sanity.problems
        assert 0 < sanity.max_score < 1


def replaced(raw, stride_index: int, **arrays) -> list[StrideOutput]:
    outputs = list(raw.outputs)
    old = outputs[stride_index]
    outputs[stride_index] = StrideOutput(old.stride, arrays.get("scores", old.scores), arrays.get("boxes", old.boxes),
                                         arrays.get("landmarks", old.landmarks), old.quant)
    return outputs


@pytest.mark.parametrize("fault, expected", [
    (lambda o: {"scores": np.zeros_like(o.scores)}, "stride 8 scores are all 0 (constant)"),
    (lambda o: {"boxes": np.full_like(o.boxes, 0.5)}, "stride 8 boxes are all 0.5 (constant)"),
    (lambda o: {"landmarks": np.where(np.arange(o.landmarks.size).reshape(o.landmarks.shape) % 7 == 0, np.nan,
                                      o.landmarks)}, "stride 8 landmarks are not finite"),
    (lambda o: {"scores": o.scores - 0.5}, "stride 8 scores leave [0, 1]"),
    (lambda o: {"boxes": o.boxes * 1000.0}, "stride 8 boxes reach"),
    (lambda o: {"scores": np.random.default_rng(1).random(o.scores.shape, dtype=np.float32)},
     "of the anchors score 0.5 or more (noise, not faces)"),
])
def test_garbage_outputs_are_not_sane(real_outputs, fault, expected):
    raw = real_outputs[1]
    sanity = check_outputs(replaced(raw, 0, **fault(raw.outputs[0])), raw.input_hw)
    assert not sanity.sane and any(expected in p for p in sanity.problems), sanity.problems


def test_deep_answers_match_the_openapi_document(model, shared, tmp_path):
    from ..ops.test_openapi import check

    client = app_for(model).test_client()
    check("/health", "get", client.get("/health?deep=1"))
    check("/health", "get", client.get("/health?deep=1"))  # cached
    check("/health", "get", client.get("/health?deep=maybe"))
    failing = app_for(model, probe_image=str(shared / "images" / "t1.jpg"), probe_expected_faces=1)
    check("/health", "get", failing.test_client().get("/health?deep=1"))
    config = SCRFDServiceConfig().override(model__path=str(tmp_path / "none.onnx"))
    check("/health", "get", create_app(config, SCRFDModel(config)).test_client().get("/health?deep=1"))
