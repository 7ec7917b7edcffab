"""One answer per photo on every endpoint, and the result cache that lets the seed's detect -> align workflow
run the engine once per photo: hits equal misses, scoped by API key, emptied when the engine changes."""

from __future__ import annotations

import base64

import pytest


PHOTOS = ["t1.jpg", "selfie.jpg", "s_l.jpg", "newton.png"]


def faces_only(body: dict) -> list[dict]:
    return [{k: v for k, v in face.items() if k != "aligned"} for face in body["faces"]]


def untimed(passes: list[dict]) -> list[dict]:
    return [{k: v for k, v in p.items() if k != "engine_ms"} for p in passes]


def without_timings(body: dict) -> dict:
    """A response less its timings (the passes' engine_ms among them)."""
    return {**{k: v for k, v in body.items() if k != "timings_ms"}, "passes": untimed(body["passes"])}


@pytest.fixture(scope="module")
def wider_photos(shared) -> list[bytes]:
    paths = sorted((shared / "widerface" / "WIDER_val" / "images").rglob("*.jpg"))
    return [p.read_bytes() for p in paths[::3][:40]]


def post(client, path: str, data: bytes, **query):
    mime = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
    resp = client.post(path, data=data, content_type=mime, query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp


def test_detect_and_align_find_the_same_faces_on_every_photo(app_factory, wider_photos, shared):
    """Without the cache: /v1/align finds faces on the decode /v1/detect uses, so the two agree exactly."""
    client = app_factory(cache__enabled=False)
    photos = wider_photos + [(shared / "images" / p).read_bytes() for p in PHOTOS]
    for data in photos:
        detected = post(client, "/v1/detect", data).get_json()
        aligned = post(client, "/v1/align", data).get_json()
        assert faces_only(aligned) == detected["faces"]
        assert untimed(aligned["passes"]) == untimed(detected["passes"])


def test_detect_then_align_runs_the_engine_once_and_a_hit_is_a_miss(app_factory, shared):
    cached, plain = app_factory(), app_factory(cache__enabled=False)
    cache = cached.application.extensions["hailo_scrfd"].pipeline.cache
    for name in PHOTOS:
        data = (shared / "images" / name).read_bytes()
        misses = cache.status()["misses"]
        first = post(cached, "/v1/detect", data)
        second = post(cached, "/v1/align", data)
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
        assert cache.status()["misses"] == misses + 1  # the engine ran for this photo once
        reference = post(plain, "/v1/align", data)
        assert without_timings(second.get_json()) == without_timings(reference.get_json())
        assert "cache" in second.get_json()["timings_ms"] and "cache" not in reference.get_json()["timings_ms"]
        again = post(cached, "/v1/align", data)  # the crops too are kept: served whole
        assert without_timings(again.get_json()) == without_timings(reference.get_json())
        assert post(cached, "/v1/draw", data).headers["X-Cache"] == "hit"


def test_options_that_change_the_faces_are_part_of_the_key(client, shared):
    data = (shared / "images" / "t1.jpg").read_bytes()
    post(client, "/v1/detect", data)
    assert post(client, "/v1/detect", data).headers["X-Cache"] == "hit"
    assert post(client, "/v1/detect", data, threshold=0.7).headers["X-Cache"] == "miss"
    assert post(client, "/v1/detect", data, quality="true").headers["X-Cache"] == "miss"
    assert post(client, "/v1/detect", data + b"\0").headers["X-Cache"] == "miss"  # other bytes, same picture


def test_batch_images_hit_and_fill_the_cache_one_by_one(app_factory, shared):
    client = app_factory()
    t1, s_l = ((shared / "images" / n).read_bytes() for n in ("t1.jpg", "s_l.jpg"))
    post(client, "/v1/detect", t1)
    resp = client.post("/v1/detect", json={"images": [base64.b64encode(d).decode() for d in (t1, s_l)]})
    assert resp.status_code == 200 and resp.headers["X-Cache"] == "partial"
    hits = ["cache" in r["timings_ms"] for r in resp.get_json()["results"]]
    assert hits == [True, False]
    assert post(client, "/v1/detect", s_l).headers["X-Cache"] == "hit"


def test_entries_are_scoped_to_the_api_key(app_factory, shared):
    client = app_factory(security__api_keys=("alice-key", "bob-key"))
    data = (shared / "images" / "t1.jpg").read_bytes()

    def as_(key):
        resp = client.post("/v1/detect", data=data, content_type="image/jpeg", headers={"X-API-Key": key})
        assert resp.status_code == 200
        return resp.headers["X-Cache"]

    assert [as_("alice-key"), as_("bob-key"), as_("alice-key"), as_("bob-key")] == ["miss", "miss", "hit", "hit"]


def test_a_recreated_engine_empties_the_cache(app_factory, model, shared, monkeypatch):
    client = app_factory()
    cache = client.application.extensions["hailo_scrfd"].pipeline.cache
    data = (shared / "images" / "s_l.jpg").read_bytes()
    post(client, "/v1/detect", data)
    assert post(client, "/v1/detect", data).headers["X-Cache"] == "hit"
    monkeypatch.setattr(model, "recoveries", model.recoveries + 1)  # as after a recovery
    assert post(client, "/v1/detect", data).headers["X-Cache"] == "miss" and cache.status()["entries"] == 1
    health = client.get("/health").get_json()["cache"]
    assert health["enabled"] and health["hits"] >= 1 and health["bytes"] > 0
